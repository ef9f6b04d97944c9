"""`vllm-nemotron doctor <model> [vLLM args]`: what serving would do, before a download.

The flag checks go through vLLM's own `serve` parser. Nothing is downloaded: hub names are
looked up in an empty Hugging Face cache, local checkpoints are written by the tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vllm_nemotron.cli import doctor
from vllm_nemotron.serving.planning import Target
from vllm_nemotron.serving.preflight import mamba_block_tokens, preflight
from vllm_nemotron.serving.recipes import make_recipe

# A Nemotron-Nano-9B-v2-shaped hybrid config: the fields the Mamba state size depends on.
HYBRID = {"architectures": ["NemotronHForCausalLM"], "mamba_num_heads": 128,
          "mamba_head_dim": 80, "n_groups": 8, "ssm_state_size": 128, "conv_kernel": 4,
          "num_attention_heads": 40, "num_key_value_heads": 8, "head_dim": 128,
          "hidden_size": 4480}
# By hand, as vLLM 0.32 aligns it: conv state (128*80 + 2*8*128) x 3 in bf16 = 73728 B, SSM
# state 128 x 80 x 128 in float32 = 5242880 B; KV 2 x 8 x 128 x 2 B = 4096 B per token; the
# smallest multiple of 16 tokens holding 5316608 B is 16 x 82 = 1312.
HYBRID_BLOCK = 1312


@pytest.fixture(autouse=True)
def empty_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))


@pytest.fixture
def nano_v2_dir(tmp_path) -> Path:
    path = tmp_path / "NVIDIA-Nemotron-Nano-9B-v2"
    path.mkdir()
    (path / "config.json").write_text(json.dumps(HYBRID))
    return path


def findings(model: str, user_args: list[str], target: Target | None = None) -> dict:
    from vllm_nemotron.serving.recipes import merge_args

    recipe = make_recipe(model, target=target or Target.reference())
    return {f.label: f for f in preflight(recipe, merge_args(recipe.args, user_args), user_args)}


# user arguments -> the finding they must produce (label, level, words in the detail)
FLAG_CASES = [
    (["--tool-call-parser-plugin", "x.py"], "flag --tool-call-parser-plugin", "FAIL",
     "did you mean --tool-parser-plugin?"),
    (["--tensor-parallel-size", "two"], "vLLM arguments", "FAIL", "invalid int value"),
    (["--mamba-cache-dtype", "bfloat16"], "flag --mamba-cache-dtype", "warn",
     "Use --mamba-ssm-cache-dtype"),
    (["--mamba_ssm_cache_dtype", "bfloat16"], "flag --mamba-ssm-cache-dtype", "warn",
     "replaces the recipe's float32"),
    (["--tool-call-parser", "hermes"], "flag --tool-call-parser", "warn",
     "replaces the recipe's llama_nemotron_json"),
    (["--trust-remote-code"], "flag --trust-remote-code", "note", "not needed"),
    (["--tool-parser-plugin", "nemotron_toolcall_parser_no_streaming.py"],
     "flag --tool-parser-plugin", "note", "not needed"),
    (["--max-model-len", "1000000"], "flag --max-model-len", "warn", "beyond the 131072"),
    (["--max-model-len", "1024"], "prefix caching", "warn",
     f"shorter than one {HYBRID_BLOCK}-token block"),
    ([], "prefix caching", "ok", f"in blocks of {HYBRID_BLOCK} tokens"),
    (["--block-size", "64"], "prefix caching", "ok", "in blocks of 1344 tokens"),  # 64 x 21
    (["--no-enable-prefix-caching"], "prefix caching", "note", "off"),
    ([], "vLLM arguments", "ok", "accepted"),
]


@pytest.mark.parametrize("user_args,label,level,words", FLAG_CASES)
def test_flag_findings(nano_v2_dir, user_args, label, level, words):
    found = findings(str(nano_v2_dir), user_args)
    assert found[label].level == level
    assert words in found[label].detail


def test_parallelism_below_the_plan_is_flagged():
    found = findings("nvidia/Llama-3_1-Nemotron-Ultra-253B-v1", ["--tensor-parallel-size", "4"])
    assert found["parallelism"].level == "warn"
    assert "below the 8 GPUs" in found["parallelism"].detail


def test_block_estimate_follows_tensor_parallel():
    # TP halves both the Mamba state and the KV heads: the same block.
    assert mamba_block_tokens(HYBRID, 2, None) == mamba_block_tokens(HYBRID, 1, None)
    assert mamba_block_tokens(HYBRID, 1, None) == HYBRID_BLOCK


@pytest.mark.slow
def test_block_estimate_matches_vllm(tmp_path):
    """vLLM's own alignment, on the CPU build (kernel block 32, default block 128)."""
    import subprocess
    import sys

    from vllm_nemotron.tiny import build_nemotron_h

    model = build_nemotron_h(tmp_path / "nemotron-h", ssm_state_size=128)
    config = json.loads((model / "config.json").read_text())
    script = ("import sys\nfrom vllm import LLM\nif __name__ == '__main__':\n"
              "    llm = LLM(model=sys.argv[1], mamba_ssm_cache_dtype='float32', "
              "max_model_len=2048, enforce_eager=True, enable_prefix_caching=False)\n"
              "    print('BLOCK', llm.llm_engine.vllm_config.cache_config.block_size)\n")
    (tmp_path / "block.py").write_text(script)
    # the engine in the script's own process (no engine-core and worker processes to start):
    # the block size it prints is the engine's either way (the client copies it back)
    out = subprocess.run([sys.executable, str(tmp_path / "block.py"), str(model)],
                         capture_output=True, text=True, timeout=600,
                         env={**__import__("os").environ, "VLLM_CPU_KVCACHE_SPACE": "1",
                              "VLLM_ENABLE_V1_MULTIPROCESSING": "0"})
    line = [x for x in out.stdout.splitlines() if x.startswith("BLOCK ")]
    assert line, out.stderr[-3000:]
    assert int(line[0].split()[1]) == mamba_block_tokens(config, 1, 128, kernel_block=32) > 128


