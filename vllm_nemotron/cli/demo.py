"""`vllm-nemotron demo`: the whole plugin working on this machine, with no download.

It builds a tiny random Nemotron-H (hybrid Mamba2) checkpoint with the Nemotron-3-Nano chat
template, serves it with vLLM and every plugin piece active (our model class, parsers,
thinking budget), talks to it through the OpenAI SDK, and keeps the server up until Ctrl-C.
On any exit (Ctrl-C, SIGTERM, an error) it stops the server and removes the temporary folder
it made (a folder given with --dir is kept).
The model's weights are random, so its words are noise: the demo shows the plumbing.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

MODEL_NAME = "tiny-nemotron-h"
# The first request's limit, and what the default answer reserve keeps of it for the answer
# (`reserve.default_reserve`, at least 64 tokens: a smaller limit has its thought closed at once).
LIMIT = 96
LIMIT_RESERVE = 64
BUDGET = 8  # the streamed request's thinking budget, in tokens
GRACE = 16  # and its grace to finish the line (the plugin's default, sent explicitly)
STREAM_LIMIT = 48  # the streamed request's limit,
STREAM_RESERVE = 16  # of which it keeps this many for the answer (sent explicitly)


def server_args(model_dir: Path) -> list[str]:
    """The family recipe `vllm-nemotron serve` would use (parsers, template, Mamba cache), eager
    on a CPU."""
    import torch

    from vllm_nemotron.serving.recipes import make_recipe, merge_args

    recipe = make_recipe(str(model_dir))
    for reason in recipe.reasons:
        print(f"  recipe: {reason}")
    if torch.cuda.is_available():
        return merge_args(recipe.args, ["--dtype", "bfloat16"])
    # On a CPU, vLLM would compile the model with Inductor first: minutes on a laptop's cores
    # for a random model whose speed the demo does not show.
    return merge_args(recipe.args, ["--dtype", "float32", "--enforce-eager"])


def run_client(base_url: str) -> None:
    import openai
    from openai.types.chat import ChatCompletionMessageParam

    client = openai.OpenAI(base_url=base_url, api_key="EMPTY", max_retries=0)
    messages: list[ChatCompletionMessageParam] = [
        {"role": "user", "content": "Hello! What is the capital of France?"}]

    print(f"\n--- chat completion: max_tokens {LIMIT}, of which the answer reserve keeps "
          f"{LIMIT_RESERVE} for the answer (the default) ---")
    reply = client.chat.completions.create(model=MODEL_NAME, messages=messages, max_tokens=LIMIT,
                                           temperature=0.8, seed=0)
    message = reply.choices[0].message
    print(f"reasoning: {getattr(message, 'reasoning', None)!r}")
    print(f"content:   {message.content!r}")
    if reply.usage is not None:
        print(f"usage:     {reply.usage.prompt_tokens} prompt + "
              f"{reply.usage.completion_tokens} completion tokens")

    print(f"\n--- streamed chat completion: thinking budget {BUDGET} tokens, then up to {GRACE} "
          "grace tokens to finish the line, then the end of thinking is forced; max_tokens "
          f"{STREAM_LIMIT}, answer reserve {STREAM_RESERVE} ---")
    stream = client.chat.completions.create(
        model=MODEL_NAME, messages=messages, max_tokens=STREAM_LIMIT, temperature=0.8, seed=1,
        stream=True, stream_options={"include_usage": True},
        extra_body={"vllm_xargs": {"thinking_budget": BUDGET, "thinking_budget_grace": GRACE,
                                   "answer_reserve": STREAM_RESERVE}})
    deltas = {"reasoning": 0, "content": 0}
    usage = None
    for chunk in stream:
        usage = chunk.usage or usage
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        for field in deltas:
            text = getattr(delta, field, None)
            if text:
                deltas[field] += 1
                print(f"  {field:<9} {text!r}")
    print(f"({deltas['reasoning']} reasoning and {deltas['content']} content deltas; "
          "a delta may hold more than one token)")
    details = usage.completion_tokens_details if usage is not None else None
    thought = details.reasoning_tokens if details is not None else None
    if usage is not None and thought is not None:
        print(f"counted by the server: {thought} reasoning tokens of {usage.completion_tokens} "
              f"completion tokens (at most {BUDGET} budget + {GRACE} grace, and the forced "
              "line break before </think>)")


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
    previous = signal.getsignal(signal.SIGINT), signal.signal(signal.SIGTERM, _interrupt)
    made_workdir = args.dir is None
    workdir = Path(tempfile.mkdtemp(prefix="vllm-nemotron-demo-")) if made_workdir else args.dir
    server: OpenAIServer | None = None
    try:
        print(f"Building a tiny random Nemotron-H checkpoint in {workdir} ...")
        model_dir = build_nemotron_h(workdir / MODEL_NAME)
        server = OpenAIServer(model_dir, server_args(model_dir), timeout=args.timeout,
                              served_model_name=MODEL_NAME, log_dir=workdir)
        print(f"Starting vLLM: {' '.join(server.command())}")
        print(f"(server log: {server.log_path})", flush=True)
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
            print("Press Ctrl-C to stop.", flush=True)
            while server.proc is not None and server.proc.poll() is None:
                time.sleep(1)
            print(f"The server exited unexpectedly; log:\n{server.log_tail()}", file=sys.stderr)
            return 1
    except ServerStartError as exc:
        print(f"vLLM did not start:\n{exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nInterrupted.")
        return 0
    finally:
        # Cleaning up is not itself interrupted by a second Ctrl-C or SIGTERM.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if server is not None and server.proc is not None:
            server.stop()
            print("Stopped the server.")
        if made_workdir:
            shutil.rmtree(workdir, ignore_errors=True)
            print(f"Could not remove {workdir}." if workdir.exists() else f"Removed {workdir}.")
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
