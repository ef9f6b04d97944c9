"""`vllm-nemotron recipe <model>`: the exact `vllm serve` command a family needs on a target.

The target is the GPUs named with --gpus/--gpu-memory-gib/--nodes, else this machine's CUDA
GPUs, else the cards' reference 80 GiB GPUs; every flag comes with why, as shell comments.
"""

from __future__ import annotations

import shlex
import sys

from vllm_nemotron.cli.model_args import explain, with_recipe
from vllm_nemotron.serving.recipes import Recipe


def main(argv: list[str] | None = None) -> int:
    """Print the `vllm serve` command for a model, with why each flag is there."""
    def show(recipe: Recipe, args: list[str], extra: list[str]) -> int:
        explain(recipe, extra, sys.stdout)
        print(shlex.join(["vllm", "serve", recipe.model, *args]))
        return 0

    return with_recipe("recipe", "Print the vllm serve command for a Nemotron model.",
                       sys.argv[1:] if argv is None else argv, False, show)
