import sys

from vllm_nemotron.cli import main

sys.exit(main())
