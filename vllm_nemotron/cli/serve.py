"""`vllm-nemotron serve <model> [vLLM args]`: the family's recipe, run on this machine.

The server is started as `python -m vllm.entrypoints.openai.api_server`, because the `vllm`
console script does not work under the CPU build's distribution name; the arguments are the
same. Extra vLLM arguments given after the model override the recipe's.
"""

from __future__ import annotations

import shlex
import signal
import subprocess
import sys

from vllm_nemotron.cli.model_args import explain, with_recipe
from vllm_nemotron.serving.local_server import server_command
from vllm_nemotron.serving.recipes import Recipe


def main(argv: list[str] | None = None) -> int:
    """Run the OpenAI-compatible vLLM server for a model with its family's recipe."""
    return with_recipe("serve", "Serve a Nemotron model with the right vLLM settings.",
                       sys.argv[1:] if argv is None else argv, True, _run_server)


def _run_server(recipe: Recipe, args: list[str], extra: list[str]) -> int:
    explain(recipe, extra, sys.stderr)
    command = server_command(recipe.model, args)
    print(f"# running: {shlex.join(command)}", file=sys.stderr, flush=True)
    child = subprocess.Popen(command)

    def forward(signum: int, _frame: object) -> None:
        child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
