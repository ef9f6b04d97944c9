"""Decode throughput of the thinking-budget processor vs none vs vLLM's native thinking_token_budget.

Starts three CPU servers on one tiny hybrid model (template opens <think>), one after another:
  plain   - no processor;
  plugin  - our processor via --logits-processors (0%, 50%, 100% of each batch budgeted);
  native  - --reasoning-parser deepseek_r1 and `thinking_token_budget` on the same requests.
Every request decodes exactly --tokens tokens (ignore_eos), so throughput = tokens / wall time.
Prints one table of ratios against `plain` at the same batch size.

    python benchmarks/bench_thinking_budget.py [--batches 1 32 128] [--tokens 64] [--budget 8]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from vllm_nemotron.local_server import OpenAIServer
from vllm_nemotron.tiny import build_nemotron_h

FQCN = "vllm_nemotron.thinking_budget:ThinkingBudgetLogitsProcessor"
REPO = Path(__file__).resolve().parents[1]
MESSAGES = [{"role": "user", "content": "Think about the weather."}]


async def run_batch(server, batch: int, tokens: int, budgeted: int, budget: int, native: bool):
    client = server.async_client()

    async def one(i):
        extra = {"ignore_eos": True}
        if i < budgeted:
            if native:
                extra["thinking_token_budget"] = budget
            else:
                extra["vllm_xargs"] = {"thinking_budget": budget, "thinking_budget_grace": 0}
        r = await client.chat.completions.create(
            model=server.model, messages=MESSAGES, max_tokens=tokens, temperature=1.0, seed=i,
            extra_body=extra)
        return r.usage.completion_tokens

    async with client:
        await one(batch)  # warm-up
        start = time.perf_counter()
        done = await asyncio.gather(*(one(i) for i in range(batch)))
        return sum(done) / (time.perf_counter() - start)


def measure(model, args, cases, flags):
    env = {"VLLM_CPU_KVCACHE_SPACE": "1",
           "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)}
    server_args = ["--dtype", "float32", "--max-model-len", "1024", "--disable-log-stats",
                   "--max-num-seqs", str(max(args.batches)), *flags]
    with OpenAIServer(model, server_args, env=env, cwd=REPO) as server:
        return {case: asyncio.run(run_batch(server, case[0], args.tokens, case[1], args.budget,
                                            native="--reasoning-parser" in flags))
                for case in cases}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 32, 128])
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--budget", type=int, default=8)
    args = parser.parse_args()

    model = build_nemotron_h(Path(tempfile.mkdtemp()) / "nemotron-h")
    shares = [0.0, 0.5, 1.0]
    plain = measure(model, args, [(b, 0) for b in args.batches], [])
    plugin = measure(model, args, [(b, int(b * s)) for b in args.batches for s in shares],
                     ["--logits-processors", FQCN])
    native = measure(model, args, [(b, int(b * s)) for b in args.batches for s in shares[1:]],
                     ["--reasoning-parser", "deepseek_r1"])

    print(f"\ndecode throughput, {args.tokens} tokens/request, budget {args.budget}; "
          "ratios vs plain server at the same batch")
    print(f"{'batch':>5} {'plain tok/s':>12} " + " ".join(
        f"{name:>14}" for name in ["plugin 0%", "plugin 50%", "plugin 100%",
                                   "native 50%", "native 100%", "plugin/native"]))
    for b in args.batches:
        base = plain[(b, 0)]
        cells = [plugin[(b, int(b * s))] / base for s in shares]
        cells += [native[(b, int(b * s))] / base for s in shares[1:]]
        cells.append(plugin[(b, b)] / native[(b, b)])
        print(f"{b:>5} {base:>12.1f} " + " ".join(f"{c:>14.3f}" for c in cells))


if __name__ == "__main__":
    main()
