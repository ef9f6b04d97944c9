"""Recipes and the `recipe`/`serve` commands: family detection, flags, overrides, TP, errors."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from vllm_nemotron import chat_templates, serve
from vllm_nemotron.recipes import FAMILIES, GPUs, UnknownModelError, make_recipe, merge_args

GiB = 2**30
NO_GPU = GPUs()


def flag(args: list[str], name: str) -> str | None:
    """The value after `name` in an argument list (or "" for a bare flag, None if absent)."""
    if name not in args:
        return None
    i = args.index(name)
    return args[i + 1] if i + 1 < len(args) and not args[i + 1].startswith("--") else ""


# hub name -> family, tool parser, reasoning parser, template, hybrid, max len
HUB_NAMES = [
    ("nvidia/Llama-3.1-Nemotron-Nano-4B-v1.1", "llama-nemotron-nano", "llama_nemotron_json",
     "llama_nemotron_thinking", "llama_nemotron_tools.jinja", False, 131072),
    ("nvidia/Llama-3_3-Nemotron-Super-49B-v1", "llama-nemotron-nas", "llama_nemotron_json",
     "llama_nemotron_thinking", "llama_nemotron_tools.jinja", False, 131072),
    ("nvidia/Llama-3_1-Nemotron-Ultra-253B-v1", "llama-nemotron-nas", "llama_nemotron_json",
     "llama_nemotron_thinking", "llama_nemotron_tools.jinja", False, 131072),
    ("nvidia/NVIDIA-Nemotron-Nano-9B-v2", "nemotron-nano-v2", "llama_nemotron_json", "nano_v3",
     "nemotron_nano_v2.jinja", True, 131072),
    ("nvidia/NVIDIA-Nemotron-Nano-12B-v2", "nemotron-nano-v2", "llama_nemotron_json", "nano_v3",
     "nemotron_nano_v2.jinja", True, 131072),
    ("nvidia/NVIDIA-Nemotron-3-Nano-4B-BF16", "nemotron-3-nano", "qwen3_coder", "nano_v3",
     "nemotron_nano_v3.jinja", True, 262144),
    ("nvidia/Nemotron-Mini-4B-Instruct", "nemotron-mini", "nemotron_mini", None,
     "nemotron_mini.jinja", False, 4096),
]


@pytest.mark.parametrize("model,family,tool,reasoning,template,hybrid,max_len", HUB_NAMES)
def test_hub_name_recipe(model, family, tool, reasoning, template, hybrid, max_len):
    recipe = make_recipe(model, gpus=NO_GPU)
    assert recipe.family.name == family
    assert flag(recipe.args, "--tool-call-parser") == tool
    assert (flag(recipe.args, "--enable-auto-tool-choice") == "") == (tool is not None)
    assert flag(recipe.args, "--reasoning-parser") == reasoning
    assert flag(recipe.args, "--chat-template") == chat_templates.path(template)
    assert Path(chat_templates.path(template)).is_file()
    assert flag(recipe.args, "--mamba-ssm-cache-dtype") == ("float32" if hybrid else None)
    assert flag(recipe.args, "--max-model-len") == str(max_len)
    assert flag(recipe.args, "--tensor-parallel-size") is None  # no GPU: TP 1, no flag
    # CPU build: the hybrid's Mamba prefix caching crashes there (per-chunk states missing).
    assert (flag(recipe.args, "--no-enable-prefix-caching") == "") == hybrid
    assert "--no-enable-prefix-caching" not in make_recipe(model, gpus=GPUs(8, 80 * GiB)).args


def write_config(path: Path, **config) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps(config))
    return path


# local directory name, config.json architecture -> family
LOCAL_DIRS = [
    ("checkpoint", "DeciLMForCausalLM", "llama-nemotron-nas"),
    ("checkpoint", "NemotronHForCausalLM", "nemotron-3-nano"),  # default for the hybrid arch
    ("nano-9b-v2-finetune", "NemotronHForCausalLM", "nemotron-nano-v2"),
    ("checkpoint", "NemotronForCausalLM", "nemotron-mini"),
    ("Llama-3.1-Nemotron-Nano-4B-v1.1", "LlamaForCausalLM", "llama-nemotron-nano"),
]


@pytest.mark.parametrize("dirname,arch,family", LOCAL_DIRS)
def test_local_directory_uses_config_architecture(tmp_path, dirname, arch, family):
    model = write_config(tmp_path / dirname, architectures=[arch], max_position_embeddings=2048)
    recipe = make_recipe(str(model), gpus=NO_GPU)
    assert recipe.family.name == family
    assert arch in recipe.reasons[0]
    # The context never exceeds what the checkpoint's config supports.
    assert flag(recipe.args, "--max-model-len") == "2048"


UNKNOWN = [
    ("meta-llama/Llama-3.1-8B-Instruct", None),  # hub name, no local config, no match
    ("plain-llama", "LlamaForCausalLM"),  # a Llama is not a Llama-Nemotron by architecture alone
    ("nemotron-mini-copy", "LlamaForCausalLM"),  # name says mini, architecture disagrees
    ("qwen", "Qwen2ForCausalLM"),
]


@pytest.mark.parametrize("model,arch", UNKNOWN)
def test_unknown_model_lists_supported_families(tmp_path, model, arch):
    if arch:
        model = str(write_config(tmp_path / model, architectures=[arch]))
    with pytest.raises(UnknownModelError) as info:
        make_recipe(model, gpus=NO_GPU)
    for fam in FAMILIES:
        assert fam.name in str(info.value)


def test_family_option_overrides_detection():
    recipe = make_recipe("my-org/some-model", family="nemotron-mini", gpus=NO_GPU)
    assert recipe.family.name == "nemotron-mini"
    with pytest.raises(UnknownModelError, match="nemotron-3-nano"):
        make_recipe("my-org/some-model", family="no-such-family", gpus=NO_GPU)


# model, GPUs present -> suggested TP
TP_CASES = [
    ("nvidia/Llama-3_1-Nemotron-Ultra-253B-v1", GPUs(8, 80 * GiB), 8),
    ("nvidia/Llama-3_3-Nemotron-Super-49B-v1", GPUs(8, 80 * GiB), 2),
    ("nvidia/Llama-3_3-Nemotron-Super-49B-v1", GPUs(8, 141 * GiB), 1),
    ("nvidia/Llama-3_3-Nemotron-Super-49B-v1-FP8", GPUs(8, 80 * GiB), 1),
    ("nvidia/NVIDIA-Nemotron-Nano-9B-v2", GPUs(1, 24 * GiB), 1),
    ("nvidia/NVIDIA-Nemotron-Nano-9B-v2", GPUs(4, 16 * GiB), 2),
    ("nvidia/Llama-3_1-Nemotron-Ultra-253B-v1", GPUs(4, 80 * GiB), 4),  # capped, says so
    ("nvidia/Nemotron-Mini-4B-Instruct", NO_GPU, 1),
]


@pytest.mark.parametrize("model,gpus,tp", TP_CASES)
def test_tensor_parallel_suggestion(model, gpus, tp):
    recipe = make_recipe(model, gpus=gpus)
    assert int(flag(recipe.args, "--tensor-parallel-size") or 1) == tp
    if "Ultra" in model and gpus.count == 4:
        assert "pipeline-parallel" in recipe.reasons[-1]


def test_tensor_parallel_divides_heads_and_mamba_groups(tmp_path):
    model = write_config(tmp_path / "nano-9b-v2", architectures=["NemotronHForCausalLM"],
                         num_attention_heads=12, n_groups=8)
    (model / "model.safetensors").write_bytes(b"\0" * 1000)
    recipe = make_recipe(str(model), gpus=GPUs(8, 250))  # 1000 bytes need 8 "GPUs" of 250
    assert flag(recipe.args, "--tensor-parallel-size") == "4"  # 8 does not divide 12 heads


MERGES = [
    # recipe args, user args -> merged
    (["--max-model-len", "4096", "--enable-auto-tool-choice"], ["--max-model-len", "512"],
     ["--enable-auto-tool-choice", "--max-model-len", "512"]),
    (["--max-model-len", "4096"], ["--max-model-len=512"], ["--max-model-len=512"]),
    (["--enable-auto-tool-choice", "--tool-call-parser", "x"], ["--no-enable-auto-tool-choice"],
     ["--tool-call-parser", "x", "--no-enable-auto-tool-choice"]),
    (["--mamba-ssm-cache-dtype", "float32"], ["--mamba_ssm_cache_dtype", "auto", "--port", "1"],
     ["--mamba_ssm_cache_dtype", "auto", "--port", "1"]),
    (["--reasoning-parser", "nano_v3"], [], ["--reasoning-parser", "nano_v3"]),
]


@pytest.mark.parametrize("recipe_args,extra,merged", MERGES)
def test_user_arguments_override_recipe(recipe_args, extra, merged):
    assert merge_args(recipe_args, extra) == merged


def test_recipe_command_prints_exact_vllm_serve(capsys):
    assert serve.recipe_main(["nvidia/NVIDIA-Nemotron-Nano-9B-v2", "--max-model-len", "8192"]) == 0
    out = capsys.readouterr().out.splitlines()
    command = shlex.split(out[-1])
    assert command[:3] == ["vllm", "serve", "nvidia/NVIDIA-Nemotron-Nano-9B-v2"]
    assert flag(command, "--max-model-len") == "8192" and command.count("--max-model-len") == 1
    assert flag(command, "--mamba-ssm-cache-dtype") == "float32"
    assert all(line.startswith("#") for line in out[:-1])  # the reasons, as shell comments
    assert any("nemotron-nano-v2" in line for line in out[:-1])


def test_unknown_model_cli_exits_2_without_traceback():
    # Through the installed console entry (the lead's CLI dispatches to serve.recipe_main).
    for command in ("recipe", "serve"):
        proc = subprocess.run([sys.executable, "-m", "vllm_nemotron", command, "acme/other-7B"],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2
        assert "Traceback" not in proc.stderr
        assert "Supported families" in proc.stderr and "nemotron-mini" in proc.stderr


def test_tensor_parallel_respects_mamba_groups(tmp_path):
    model = write_config(tmp_path / "nano-9b-v2", architectures=["NemotronHForCausalLM"],
                         num_attention_heads=32, n_groups=2)
    (model / "model.safetensors").write_bytes(b"\0" * 1000)
    recipe = make_recipe(str(model), gpus=GPUs(8, 250))
    assert flag(recipe.args, "--tensor-parallel-size") == "2"  # n_groups must divide by TP
