"""Decode throughput of the thinking-budget processor vs none vs vLLM's native budget
(`thinking_token_budget`).

One tiny hybrid model whose template opens <think>, served by offline `LLM` engines, each in its
own process, on the same batches:
  none       - the processor not installed (benchmarks/without_budget_processor hides its
               entry point), the baseline;
  installed  - the plugin as installed, nothing named: 0%, 50%, 100% of each batch budgeted;
  named      - also named in `logits_processors` (as --logits-processors would): 100%;
  native     - reasoning parser deepseek_r1 and vLLM's `thinking_token_budget`: 50%, 100%.
Every request decodes exactly --tokens tokens (ignore_eos), so throughput = tokens / wall time.
A whole batch goes to the engine at once, so on a small machine the figures measure the engine,
not how fast an API server feeds it. Engines start --rounds times in rotating order, and each
cell keeps its best timed run over all rounds, so a drift of the machine hits every engine alike.

    python benchmarks/bench_thinking_budget.py [--batches 1 32 128] [--tokens 64] [--budget 8]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from engine_process import child_env, report, run_child

FQCN = "vllm_nemotron.thinking_budget:ThinkingBudgetLogitsProcessor"
HIDE_PROCESSOR = Path(__file__).resolve().parent / "without_budget_processor"
MESSAGES = [{"role": "user", "content": "Think about the weather."}]

# engine -> (budgeted shares it serves, extra LLM arguments, paths put first on PYTHONPATH)
ENGINES = {
    "none": ([0.0], {}, [HIDE_PROCESSOR]),
    "installed": ([0.0, 0.5, 1.0], {}, []),
    "named": ([1.0], {"logits_processors": [FQCN]}, []),
    "native": ([0.5, 1.0], {"reasoning_parser": "deepseek_r1"}, []),
}
COLUMNS = [("installed", 0.0), ("installed", 0.5), ("installed", 1.0), ("named", 1.0),
           ("native", 0.5), ("native", 1.0)]


def child(name: str, model_dir: str, batches: list[int], tokens: int, budget: int) -> None:
    """Time one engine on every (batch, share) it serves; print a JSON line of tokens/s."""
    from transformers import AutoTokenizer
    from vllm import LLM, SamplingParams

    shares, llm_args, _ = ENGINES[name]
    llm = LLM(model_dir, dtype="float32", max_model_len=1024, max_num_seqs=max(batches),
              enforce_eager=True, enable_prefix_caching=False, **llm_args)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    prompt = tokenizer.encode(tokenizer.apply_chat_template(
        MESSAGES, add_generation_prompt=True, tokenize=False), add_special_tokens=False)
    close_id = tokenizer.convert_tokens_to_ids("</think>")
    greedy = dict(temperature=0, max_tokens=tokens, ignore_eos=True)
    plain = SamplingParams(**greedy)
    if name == "native":
        budgeted = SamplingParams(**greedy, thinking_token_budget=budget)
    else:
        budgeted = SamplingParams(**greedy, extra_args={"thinking_budget": budget,
                                                        "thinking_budget_grace": 0})

    def rate(batch: int, share: float) -> float:
        prompts = [{"prompt_token_ids": prompt}] * batch
        params = [budgeted if i < int(batch * share) else plain for i in range(batch)]
        llm.generate(prompts, params, use_tqdm=False)  # warm-up
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            done = llm.generate(prompts, params, use_tqdm=False)
            best = min(best, time.perf_counter() - start)
        assert all(len(out.outputs[0].token_ids) == tokens for out in done)
        for out, p in zip(done, params):  # the budget really was enforced
            assert (p is budgeted) <= (close_id in out.outputs[0].token_ids[:budget + 4]), name
        return batch * tokens / best

    report({f"{b} {s}": rate(b, s) for b in batches for s in shares})


def measure(name: str, model_dir: Path, args) -> dict[tuple[int, float], float]:
    command = [sys.executable, __file__, "--child", name, str(model_dir),
               "--batches", *map(str, args.batches), "--tokens", str(args.tokens),
               "--budget", str(args.budget)]
    result = run_child(command, child_env(*ENGINES[name][2]), f"engine {name}")
    return {(int(b), float(s)): r for key, r in result.items() for b, s in [key.split()]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 32, 128])
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--budget", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2,
                        help="starts per engine, in rotating order; each cell keeps its best")
    parser.add_argument("--child", nargs=2, metavar=("ENGINE", "MODEL_DIR"))
    args = parser.parse_args()
    if args.child:
        child(*args.child, args.batches, args.tokens, args.budget)
        return

    from vllm_nemotron.tiny import build_nemotron_h

    names = list(ENGINES)
    best: dict[str, dict[tuple[int, float], float]] = {name: {} for name in names}
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_nemotron_h(Path(tmp) / "nemotron-h")
        for r in range(args.rounds):
            for name in names[r % len(names):] + names[:r % len(names)]:
                for cell, rate in measure(name, model_dir, args).items():
                    best[name][cell] = max(rate, best[name].get(cell, 0.0))

    print(f"\ndecode throughput, {args.tokens} tokens/request, budget {args.budget}, grace 0, "
          f"best over {args.rounds} rounds; ratios vs the engine without the processor")
    headers = [f"{name} {int(share * 100)}%" for name, share in COLUMNS] + ["installed/native"]
    print(f"{'batch':>5} {'none tok/s':>11} " + " ".join(f"{h:>14}" for h in headers))
    for b in args.batches:
        base = best["none"][(b, 0.0)]
        cells = [best[name][(b, share)] / base for name, share in COLUMNS]
        cells.append(best["installed"][(b, 1.0)] / best["native"][(b, 1.0)])
        print(f"{b:>5} {base:>11.1f} " + " ".join(f"{c:>14.3f}" for c in cells))


if __name__ == "__main__":
    main()
