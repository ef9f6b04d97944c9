"""`vllm-nemotron demo`: the whole plugin working on this machine, with no download.

It builds a tiny random Nemotron-H (hybrid Mamba2) checkpoint with the Nemotron-3-Nano chat
template, serves it with vLLM and every plugin piece active (our model class, parsers,
thinking budget), talks to it through the OpenAI SDK, and keeps the server up until Ctrl-C.
The model's weights are random, so its words are noise: the demo shows the plumbing.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import time
from pathlib import Path

MODEL_NAME = "tiny-nemotron-h"


def server_args(model_dir: Path) -> list[str]:
    """The family recipe `vllm-nemotron serve` would use (parsers, template, Mamba cache)."""
    import torch

    from vllm_nemotron.serving.recipes import make_recipe, merge_args

    recipe = make_recipe(str(model_dir))
    for reason in recipe.reasons:
        print(f"  recipe: {reason}")
    dtype = "bfloat16" if torch.cuda.is_available() else "float32"
    return merge_args(recipe.args, ["--dtype", dtype])


def run_client(base_url: str) -> None:
    import openai
    from openai.types.chat import ChatCompletionMessageParam

    client = openai.OpenAI(base_url=base_url, api_key="EMPTY", max_retries=0)
    messages: list[ChatCompletionMessageParam] = [
        {"role": "user", "content": "Hello! What is the capital of France?"}]

    print("\n--- chat completion ---")
    reply = client.chat.completions.create(model=MODEL_NAME, messages=messages, max_tokens=24,
                                           temperature=0.8, seed=0)
    message = reply.choices[0].message
    print(f"reasoning: {getattr(message, 'reasoning', None)!r}")
    print(f"content:   {message.content!r}")
    if reply.usage is not None:
        print(f"usage:     {reply.usage.prompt_tokens} prompt + "
              f"{reply.usage.completion_tokens} completion tokens")

    print("\n--- streamed chat completion (thinking budget 8 tokens) ---")
    stream = client.chat.completions.create(
        model=MODEL_NAME, messages=messages, max_tokens=32, temperature=0.8, seed=1, stream=True,
        extra_body={"vllm_xargs": {"thinking_budget": 8}})
    chunks = 0
    for chunk in stream:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        for field in ("reasoning", "content"):
            text = getattr(delta, field, None)
            if text:
                chunks += 1
                print(f"  {field:<9} {text!r}")
    print(f"({chunks} streamed deltas)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vllm-nemotron demo", description=__doc__)
    parser.add_argument("--dir", type=Path, default=None,
                        help="where to write the tiny checkpoint (default: a temporary folder)")
    parser.add_argument("--no-wait", action="store_true",
                        help="stop the server after the client run instead of waiting for Ctrl-C")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the server")
    args = parser.parse_args(argv)

    from vllm_nemotron.serving.local_server import OpenAIServer, ServerStartError
    from vllm_nemotron.tiny import build_nemotron_h

    # SIGTERM (e.g. from a container runtime) stops the demo like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    workdir = args.dir or Path(tempfile.mkdtemp(prefix="vllm-nemotron-demo-"))
    print(f"Building a tiny random Nemotron-H checkpoint in {workdir} ...")
    model_dir = build_nemotron_h(workdir / MODEL_NAME)
    server = OpenAIServer(model_dir, server_args(model_dir), timeout=args.timeout,
                          served_model_name=MODEL_NAME)
    print(f"Starting vLLM: {' '.join(server.command())}")
    print(f"(server log: {server.log_path})")
    try:
        with server:
            print(f"Server ready at {server.base_url}")
            run_client(server.base_url)
            body = json.dumps({"model": MODEL_NAME, "max_tokens": 16,
                               "messages": [{"role": "user", "content": "Hi"}]})
            print(f"\nThe server is running at {server.base_url} (model {MODEL_NAME!r}). Try:\n"
                  f"  curl {server.base_url}/chat/completions "
                  f"-H 'Content-Type: application/json' -d '{body}'")
            if args.no_wait:
                return 0
            print("Press Ctrl-C to stop.")
            while server.proc is not None and server.proc.poll() is None:
                time.sleep(1)
            print(f"The server exited unexpectedly; log:\n{server.log_tail()}", file=sys.stderr)
            return 1
    except ServerStartError as exc:
        print(f"vLLM did not start:\n{exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopped the server. Bye.")
        return 0


if __name__ == "__main__":
    sys.exit(main())
