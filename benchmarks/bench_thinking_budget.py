"""Decode throughput of the thinking-budget processor vs none vs vLLM's native thinking_token_budget.

CPU servers on one tiny hybrid model (template opens <think>), each serving the same requests:
  none       - the processor not installed (benchmarks/without_budget_processor hides its
               entry point), the baseline;
  installed  - the plugin as installed, no flags: 0%, 50%, 100% of each batch budgeted;
  named      - also named with --logits-processors (exact under async scheduling): 100%;
  native     - --reasoning-parser deepseek_r1 and vLLM's `thinking_token_budget`: 50%, 100%.
Every request decodes exactly --tokens tokens (ignore_eos), so throughput = tokens / wall time.
Servers start --rounds times in rotating order and each cell keeps its best round, so a drift
of the machine hits every server alike. Prints one table of ratios against `none`.

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
HIDE_PROCESSOR = Path(__file__).resolve().parent / "without_budget_processor"
MESSAGES = [{"role": "user", "content": "Think about the weather."}]

# server -> (budgeted shares it serves, extra server flags, paths put first on PYTHONPATH)
SERVERS = {
    "none": ([0.0], [], [HIDE_PROCESSOR]),
    "installed": ([0.0, 0.5, 1.0], [], []),
    "named": ([1.0], ["--logits-processors", FQCN], []),
    "native": ([0.5, 1.0], ["--reasoning-parser", "deepseek_r1"], []),
}
COLUMNS = [("installed", 0.0), ("installed", 0.5), ("installed", 1.0), ("named", 1.0),
           ("native", 0.5), ("native", 1.0)]


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


def measure(model, args, name) -> dict[tuple[int, float], float]:
    """tokens/s of one server start, per (batch, budgeted share)."""
    shares, flags, paths = SERVERS[name]
    pythonpath = [*map(str, paths), str(REPO), os.environ.get("PYTHONPATH")]
    env = {"VLLM_CPU_KVCACHE_SPACE": "1", "PYTHONPATH": os.pathsep.join(p for p in pythonpath if p)}
    server_args = ["--dtype", "float32", "--max-model-len", "1024", "--disable-log-stats",
                   "--max-num-seqs", str(max(args.batches)), *flags]
    with OpenAIServer(model, server_args, env=env, cwd=REPO) as server:
        return {(b, s): asyncio.run(run_batch(server, b, args.tokens, int(b * s), args.budget,
                                              native=name == "native"))
                for b in args.batches for s in shares}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 32, 128])
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--budget", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2,
                        help="starts per server, in rotating order; each cell keeps its best")
    args = parser.parse_args()

    model = build_nemotron_h(Path(tempfile.mkdtemp()) / "nemotron-h")
    names = list(SERVERS)
    best: dict[str, dict[tuple[int, float], float]] = {name: {} for name in names}
    for r in range(args.rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            for cell, rate in measure(model, args, name).items():
                best[name][cell] = max(rate, best[name].get(cell, 0.0))

    print(f"\ndecode throughput, {args.tokens} tokens/request, budget {args.budget}, grace 0, "
          f"best of {args.rounds} rounds; ratios vs the server without the processor")
    headers = [f"{name} {int(share * 100)}%" for name, share in COLUMNS] + ["installed/native"]
    print(f"{'batch':>5} {'none tok/s':>11} " + " ".join(f"{h:>14}" for h in headers))
    for b in args.batches:
        base = best["none"][(b, 0.0)]
        cells = [best[name][(b, share)] / base for name, share in COLUMNS]
        cells.append(best["installed"][(b, 1.0)] / best["native"][(b, 1.0)])
        print(f"{b:>5} {base:>11.1f} " + " ".join(f"{c:>14.3f}" for c in cells))


if __name__ == "__main__":
    main()
