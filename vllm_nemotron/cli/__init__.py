"""`vllm-nemotron` command: demo, doctor, recipe, serve (one module each in this package).

Subcommands import their module only when chosen, so `--help` is instant. The console script
is `vllm_nemotron.cli:main`.
"""

from __future__ import annotations

import sys

COMMANDS = {
    "demo": ("vllm_nemotron.cli.demo:main",
             "build a tiny random Nemotron-H checkpoint, serve it with the plugin, query it"),
    "doctor": ("vllm_nemotron.cli.doctor:main",
               "check that every plugin piece loads; with a model: what serving it would do, "
               "and which of your flags vLLM rejects or work against the recipe"),
    "recipe": ("vllm_nemotron.cli.recipe:main",
               "print the `vllm serve` command for a Nemotron checkpoint"),
    "serve": ("vllm_nemotron.cli.serve:main",
              "serve a Nemotron checkpoint with its recipe (extra vLLM args override it)"),
}


def usage() -> str:
    lines = ["usage: vllm-nemotron <command> [args]", "", "commands:"]
    lines += [f"  {name:<8} {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "Run `vllm-nemotron <command> --help` for a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"vllm-nemotron: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    import importlib

    module, _, func = COMMANDS[name][0].partition(":")
    return int(getattr(importlib.import_module(module), func)(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
