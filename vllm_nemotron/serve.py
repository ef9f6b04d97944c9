"""`vllm-nemotron recipe <model>` and `vllm-nemotron serve <model> [vLLM args]`.

`recipe` prints the exact `vllm serve` command a family needs; `serve` runs it. The server is
started as `python -m vllm.entrypoints.openai.api_server`, because the `vllm` console script
does not work under the CPU build's distribution name; the arguments are the same.
Extra vLLM arguments given after the model override the recipe's.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import subprocess
import sys

from .local_server import server_command
from .recipes import Recipe, UnknownModelError, make_recipe, merge_args, supported_text

EXIT_UNKNOWN_MODEL = 2


def _parser(prog: str, what: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"vllm-nemotron {prog}", description=what,
        epilog="Any other arguments are passed to vLLM and override the recipe's.\n\n"
        + supported_text(), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="local checkpoint directory or hub name")
    parser.add_argument("--family", help="use this family's recipe instead of detecting it")
    return parser


def _resolve(prog: str, what: str, argv: list[str]) -> tuple[Recipe, list[str]] | int:
    try:
        args, extra = _parser(prog, what).parse_known_args(argv)
    except SystemExit as exc:  # argparse already printed the usage or help
        return int(exc.code or 0)
    try:
        recipe = make_recipe(args.model, family=args.family)
    except UnknownModelError as exc:
        print(f"vllm-nemotron: {exc}", file=sys.stderr)
        return EXIT_UNKNOWN_MODEL
    return recipe, merge_args(recipe.args, extra)


def _explain(recipe: Recipe, args: list[str], out) -> None:
    print(f"# {recipe.model}: {recipe.family.name}", file=out)
    for reason in recipe.reasons:
        print(f"#   {reason}", file=out)
    if args != recipe.args:
        print("#   your arguments override or extend the recipe's", file=out)


def recipe_main(argv: list[str]) -> int:
    """Print the `vllm serve` command for a model, with why each flag is there."""
    resolved = _resolve("recipe", "Print the vllm serve command for a Nemotron model.", argv)
    if isinstance(resolved, int):
        return resolved
    recipe, args = resolved
    _explain(recipe, args, sys.stdout)
    print(shlex.join(["vllm", "serve", recipe.model, *args]))
    return 0


def serve_main(argv: list[str]) -> int:
    """Run the OpenAI-compatible vLLM server for a model with its family's recipe."""
    resolved = _resolve("serve", "Serve a Nemotron model with the right vLLM settings.", argv)
    if isinstance(resolved, int):
        return resolved
    recipe, args = resolved
    _explain(recipe, args, sys.stderr)
    command = server_command(recipe.model, args)
    print(f"# running: {shlex.join(command)}", file=sys.stderr, flush=True)
    child = subprocess.Popen(command)

    def forward(signum, _frame):
        child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