# seed hub name -> words its doctor report must contain
SEEDS = [
    ("nvidia/Llama-3.1-Nemotron-Nano-4B-v1.1", ["llama-nemotron-nano", "llama_nemotron_tools"]),
    ("nvidia/Llama-3_3-Nemotron-Super-49B-v1_5", ["tensor parallel 2",
                                                  "vLLM will use the template"]),
    ("nvidia/Llama-3_1-Nemotron-Ultra-253B-v1", ["tensor parallel 8", "renders no tools"]),
    ("nvidia/NVIDIA-Nemotron-3-Nano-4B-BF16", ["nemotron3_xml", "mamba SSM cache float32",
                                               "prefix caching"]),
    ("nvidia/NVIDIA-Nemotron-Nano-9B-v2", ["nano_v3", "/think and /no_think only"]),
    ("nvidia/Nemotron-Mini-4B-Instruct", ["nemotron_mini.jinja", "4096"]),
    ("nvidia/NVIDIA-Nemotron-3-Super-120B-A12B-FP8", ["super_v3", "KV cache fp8",
                                                      "tensor parallel 2"]),
    ("nvidia/NVIDIA-Nemotron-3-Ultra-550B-A55B-NVFP4", ["tensor parallel 8", "52308"]),
]


@pytest.mark.parametrize("model,words", SEEDS)
def test_doctor_report_for_each_seed(capsys, model, words):
    assert doctor.main([model]) == 0
    out = capsys.readouterr().out
    for word in words:
        assert word in out
    assert out.splitlines()[-1].startswith(f"vllm serve {model} ")
    assert "FAIL" not in out


def test_doctor_exit_status(capsys, nano_v2_dir):
    assert doctor.main([str(nano_v2_dir), "--tool-call-parser-plugin", "x.py"]) == 1
    assert doctor.main(["acme/other-7B"]) == 2
    assert doctor.main(["nvidia/Llama-3_1-Nemotron-Ultra-253B-v1", "--gpus", "1",
                        "--gpu-memory-gib", "24"]) == 3
    assert "does not fit" in capsys.readouterr().err


# --- flag combinations users of Nemotron 3 hit upstream (serving/known_issues.py)

SUPER_NVFP4 = "nvidia/NVIDIA-Nemotron-3-Super-120B-A12B-NVFP4"
SUPER_FP8 = "nvidia/NVIDIA-Nemotron-3-Super-120B-A12B-FP8"
MTP3 = '{"method": "mtp", "num_speculative_tokens": 3}'

# model, user arguments -> label, level and source of the finding (None: it must not appear)
KNOWN_ISSUE_CASES = [
    (SUPER_NVFP4, [], "NVFP4 MoE backend", "warn", "issues/52308"),
    (SUPER_NVFP4, ["--moe-backend", "flashinfer_trtllm"], "NVFP4 MoE backend", "warn",
     "issues/52308"),
    (SUPER_NVFP4, ["--moe-backend", "flashinfer_cutlass"], "NVFP4 MoE backend", None, None),
    (SUPER_FP8, [], "NVFP4 MoE backend", None, None),
    ("nvidia/NVIDIA-Nemotron-Nano-9B-v2-NVFP4", [], "NVFP4 MoE backend", None, None),  # dense
    (SUPER_FP8, ["--speculative-config", MTP3], "MTP with prefix caching", "note",
     "issues/39809"),
    (SUPER_FP8, ["--speculative-config", MTP3, "--no-enable-prefix-caching"],
     "MTP with prefix caching", None, None),
    (SUPER_FP8, ["--reasoning-config", '{"reasoning_start_str": "<think>"}'],
     "flag --reasoning-config", "warn", "issues/39103"),
    (SUPER_FP8, [], "flag --reasoning-config", None, None),
]


