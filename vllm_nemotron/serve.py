"""`vllm-nemotron recipe <model>` and `vllm-nemotron serve <model> [vLLM args]`.

`recipe` prints the exact `vllm serve` command a family needs on a target (the GPUs named
with --gpus/--gpu-memory-gib/--nodes, else this machine's CUDA GPUs, else the cards' reference
80 GB GPUs); `serve` runs it on this machine. The server is started as
`python -m vllm.entrypoints.openai.api_server`, because the `vllm` console script does not
work under the CPU build's distribution name; the arguments are the same. Extra vLLM
arguments given after the model override the recipe's.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable
from typing import TextIO

from .local_server import server_command
from .planning import DoesNotFitError, Target
from .recipes import Recipe, UnknownModelError, make_recipe, merge_args, supported_text
from .template_choice import TemplateError

EXIT_UNKNOWN_MODEL = 2
EXIT_DOES_NOT_FIT = 3


def parser(prog: str, what: str) -> argparse.ArgumentParser:
    """The options shared by recipe, serve and doctor <model>; the rest goes to vLLM."""
    out = argparse.ArgumentParser(
        prog=f"vllm-nemotron {prog}", description=what,
        epilog="Any other arguments are passed to vLLM and override the recipe's.\n\n"
        + supported_text(), formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False)  # a vLLM flag must never be taken for an abbreviation of ours
    out.add_argument("model", help="local checkpoint directory or hub name")
    out.add_argument("--family", help="use this family's recipe instead of detecting it")
    out.add_argument("--gpus", type=int, metavar="N",
                     help="plan for N GPUs per node (default: this machine's CUDA GPUs, else "
                          "as many 80 GiB GPUs as the model needs)")
    out.add_argument("--gpu-memory-gib", type=float, metavar="M",
                     help="memory of each target GPU in GiB (default: this machine's, else 80)")
    out.add_argument("--nodes", type=int, default=1, metavar="K",
                     help="plan for K nodes: tensor parallel inside a node, one pipeline stage "
                          "per node (default 1)")
    out.add_argument("--chat-template-from-plugin", action="store_true",
                     help="serve with vllm-nemotron's template for the family instead of the "
                          "checkpoint's own")
    return out


def target_from(args: argparse.Namespace, for_this_machine: bool) -> Target:
    """The target the options name; else this machine (serve) or a planning default (recipe)."""
    if args.gpus is not None or args.gpu_memory_gib is not None or args.nodes > 1:
        return Target.given(args.gpus, args.gpu_memory_gib, args.nodes)
    here = Target.present()
    if here is not None:
        return here
    return Target.cpu_build() if for_this_machine else Target.reference()


def with_recipe(prog: str, what: str, argv: list[str], for_this_machine: bool,
                then: Callable[[Recipe, list[str], list[str]], int]) -> int:
    """Parse the command line, make the recipe and call `then(recipe, merged vLLM args, the
    user's own vLLM args)`; on a usage error, an unknown model or a model that does not fit,
    print why and return the exit status instead."""
    try:
        args, extra = parser(prog, what).parse_known_args(argv)
    except SystemExit as exc:  # argparse already printed the usage or help
        return int(exc.code or 0)
    try:
        recipe = make_recipe(args.model, family=args.family,
                             target=target_from(args, for_this_machine),
                             template_from_plugin=args.chat_template_from_plugin)
    except (UnknownModelError, TemplateError) as exc:
        print(f"vllm-nemotron: {exc}", file=sys.stderr)
        return EXIT_UNKNOWN_MODEL
    except DoesNotFitError as exc:
        print(f"vllm-nemotron: {args.model} {exc}", file=sys.stderr)
        return EXIT_DOES_NOT_FIT
    return then(recipe, merge_args(recipe.args, extra), extra)


def explain(recipe: Recipe, extra: list[str], out: TextIO) -> None:
    print(f"# {recipe.model}: {recipe.family.name}", file=out)
    for reason in recipe.reasons:
        print(f"#   {reason}", file=out)
    if extra:
        print(f"#   your arguments override or extend the recipe's: {shlex.join(extra)}", file=out)


def recipe_main(argv: list[str]) -> int:
    """Print the `vllm serve` command for a model, with why each flag is there."""
    def show(recipe: Recipe, args: list[str], extra: list[str]) -> int:
        explain(recipe, extra, sys.stdout)
        print(shlex.join(["vllm", "serve", recipe.model, *args]))
        return 0

    return with_recipe("recipe", "Print the vllm serve command for a Nemotron model.", argv,
                       False, show)


def serve_main(argv: list[str]) -> int:
    """Run the OpenAI-compatible vLLM server for a model with its family's recipe."""
    return with_recipe("serve", "Serve a Nemotron model with the right vLLM settings.", argv,
                       True, _run_server)


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
