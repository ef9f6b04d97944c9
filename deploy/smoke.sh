#!/usr/bin/env bash
# Smoke-test any running vllm-nemotron deployment: health, chat, tool call, reasoning split,
# thinking budget. Needs python3 with the `openai` package (pip install openai); set PYTHON to
# use another interpreter (e.g. a virtual environment's).
#
#   deploy/smoke.sh http://localhost:8000 --api-key "$VLLM_API_KEY"
#   kubectl -n nemotron port-forward svc/nano-9b-v2-vllm-nemotron 8000:8000 &
#   deploy/smoke.sh http://localhost:8000 --only chat reasoning
set -euo pipefail
python="${PYTHON:-python3}"
if [ $# -lt 1 ] || [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
    exec "$python" "$(dirname "$0")/smoke.py" --help
fi
if ! "$python" -c "import openai" 2>/dev/null; then
    echo "smoke.sh: $python cannot import openai; run: $python -m pip install openai" >&2
    exit 2
fi
exec "$python" "$(dirname "$0")/smoke.py" "$@"
