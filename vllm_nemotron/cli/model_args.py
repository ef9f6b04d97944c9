"""The options `recipe`, `serve` and `doctor <model>` share, and turning them into a recipe.

Ours are the model, the family, the target (--gpus/--gpu-memory-gib/--nodes), the chat
template choice and the opt-in features (--mtp, --expert-parallel); every other argument goes
to vLLM and overrides the recipe's. Usage errors, unknown models and models that do not fit
end with an exit status and a message, never a traceback.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable
from typing import TextIO

from vllm_nemotron.serving.planning import DoesNotFitError, Target
from vllm_nemotron.serving.recipes import (
    Recipe,
    RecipeOptionError,
    UnknownModelError,
    make_recipe,
    merge_args,
    supported_text,
)
from vllm_nemotron.serving.template_choice import TemplateError

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
    out.add_argument("--mtp", type=int, nargs="?", const=0, metavar="N",
                     help="MTP speculative decoding: the checkpoint's MTP layer drafts N tokens "
                          "a step (default: as many as the family's guides)")
    out.add_argument("--expert-parallel", action="store_true",
                     help="spread each MoE layer's experts over the GPUs "
                          "(--enable-expert-parallel) instead of slicing every expert")
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
    if args.mtp is not None and args.mtp < 0:
        print("vllm-nemotron: --mtp takes a number of tokens >= 1", file=sys.stderr)
        return EXIT_UNKNOWN_MODEL
    try:
        recipe = make_recipe(args.model, family=args.family,
                             target=target_from(args, for_this_machine),
                             template_from_plugin=args.chat_template_from_plugin,
                             mtp=args.mtp, expert_parallel=args.expert_parallel)
    except (UnknownModelError, TemplateError, RecipeOptionError) as exc:
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