@pytest.mark.parametrize("model,user_args,label,level,source", KNOWN_ISSUE_CASES)
def test_known_issue_findings(model, user_args, label, level, source):
    found = findings(model, user_args)
    if level is None:
        assert label not in found
        return
    assert found[label].level == level
    assert f"https://github.com/vllm-project/vllm/{source}" in found[label].detail


def test_known_issues_name_their_source():
    from vllm_nemotron.serving.known_issues import KNOWN_ISSUES

    for issue in KNOWN_ISSUES:
        assert issue.source.startswith("https://github.com/vllm-project/vllm/issues/")


def test_prefix_cache_block_with_fp8_kv(tmp_path):
    """Super at TP 1 with fp8 KV: a Mamba page of (8192 + 2*8*128) x 3 x 2 B conv + 128 x 64 x
    128 x 4 B SSM = 4255744 B over 2 x 2 x 128 x 1 B of KV per token is 8311.99 tokens, so
    520 blocks of 16: 8320. A shorter context never reuses a prefix (vLLM issue 54504)."""
    from tests.harness.published_configs import SUPER_120B

    assert mamba_block_tokens(SUPER_120B, 1, None, kv_bytes=1) == 8320
    path = tmp_path / "NVIDIA-Nemotron-3-Super-120B-A12B-FP8"
    path.mkdir()
    (path / "config.json").write_text(json.dumps(SUPER_120B))
    found = findings(str(path), ["--max-model-len", "8192"], Target.given(2, 80))  # TP 2: same
    assert found["prefix caching"].level == "warn"
    assert "8320-token block" in found["prefix caching"].detail
    assert "issues/54504" in found["prefix caching"].detail


def test_recipe_flags_are_not_called_unneeded():
    """The Omni recipe passes --trust-remote-code itself (its config class is remote code)."""
    found = findings("nvidia/Nemotron-3-Nano-Omni-30B-A3B-Reasoning-BF16",
                     ["--trust-remote-code"])
    assert "flag --trust-remote-code" not in found
    found = findings("nvidia/NVIDIA-Nemotron-Nano-9B-v2", ["--trust-remote-code"])
    assert found["flag --trust-remote-code"].level == "note"


@pytest.mark.parametrize("user_args,refused", [([], False),
                                               (["--moe-backend", "flashinfer_cutlass"], True)])
def test_nvfp4_on_hopper_is_said_from_vllms_kernel_choice(tmp_path, user_args, refused):
    """A mixed-precision NVFP4 directory: its NVFP4 flags and KV cache, and what Hopper does."""
    from tests.harness import published_configs as published

    path = tmp_path / "checkpoint"
    path.mkdir()
    (path / "config.json").write_text(json.dumps(published.SUPER_120B))
    (path / "hf_quant_config.json").write_text(
        json.dumps(published.mixed_hf_quant_config(published.SUPER_120B)))
    found = findings(str(path), user_args, Target.given(8, 80))
    note = found["NVFP4 without FP4 tensor cores"]
    assert note.level == "note"
    assert "select_nvfp4_moe_backend" in note.detail and "Marlin" in note.detail
    assert ("refuses to start" in note.detail) == refused
    assert ("NVFP4 MoE backend" in found) == (not refused)  # vLLM issue 52308 on B200


def test_no_fp4_note_for_other_precisions():
    assert "NVFP4 without FP4 tensor cores" not in findings(
        "nvidia/NVIDIA-Nemotron-3-Super-120B-A12B-FP8", [])


def test_weight_only_nvfp4_is_w4a16_everywhere(tmp_path):
    """3.5 Lightning's NVFP4 release is W4A16_NVFP4 (scheme in config.json)."""
    from tests.harness import published_configs as published

    path = tmp_path / "checkpoint"
    path.mkdir()
    quant = published.mixed_quantization_config(published.LIGHTNING_30B)
    (path / "config.json").write_text(
        json.dumps({**published.LIGHTNING_30B, "quantization_config": quant}))
    found = findings(str(path), [], Target.given(1, 80))
    assert "W4A16 on every GPU" in found["NVFP4 without FP4 tensor cores"].detail
    assert "NVFP4 MoE backend" not in found  # the recipe's --moe-backend marlin
