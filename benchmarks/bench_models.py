"""Tokens/s of the plugin's model classes vs in-tree vLLM's, side by side, in one run.

Configurations both can load: a uniform-block DeciLM (in-tree cannot load linear or
non-silu blocks) and a Nemotron-H with relu2 and untied embeddings (what in-tree assumes).
Prefill: B prompts of 128 tokens, one output token each. Decode: B prompts of 16 tokens,
64 output tokens each; best of three timed runs after a warm-up. Each (implementation, model)
runs in its own process (in-process engine, float32, eager, no general plugins loaded, so the
in-tree row really is in-tree), `--rounds` times in alternating order (in-tree first, then
plugin first, ...), and the best of all rounds is reported, so that a drift of the machine's
speed during the run hits both alike. (Two engines in one process are no fairer: on the CPU
build some phases of both ran several times slower than alone.)

    python benchmarks/bench_models.py [--hidden 256] [--layers 6] [--rounds 2]
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

from engine_process import REPO, child_env, report, run_child

OURS = {
    "DeciLMForCausalLM": "vllm_nemotron.models.decilm:DeciLMForCausalLM",
    "NemotronHForCausalLM": "vllm_nemotron.models.nemotron_h:NemotronHForCausalLM",
}
BATCHES = (1, 32)


def build_models(root: Path, hidden: int, layers: int) -> dict[str, Path]:
    sys.path.insert(0, str(REPO))
    from tests.harness import decilm
    from vllm_nemotron.tiny import build_nemotron_h

    decilm.HIDDEN, decilm.HEAD_DIM = hidden, hidden // decilm.HEADS
    blocks = [{"attention": decilm.full_attention(2),
               "ffn": decilm.full_ffn(ffn_mult=2.0, hidden_act="silu")} for _ in range(layers)]
    return {
        "DeciLM uniform": decilm.build_decilm(root / "decilm", blocks, hidden_size=hidden),
        "Nemotron-H": build_nemotron_h(root / "nemotron_h", pattern=("M*-" * layers)[:layers],
                                       hidden_size=hidden, template=None),
    }


def child(impl: str, model_dir: str) -> None:
    """Time one implementation on one checkpoint; print a JSON line of tokens/s."""
    from vllm import LLM, ModelRegistry, SamplingParams

    from vllm_nemotron.configs import register_configs

    register_configs()
    if impl == "plugin":
        for arch, target in OURS.items():
            ModelRegistry.register_model(arch, target)
    llm = LLM(model_dir, dtype="float32", max_model_len=512, max_num_seqs=max(BATCHES),
              enforce_eager=True, enable_prefix_caching=False)
    arch = llm.llm_engine.vllm_config.model_config.architecture
    model_cls = type(llm.llm_engine.model_executor.driver_worker.worker.model_runner.model)
    expected_module = "vllm_nemotron" if impl == "plugin" else "vllm.model_executor"
    assert model_cls.__module__.startswith(expected_module), (arch, model_cls.__module__)

    def run(batch, prompt_len, max_tokens):
        prompts = [{"prompt_token_ids": [(7 * i + j) % 400 + 30 for j in range(prompt_len)]}
                   for i in range(batch)]
        params = SamplingParams(temperature=0, max_tokens=max_tokens, ignore_eos=True)
        llm.generate(prompts, params, use_tqdm=False)  # warm-up
        times = []
        for _ in range(3):  # best of three: the machine is shared
            start = time.perf_counter()
            llm.generate(prompts, params, use_tqdm=False)
            times.append(time.perf_counter() - start)
        return min(times)

    result = {}
    for b in BATCHES:
        result[f"prefill b={b}"] = b * 128 / run(b, 128, 1)
        result[f"decode b={b}"] = b * 64 / run(b, 16, 64)
    report(result)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=2,
                        help="engine starts per implementation, in alternating order")
    parser.add_argument("--child", nargs=2, metavar=("IMPL", "MODEL_DIR"))
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    env = child_env(VLLM_PLUGINS="")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in build_models(Path(tmp), args.hidden, args.layers).items():
            numbers = {"in-tree": {}, "plugin": {}}
            for r in range(args.rounds):  # alternate the order: drift hits both alike
                for impl in ("in-tree", "plugin")[::1 if r % 2 == 0 else -1]:
                    result = run_child([sys.executable, __file__, "--child", impl, str(path)],
                                       env, f"{name} / {impl}")
                    for phase, rate in result.items():
                        numbers[impl][phase] = max(rate, numbers[impl].get(phase, 0.0))
            for phase in numbers["plugin"]:
                a, b = numbers["in-tree"][phase], numbers["plugin"][phase]
                rows.append((name, phase, a, b, b / a))
    print(f"\nhidden={args.hidden} layers={args.layers}, float32, CPU, tokens/s\n")
    print(f"{'model':<16} {'phase':<14} {'in-tree':>10} {'plugin':>10} {'plugin/in-tree':>15}")
    for name, phase, a, b, ratio in rows:
        print(f"{name:<16} {phase:<14} {a:>10.1f} {b:>10.1f} {ratio:>15.2f}")


if __name__ == "__main__":
    main()
