#!/usr/bin/env bash
# Smoke-test any running vllm-nemotron deployment: health, chat, tool call, reasoning split,
# thinking budget. Needs python3 with the `openai` package (pip install openai).
#
#   deploy/smoke.sh http://localhost:8000 --api-key "$VLLM_API_KEY"
#   kubectl -n nemotron port-forward svc/nano-9b-v2-vllm-nemotron 8000:8000 &
#   deploy/smoke.sh http://localhost:8000 --only chat reasoning
set -euo pipefail
if [ $# -lt 1 ] || [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
    exec python3 "$(dirname "$0")/smoke.py" --help
fi
if ! python3 -c "import openai" 2>/dev/null; then
    echo "smoke.sh: python3 cannot import openai; run: python3 -m pip install openai" >&2
    exit 2
fi
exec python3 "$(dirname "$0")/smoke.py" "$@"
