"""Recipes and the `recipe`/`serve` commands: family detection, chat-template choice, parallel
plan for a target, flags, overrides, errors.

Nothing is downloaded: a hub name is either absent from a fresh, empty Hugging Face cache, or
laid out in it the way huggingface_hub stores it (models--org--name/snapshots/<rev>/...).
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.harness import published_configs as published
from vllm_nemotron import chat_templates
from vllm_nemotron.cli import recipe as recipe_command
from vllm_nemotron.serving.families import FAMILIES
from vllm_nemotron.serving.parameters import count_parameters, sequence_cache
from vllm_nemotron.serving.planning import DoesNotFitError, GiB, Target
from vllm_nemotron.serving.recipes import (
    RecipeOptionError,
    UnknownModelError,
    make_recipe,
    merge_args,
)
from vllm_nemotron.serving.template_choice import TemplateError

CPU = Target.cpu_build()
REFERENCE = Target.reference()
H100x8 = Target.given(8, 80)
RTX24 = Target.given(1, 24)


@pytest.fixture(autouse=True)
def hub_cache(tmp_path, monkeypatch) -> Path:
    """An empty Hugging Face cache: what a fresh laptop or CI runner has."""
    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    return cache


def flag(args: list[str], name: str) -> str | None:
    """The value after `name` in an argument list (or "" for a bare flag, None if absent)."""
    if name not in args:
        return None
    i = args.index(name)
    return args[i + 1] if i + 1 < len(args) and not args[i + 1].startswith("--") else ""


# hub name -> family, tool parser, reasoning parser, hybrid, max len
HUB_NAMES = [
    ("nvidia/Llama-3.1-Nemotron-Nano-4B-v1.1", "llama-nemotron-nano", "llama_nemotron_json",
     "llama_nemotron_thinking", False, 131072),
    ("nvidia/Llama-3_3-Nemotron-Super-49B-v1", "llama-nemotron-nas", "llama_nemotron_json",
     "llama_nemotron_thinking", False, 131072),
    ("nvidia/Llama-3_3-Nemotron-Super-49B-v1_5", "llama-nemotron-super-v1.5",
     "llama_nemotron_json", "llama_nemotron_thinking", False, 131072),
    ("nvidia/Llama-3_1-Nemotron-Ultra-253B-v1", "llama-nemotron-nas", "llama_nemotron_json",
     "llama_nemotron_thinking", False, 131072),
    ("nvidia/NVIDIA-Nemotron-Nano-9B-v2", "nemotron-nano-v2", "llama_nemotron_json", "nano_v3",
     True, 131072),
    ("nvidia/NVIDIA-Nemotron-Nano-12B-v2", "nemotron-nano-v2", "llama_nemotron_json", "nano_v3",
     True, 131072),
    ("nvidia/NVIDIA-Nemotron-3-Nano-4B-BF16", "nemotron-3-nano", "nemotron3_xml", "nano_v3",
     True, 262144),
    ("nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16", "nemotron-3-nano-30b", "nemotron3_xml",
     "nano_v3", True, 262144),
    ("nvidia/Nemotron-Mini-4B-Instruct", "nemotron-mini", "nemotron_mini", None, False, 4096),
]


@pytest.mark.parametrize("model,family,tool,reasoning,hybrid,max_len", HUB_NAMES)
def test_hub_name_recipe(model, family, tool, reasoning, hybrid, max_len):
    recipe = make_recipe(model, target=REFERENCE)
    assert recipe.family.name == family
    assert flag(recipe.args, "--tool-call-parser") == tool
    assert (flag(recipe.args, "--enable-auto-tool-choice") == "") == (tool is not None)
    assert flag(recipe.args, "--reasoning-parser") == reasoning
    assert flag(recipe.args, "--mamba-ssm-cache-dtype") == ("float32" if hybrid else None)
    assert flag(recipe.args, "--max-model-len") == str(max_len)
    # Planned for GPUs: vLLM's own prefix caching (hybrids included) stays on.
    assert "--no-enable-prefix-caching" not in recipe.args


@pytest.mark.parametrize("model,hybrid", [(m[0], m[4]) for m in HUB_NAMES
                                          if m[1] != "nemotron-3-nano-30b"])  # MoE: GPU only
def test_cpu_build_turns_off_prefix_caching_for_hybrids(model, hybrid):
    """On the CPU build, vLLM 0.32's cached hybrid crashes on multi-chunk prompts."""
    recipe = make_recipe(model, target=CPU)
    assert (flag(recipe.args, "--no-enable-prefix-caching") == "") == hybrid
    assert flag(recipe.args, "--tensor-parallel-size") is None


# --- chat template: the checkpoint's own unless the card or a missing feature says otherwise

# Two templates of our own making for local checkpoints: one with every feature the families
# need, one with none (a bare chat format).
COMPLETE_TEMPLATE = (
    "{%- for m in messages %}{{ m.role }}: {{ m.content }}"
    "{%- for c in m.tool_calls or [] %}<call>{{ c.function.name }}</call>{% endfor %}\n"
    "{%- endfor %}{% if tools %}{{ tools | tojson }}{% endif %}"
    "{% if enable_thinking is defined and not enable_thinking %}/no_think"
    "{% else %}/think{% endif %}")
BARE_TEMPLATE = "{%- for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}"

SEEDS = {  # family -> hub name, architecture
    "llama-nemotron-nano": ("nvidia/Llama-3.1-Nemotron-Nano-4B-v1.1", "LlamaForCausalLM"),
    "llama-nemotron-super-v1.5": ("nvidia/Llama-3_3-Nemotron-Super-49B-v1_5",
                                  "DeciLMForCausalLM"),
    "llama-nemotron-nas": ("nvidia/Llama-3_1-Nemotron-Ultra-253B-v1", "DeciLMForCausalLM"),
    "nemotron-3-nano": ("nvidia/NVIDIA-Nemotron-3-Nano-4B-BF16", "NemotronHForCausalLM"),
    "nemotron-nano-v2": ("nvidia/NVIDIA-Nemotron-Nano-9B-v2", "NemotronHForCausalLM"),
    "nemotron-mini": ("nvidia/Nemotron-Mini-4B-Instruct", "NemotronForCausalLM"),
}
OURS, OWN, NONE = "ours", "own", "none"
# family -> choice for: hub name not cached, checkpoint shipping a complete template,
# checkpoint shipping a bare one, checkpoint directory shipping none;
# and the words the reason must contain for the first.
TEMPLATE_CASES = {
    "llama-nemotron-nano": (OURS, OURS, OURS, OURS, "model card serves tool calls"),
    "llama-nemotron-super-v1.5": (OWN, OWN, OWN, NONE, "vLLM will use the template"),
    "llama-nemotron-nas": (OURS, OWN, OURS, OURS, "renders no tools"),
    "nemotron-3-nano": (OWN, OWN, OURS, OURS, "vLLM will use the template"),
    "nemotron-nano-v2": (OWN, OWN, OURS, OURS, "vLLM will use the template"),
    "nemotron-mini": (OURS, OWN, OURS, OURS, "drops the assistant's tool calls"),
}


def _checkpoint_files(arch: str, template: str | None, as_jinja_file: bool = False) -> dict:
    files = {"config.json": json.dumps({"architectures": [arch]})}
    if template is not None and as_jinja_file:
        files["chat_template.jinja"] = template
    elif template is not None:
        files["tokenizer_config.json"] = json.dumps({"chat_template": template})
    return files


def write_checkpoint(path: Path, files: dict[str, str]) -> Path:
    path.mkdir(parents=True)
    for name, text in files.items():
        (path / name).write_text(text)
    return path


def cache_checkpoint(cache: Path, repo: str, files: dict[str, str]) -> None:
    """Lay out `files` as huggingface_hub's cache holds a downloaded snapshot of `repo`."""
    folder = cache / f"models--{repo.replace('/', '--')}"
    write_checkpoint(folder / "snapshots" / "0123abc", files)
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text("0123abc")


def assert_choice(recipe, expected: str, family: str) -> None:
    template = flag(recipe.args, "--chat-template")
    if expected == OURS:
        assert template == chat_templates.path(FAMILIES_BY_NAME[family].chat_template)
        assert Path(template).is_file()
        assert "vllm-nemotron's" in recipe.template.reason
    else:
        assert template is None
        assert "the checkpoint's own" in recipe.template.reason


FAMILIES_BY_NAME = {f.name: f for f in FAMILIES}


@pytest.mark.parametrize("family", sorted(TEMPLATE_CASES))
def test_template_for_a_hub_name_not_cached(family):
    model, _ = SEEDS[family]
    recipe = make_recipe(model, target=REFERENCE)
    assert_choice(recipe, TEMPLATE_CASES[family][0], family)
    assert TEMPLATE_CASES[family][4] in recipe.template.reason


@pytest.mark.parametrize("as_jinja_file", [False, True])
@pytest.mark.parametrize("family", sorted(TEMPLATE_CASES))
def test_template_of_a_cached_checkpoint_is_read(hub_cache, family, as_jinja_file):
    model, arch = SEEDS[family]
    cache_checkpoint(hub_cache, model, _checkpoint_files(arch, COMPLETE_TEMPLATE, as_jinja_file))
    recipe = make_recipe(model, target=REFERENCE)
    assert recipe.checkpoint.location == "hub cache"
    assert_choice(recipe, TEMPLATE_CASES[family][1], family)
    if TEMPLATE_CASES[family][1] == OWN:  # it says where it read it, and what it supports
        assert recipe.checkpoint.chat_template_source in recipe.template.reason
        assert "supports tools, enable_thinking, tool_calls, /think" in recipe.template.reason


@pytest.mark.parametrize("family", sorted(TEMPLATE_CASES))
def test_template_lacking_what_the_family_needs_is_replaced(tmp_path, family):
    model, arch = SEEDS[family]
    path = write_checkpoint(tmp_path / model.split("/")[1],
                            _checkpoint_files(arch, BARE_TEMPLATE))
    recipe = make_recipe(str(path), target=REFERENCE)
    assert recipe.family.name == family
    assert_choice(recipe, TEMPLATE_CASES[family][2], family)
    if TEMPLATE_CASES[family][2] == OURS and not FAMILIES_BY_NAME[family].card_template:
        for need in FAMILIES_BY_NAME[family].template_needs:  # says which feature is missing
            assert need in recipe.template.reason.split("lacks")[1]


@pytest.mark.parametrize("family", sorted(TEMPLATE_CASES))
def test_checkpoint_directory_without_a_template(tmp_path, family):
    model, arch = SEEDS[family]
    path = write_checkpoint(tmp_path / model.split("/")[1], _checkpoint_files(arch, None))
    recipe = make_recipe(str(path), target=REFERENCE)
    if TEMPLATE_CASES[family][3] == NONE:  # nothing to serve chat with: the user must pass one
        assert recipe.template.missing and flag(recipe.args, "--chat-template") is None
        assert "pass --chat-template FILE" in recipe.template.reason
        return
    assert not recipe.template.missing
    assert_choice(recipe, TEMPLATE_CASES[family][3], family)


@pytest.mark.parametrize("family", sorted(TEMPLATE_CASES))
def test_template_from_plugin_on_request(hub_cache, family):
    model, arch = SEEDS[family]
    cache_checkpoint(hub_cache, model, _checkpoint_files(arch, COMPLETE_TEMPLATE))
    if FAMILIES_BY_NAME[family].chat_template is None:
        with pytest.raises(TemplateError, match="has no chat template in vllm-nemotron"):
            make_recipe(model, target=REFERENCE, template_from_plugin=True)
        return
    recipe = make_recipe(model, target=REFERENCE, template_from_plugin=True)
    assert_choice(recipe, OURS, family)
    assert "--chat-template-from-plugin" in recipe.template.reason


# --- parallel plan for a target

# model -> (TP, PP) with no GPU here (the cards' 80 GiB reference), on 8 x 80 GiB, on 1 x 24 GiB
# (None: does not fit)
PLANS = [
    ("nvidia/Llama-3.1-Nemotron-Nano-4B-v1.1", (1, 1), (1, 1), (1, 1)),
    ("nvidia/Llama-3_3-Nemotron-Super-49B-v1", (2, 1), (2, 1), None),
    ("nvidia/Llama-3_3-Nemotron-Super-49B-v1_5", (2, 1), (2, 1), None),
    ("nvidia/Llama-3_1-Nemotron-Ultra-253B-v1", (8, 1), (8, 1), None),
    ("nvidia/NVIDIA-Nemotron-Nano-9B-v2", (1, 1), (1, 1), (1, 1)),
    ("nvidia/NVIDIA-Nemotron-3-Nano-4B-BF16", (1, 1), (1, 1), (1, 1)),
    ("nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16", (1, 1), (1, 1), None),
    ("nvidia/Nemotron-Mini-4B-Instruct", (1, 1), (1, 1), (1, 1)),
]


def parallel(recipe) -> tuple[int, int]:
    return (int(flag(recipe.args, "--tensor-parallel-size") or 1),
            int(flag(recipe.args, "--pipeline-parallel-size") or 1))


@pytest.mark.parametrize("model,reference,h100x8,rtx24", PLANS)
def test_parallel_plan_for_each_target(model, reference, h100x8, rtx24):
    recipe = make_recipe(model, target=REFERENCE)
    assert parallel(recipe) == reference
    assert "reference hardware, 80 GiB GPUs" in recipe.plan.reason
    assert parallel(make_recipe(model, target=H100x8)) == h100x8
    if rtx24 is None:
        with pytest.raises(DoesNotFitError, match=r"does not fit 1 x 24 GiB.*on 80 GiB GPUs"):
            make_recipe(model, target=RTX24)
    else:
        assert parallel(make_recipe(model, target=RTX24)) == rtx24


# target -> Ultra-253B's (TP, PP), or None: does not fit
ULTRA_TARGETS = [
    (Target.given(8, 80, nodes=2), (8, 2)),  # two 8-GPU nodes: pipeline stage per node
    (Target.given(8, 192), (4, 1)),  # 192 GiB GPUs: half the node holds it
    (Target.given(4, 80), None),  # one half-node
    (Target.given(None, 24), (8, 4)),  # as many 24 GiB GPUs as needed: four nodes
]


@pytest.mark.parametrize("target,expected", ULTRA_TARGETS)
def test_ultra_plan(target, expected):
    model = "nvidia/Llama-3_1-Nemotron-Ultra-253B-v1"
    if expected is None:
        with pytest.raises(DoesNotFitError, match="--gpus 8 --gpu-memory-gib 80"):
            make_recipe(model, target=target)
    else:
        assert parallel(make_recipe(model, target=target)) == expected


def test_super_fits_one_h200():
    """The Super-49B card: it fits a single H200 (141 GB)."""
    assert parallel(make_recipe("nvidia/Llama-3_3-Nemotron-Super-49B-v1",
                                target=Target.given(1, 141))) == (1, 1)


def test_fp8_name_halves_the_weights():
    assert parallel(make_recipe("nvidia/Llama-3_3-Nemotron-Super-49B-v1-FP8",
                                target=H100x8)) == (1, 1)


def test_weights_of_a_cached_checkpoint_come_from_its_index(hub_cache):
    """A cached safetensors index gives the real size; the name is not used."""
    files = _checkpoint_files("NemotronHForCausalLM", None)
    files["model.safetensors.index.json"] = json.dumps({"metadata": {"total_size": 300 * GiB}})
    cache_checkpoint(hub_cache, "nvidia/NVIDIA-Nemotron-Nano-9B-v2", files)
    recipe = make_recipe("nvidia/NVIDIA-Nemotron-Nano-9B-v2", target=REFERENCE)
    assert parallel(recipe) == (8, 1)
    assert "weights 300.0 GiB" in recipe.plan.reason


@pytest.mark.parametrize("heads,groups,expected", [
    (12, 8, (4, 2)),  # 8 does not divide 12 heads: TP 4, the rest as pipeline stages
    (32, 2, (2, 3)),  # n_groups must divide by TP; as many pipeline stages as needed
    (32, 8, (8, 1)),
])
def test_tensor_parallel_divides_heads_and_mamba_groups(tmp_path, heads, groups, expected):
    model = write_checkpoint(tmp_path / "nano-9b-v2", {"config.json": json.dumps(
        {"architectures": ["NemotronHForCausalLM"], "num_attention_heads": heads,
         "n_groups": groups})})
    (model / "model.safetensors").write_bytes(b"\0" * 1000)
    target = Target(8, 250, "8 GPUs of 250 bytes")  # 1000 bytes need 5 of them: 8
    assert parallel(make_recipe(str(model), target=target)) == expected


def test_unknown_weight_size_plans_nothing():
    recipe = make_recipe("org/some-model", family="nemotron-mini", target=REFERENCE)
    assert parallel(recipe) == (1, 1)
    assert "weight size unknown" in recipe.plan.reason


# --- family detection

def write_config(path: Path, **config) -> Path:
    return write_checkpoint(path, {"config.json": json.dumps(config)})


# local directory name, config.json architecture -> family
LOCAL_DIRS = [
    ("checkpoint", "DeciLMForCausalLM", "llama-nemotron-nas"),
    ("Llama-3_3-Nemotron-Super-49B-v1_5", "DeciLMForCausalLM", "llama-nemotron-super-v1.5"),
    ("checkpoint", "NemotronHForCausalLM", "nemotron-3-nano"),  # default for the hybrid arch
    ("nano-9b-v2-finetune", "NemotronHForCausalLM", "nemotron-nano-v2"),
    ("checkpoint", "NemotronForCausalLM", "nemotron-mini"),
    ("Llama-3.1-Nemotron-Nano-4B-v1.1", "LlamaForCausalLM", "llama-nemotron-nano"),
]


@pytest.mark.parametrize("dirname,arch,family", LOCAL_DIRS)
def test_local_directory_uses_config_architecture(tmp_path, dirname, arch, family):
    model = write_config(tmp_path / dirname, architectures=[arch], max_position_embeddings=2048)
    recipe = make_recipe(str(model), target=CPU)
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
        make_recipe(model, target=CPU)
    for fam in FAMILIES:
        assert fam.name in str(info.value)


def test_family_option_overrides_detection():
    recipe = make_recipe("my-org/some-model", family="nemotron-mini", target=CPU)
    assert recipe.family.name == "nemotron-mini"
    with pytest.raises(UnknownModelError, match="nemotron-3-nano"):
        make_recipe("my-org/some-model", family="no-such-family", target=CPU)


# --- merging and the command line

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
    argv = ["nvidia/NVIDIA-Nemotron-Nano-9B-v2", "--max-model-len", "8192", "--gpus", "2"]
    assert recipe_command.main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    command = shlex.split(out[-1])
    assert command[:3] == ["vllm", "serve", "nvidia/NVIDIA-Nemotron-Nano-9B-v2"]
    assert flag(command, "--max-model-len") == "8192" and command.count("--max-model-len") == 1
    assert flag(command, "--mamba-ssm-cache-dtype") == "float32"
    assert "--gpus" not in command  # ours, not vLLM's
    assert all(line.startswith("#") for line in out[:-1])  # the reasons, as shell comments
    assert any("nemotron-nano-v2" in line for line in out[:-1])
    assert any("2 x 80 GiB GPUs (as given)" in line for line in out[:-1])


def test_recipe_command_takes_the_plugin_template(capsys):
    assert recipe_command.main(["nvidia/NVIDIA-Nemotron-Nano-9B-v2",
                              "--chat-template-from-plugin"]) == 0
    command = shlex.split(capsys.readouterr().out.splitlines()[-1])
    assert flag(command, "--chat-template") == chat_templates.path("nemotron_nano_v2")


def _cli(*argv: str, env_cache: Path) -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, "HF_HUB_CACHE": str(env_cache)}
    return subprocess.run([sys.executable, "-m", "vllm_nemotron", *argv], capture_output=True,
                          text=True, timeout=120, env=env)


def test_unknown_model_cli_exits_2_without_traceback(hub_cache):
    # Through the console entry (the CLI dispatches to cli.recipe / cli.serve).
    for command in ("recipe", "serve"):
        proc = _cli(command, "acme/other-7B", env_cache=hub_cache)
        assert proc.returncode == 2
        assert "Traceback" not in proc.stderr
        assert "Supported families" in proc.stderr and "nemotron-mini" in proc.stderr


def test_does_not_fit_cli_exits_3_with_the_numbers(hub_cache):
    proc = _cli("recipe", "nvidia/Llama-3_1-Nemotron-Ultra-253B-v1", "--gpus", "1",
                "--gpu-memory-gib", "24", env_cache=hub_cache)
    assert proc.returncode == 3
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert "does not fit 1 x 24 GiB GPU(s)" in proc.stderr
    assert "tensor parallel 8 (plan it with --gpus 8 --gpu-memory-gib 80)" in proc.stderr


# --- Nemotron 3 MoE: recipes and plans from the published configs (published_configs.py)

def moe_checkpoint(path: Path, config: dict, quant: dict | None = None) -> Path:
    files = {"config.json": json.dumps(config)}
    if quant is not None:
        files["hf_quant_config.json"] = json.dumps(quant)
    return write_checkpoint(path, files)


# config, total parameters and active ones (billions) the name promises
COUNTS = [
    (published.NANO_30B, 30, 3),
    (published.SUPER_120B, 120, 12),
    (published.ULTRA_550B, 550, 55),
]


@pytest.mark.parametrize("config,total,active", COUNTS)
def test_parameter_counts_agree_with_the_names(config, total, active):
    counted = count_parameters(config)
    main = (counted.total - counted.mtp) / 1e9
    assert 0.99 * total <= main < 1.06 * total  # Nano 31.6B, Super 120.7B, Ultra 549.3B
    assert active <= counted.active / 1e9 < active * 1.2  # 3.6B, 12.8B, 56.1B with embeddings
    assert (counted.mtp > 0) == bool(config.get("num_nextn_predict_layers"))


def test_ultra_weights_match_the_published_repository_sizes():
    """The BF16 and NVFP4 repositories hold 1121 GB and 352 GB (published_configs.py): the
    count, and which layers NVFP4 keeps in bf16 (all but MoE/MLP), reproduce them."""
    counted = count_parameters(published.ULTRA_550B)
    assert counted.weight_bytes("BF16") / 1e9 == pytest.approx(1121, rel=0.005)
    assert counted.weight_bytes("NVFP4") / 1e9 == pytest.approx(352, rel=0.01)


def test_sequence_cache_counts_attention_kv_and_mamba_state():
    # Super: 8 attention layers x (K, V) x 2 KV heads x 128 x 1 byte (fp8) per token; 40 Mamba
    # layers x (conv (128*64 + 2*8*128) x 3 x 2 B + SSM 128 x 64 x 128 x 4 B) per sequence.
    cache = sequence_cache(published.SUPER_120B, kv_bytes=1)
    assert (cache.attention_layers, cache.mamba_layers) == (8, 40)
    assert cache.kv_bytes_per_token == 8 * 2 * 2 * 128
    assert cache.mamba_state_bytes == 40 * (10240 * 3 * 2 + 128 * 64 * 128 * 4)


# directory config, quantization -> family, kv cache dtype, (TP, PP) on 8 x 80 GiB per node
# (None: does not fit one node), nodes it needs
MOE_PLANS = [
    (published.NANO_30B, None, "nemotron-3-nano-30b", None, (1, 1)),
    (published.NANO_30B, published.FP8_QUANT, "nemotron-3-nano-30b", "fp8", (1, 1)),
    (published.SUPER_120B, None, "nemotron-3-super", "fp8", (4, 1)),  # BF16: 4 GPUs
    (published.SUPER_120B, published.FP8_QUANT, "nemotron-3-super", "fp8", (2, 1)),
    (published.SUPER_120B, published.NVFP4_QUANT, "nemotron-3-super", "fp8", (2, 1)),
    (published.ULTRA_550B, published.NVFP4_QUANT, "nemotron-3-ultra", "fp8", (8, 1)),
    (published.ULTRA_550B, None, "nemotron-3-ultra", "fp8", None),  # BF16: 1121 GB
]


@pytest.mark.parametrize("config,quant,family,kv,plan", MOE_PLANS)
def test_moe_recipe_and_plan_from_the_published_config(tmp_path, config, quant, family, kv,
                                                       plan):
    model = str(moe_checkpoint(tmp_path / "checkpoint", config, quant))  # the name says nothing
    if plan is None:
        with pytest.raises(DoesNotFitError, match=r"need 17 GPUs.*--nodes 3"):
            make_recipe(model, target=H100x8)
        return
    recipe = make_recipe(model, target=H100x8)
    assert recipe.family.name == family
    assert flag(recipe.args, "--kv-cache-dtype") == kv
    assert flag(recipe.args, "--mamba-ssm-cache-dtype") == "float32"
    assert parallel(recipe) == plan
    assert "counted from config.json" in recipe.plan.reason
    assert "every expert is held" in recipe.plan.reason  # memory from total parameters
    assert "attention layers" in recipe.plan.reason  # and the cache


def test_ultra_bf16_spans_three_nodes():
    """1121 GB of weights: 17 GPUs of 80 GiB at most 80% full, so 3 nodes (TP 8 x PP 3)."""
    recipe = make_recipe("nvidia/NVIDIA-Nemotron-3-Ultra-550B-A55B-BF16",
                         target=Target.given(8, 80, nodes=3))
    assert parallel(recipe) == (8, 3)
    with pytest.raises(DoesNotFitError):
        make_recipe("nvidia/NVIDIA-Nemotron-3-Ultra-550B-A55B-BF16",
                    target=Target.given(8, 80, nodes=2))


# hub name -> family, reasoning parser, kv cache dtype, (TP, PP) on the 80 GiB reference,
# extra flags the recipe must carry
NEW_HUB_NAMES = [
    ("nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16", "nemotron-3-nano-30b", "nano_v3", None,
     (1, 1), []),
    ("nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-FP8", "nemotron-3-nano-30b", "nano_v3", "fp8",
     (1, 1), []),
    ("nvidia/NVIDIA-Nemotron-3-Super-120B-A12B-BF16", "nemotron-3-super", "super_v3", "fp8",
     (4, 1), []),
    ("nvidia/NVIDIA-Nemotron-3-Super-120B-A12B-FP8", "nemotron-3-super", "super_v3", "fp8",
     (2, 1), []),
    ("nvidia/NVIDIA-Nemotron-3-Super-120B-A12B-NVFP4", "nemotron-3-super", "super_v3", "fp8",
     (1, 1), []),
    ("nvidia/NVIDIA-Nemotron-3-Ultra-550B-A55B-NVFP4", "nemotron-3-ultra", "ultra_v3", "fp8",
     (8, 1), []),
    ("nvidia/NVIDIA-Nemotron-3-Ultra-550B-A55B-BF16", "nemotron-3-ultra", "ultra_v3", "fp8",
     (8, 3), []),
    ("nvidia/NVIDIA-Nemotron-3.5-Lightning-30B-A3B-NVFP4", "nemotron-3.5-lightning",
     "super_v3", "fp8", (1, 1), ["--moe-backend", "marlin"]),
    ("nvidia/NVIDIA-Nemotron-3.5-Lightning-30B-A3B-BF16", "nemotron-3.5-lightning",
     "super_v3", None, (1, 1), ["--moe-backend", "flashinfer_cutlass"]),
    ("nvidia/Nemotron-3-Nano-Omni-30B-A3B-Reasoning-BF16", "nemotron-3-nano-omni", "nano_v3",
     None, (1, 1), ["--trust-remote-code"]),
    ("nvidia/Nemotron-3-Nano-Omni-30B-A3B-Reasoning-NVFP4", "nemotron-3-nano-omni", "nano_v3",
     "fp8", (1, 1), ["--trust-remote-code"]),
    ("nvidia/NVIDIA-Nemotron-Nano-12B-v2-VL-BF16", "nemotron-nano-vl-v2", None, None, (1, 1),
     ["--trust-remote-code"]),
]


@pytest.mark.parametrize("model,family,reasoning,kv,plan,extra", NEW_HUB_NAMES)
def test_nemotron_3_hub_names(model, family, reasoning, kv, plan, extra):
    recipe = make_recipe(model, target=REFERENCE)
    assert recipe.family.name == family
    assert flag(recipe.args, "--reasoning-parser") == reasoning
    assert flag(recipe.args, "--tool-call-parser") == (recipe.family.tool_parser)
    assert flag(recipe.args, "--kv-cache-dtype") == kv
    assert flag(recipe.args, "--mamba-ssm-cache-dtype") == "float32"  # Omni too: vLLM's own
    assert parallel(recipe) == plan  # default covers only NemotronH(Puzzle) and Nano_VL_V2
    joined = " ".join(recipe.args)
    assert " ".join(extra) in joined
    assert "--speculative-config" not in recipe.args  # MTP is opt-in
    assert "--enable-expert-parallel" not in recipe.args


# architecture of a VL/Omni checkpoint (its language model nested as text_config) -> family
OMNI_ARCHITECTURES = [
    ("NemotronH_Nano_Omni_Reasoning_V3", published.NANO_30B, "nemotron-3-nano-omni"),
    ("NemotronH_Omni_Reasoning_V3", published.NANO_30B, "nemotron-3-nano-omni"),
    ("NemotronH_Super_Omni_Reasoning_V3", published.SUPER_120B, "nemotron-3-super-omni"),
    ("NemotronH_Nano_VL_V2", {"architectures": ["NemotronHForCausalLM"]},
     "nemotron-nano-vl-v2"),
]


@pytest.mark.parametrize("arch,text_config,family", OMNI_ARCHITECTURES)
def test_omni_and_vl_architectures(tmp_path, arch, text_config, family):
    model = moe_checkpoint(tmp_path / "checkpoint", {"architectures": [arch],
                                                     "text_config": text_config})
    recipe = make_recipe(str(model), target=REFERENCE)
    assert recipe.family.name == family
    # vLLM's float32 SSM default is keyed by architecture and misses the Omni ones.
    assert flag(recipe.args, "--mamba-ssm-cache-dtype") == "float32"
    assert flag(recipe.args, "--trust-remote-code") == ""


# --- opt-in MTP speculative decoding and expert parallelism

@pytest.mark.parametrize("mtp,tokens", [(0, 3), (2, 2)])
def test_mtp_sets_the_speculative_config(tmp_path, mtp, tokens):
    model = moe_checkpoint(tmp_path / "checkpoint", published.SUPER_120B)
    recipe = make_recipe(str(model), target=H100x8, mtp=mtp)
    assert json.loads(flag(recipe.args, "--speculative-config")) == \
        {"method": "mtp", "num_speculative_tokens": tokens}


def test_mtp_method_is_one_vllm_accepts():
    """vLLM's own speculative config keeps "mtp" (and renames "nemotron_h_mtp" to it)."""
    from typing import get_args

    from vllm.config.speculative import MTPModelTypes

    assert "mtp" in get_args(MTPModelTypes)


@pytest.mark.parametrize("model,config,option", [
    ("nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16", None, {"mtp": 0}),  # Nano-30B: no MTP head
    ("checkpoint", published.NANO_30B, {"mtp": 3}),
    ("nvidia/NVIDIA-Nemotron-Nano-9B-v2", None, {"expert_parallel": True}),  # no experts
])
def test_options_the_model_cannot_take(tmp_path, model, config, option):
    if config is not None:
        model = str(moe_checkpoint(tmp_path / model, config))
    with pytest.raises(RecipeOptionError, match="--mtp|--expert-parallel"):
        make_recipe(model, target=REFERENCE, **option)


def test_expert_parallel_spreads_the_experts(tmp_path):
    model = moe_checkpoint(tmp_path / "checkpoint", published.SUPER_120B)
    recipe = make_recipe(str(model), target=H100x8, expert_parallel=True)
    assert flag(recipe.args, "--enable-expert-parallel") == ""
    assert parallel(recipe) == (4, 1)
    assert "expert parallel 4 (128 of each MoE layer's 512 experts per GPU)" in recipe.plan.reason


def test_moe_family_is_refused_on_the_cpu_build():
    with pytest.raises(DoesNotFitError, match="needs a GPU.*non-gated relu"):
        make_recipe("nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16", target=CPU)


def test_recipe_cli_mtp_and_expert_parallel(capsys):
    argv = ["nvidia/NVIDIA-Nemotron-3-Super-120B-A12B-FP8", "--mtp", "--expert-parallel"]
    assert recipe_command.main(argv) == 0
    command = shlex.split(capsys.readouterr().out.splitlines()[-1])
    assert json.loads(flag(command, "--speculative-config"))["num_speculative_tokens"] == 3
    assert "--enable-expert-parallel" in command and "--mtp" not in command
    assert recipe_command.main(["nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16", "--mtp"]) == 2
    assert "no MTP layer" in capsys.readouterr().err


# --- the family table is data

def test_every_family_names_sources_and_reachable_parsers():
    from vllm.tool_parsers import ToolParserManager

    import vllm_nemotron as plugin

    vllm_tool_parsers = set(ToolParserManager.list_registered())
    for fam in FAMILIES:
        if fam.hybrid and fam.name.startswith("nemotron-3"):
            assert fam.sources, f"{fam.name} names no source"
        if fam.tool_parser:
            assert fam.tool_parser in plugin.TOOL_PARSERS or \
                fam.tool_parser in vllm_tool_parsers, fam.name
        if fam.reasoning_parser:
            assert fam.reasoning_parser in plugin.REASONING_PARSERS, fam.name
        assert set(fam.fp8_kv_cache) <= set(fam.precisions), fam.name
        for extra in fam.extra:
            assert set(extra.precisions) <= set(fam.precisions), fam.name


# --- ModelOpt mixed-precision checkpoints (MIXED_PRECISION, per-layer quantized_layers)

def _mixed_files(config: dict, where: str, algo_of) -> dict[str, str]:
    """A checkpoint directory's files with the per-layer scheme in `where`: hf_quant_config.json,
    config.json's quantization_config (with quantized_layers), or only its config_groups."""
    files = {"config.json": json.dumps(config)}
    if where == "hf_quant_config":
        files["hf_quant_config.json"] = json.dumps(published.mixed_hf_quant_config(config, algo_of))
    else:
        quant = published.mixed_quantization_config(config, algo_of,
                                                    with_layers=where == "quantized_layers")
        files["config.json"] = json.dumps({**config, "quantization_config": quant})
    return files


# config, scheme, where it is written -> family, (TP, PP) on 8 x 80 GiB, weights in GB (the
# published repository size where one is published: docs/recipes.md), the summary's words
MIXED = [
    (published.SUPER_120B, published.super_ultra_nvfp4, "hf_quant_config", "nemotron-3-super",
     (2, 1), 79.0, "NVFP4 routed experts; FP8 Mamba in/out projections, shared experts; BF16 rest"),
    (published.SUPER_120B, published.super_ultra_nvfp4, "quantized_layers", "nemotron-3-super",
     (2, 1), 79.0, "NVFP4 routed experts; FP8 Mamba in/out projections, shared experts; BF16 rest"),
    (published.ULTRA_550B, published.super_ultra_nvfp4, "hf_quant_config", "nemotron-3-ultra",
     (8, 1), 352.3, "NVFP4 routed experts"),  # NVIDIA: 352.3 GB
    (published.LIGHTNING_30B, published.lightning_nvfp4, "quantized_layers",
     "nemotron-3.5-lightning", (1, 1), 21.58,  # the download unsloth issue 8555 quotes
     "W4A16_NVFP4 routed experts, shared experts, LM head; FP8 Mamba in/out projections"),
    (published.LIGHTNING_30B, published.lightning_nvfp4, "config_groups",
     "nemotron-3.5-lightning", (1, 1), 21.58, "W4A16_NVFP4 routed experts"),
]


@pytest.mark.parametrize("config,algo_of,where,family,plan,published_gb,summary", MIXED)
def test_mixed_precision_checkpoint(tmp_path, config, algo_of, where, family, plan,
                                    published_gb, summary):
    model = write_checkpoint(tmp_path / "checkpoint", _mixed_files(config, where, algo_of))
    recipe = make_recipe(str(model), target=H100x8)
    assert recipe.family.name == family
    assert recipe.precision == "NVFP4"  # the family's NVFP4 checkpoint: its flags, its KV cache
    assert not any("MIXED_PRECISION" in reason.split("(")[0] for reason in recipe.reasons)
    precision_reason = next(r for r in recipe.reasons if r.startswith("checkpoint precision"))
    source = {"hf_quant_config": "hf_quant_config.json quantized_layers",
              "quantized_layers": "config.json quantization_config quantized_layers",
              "config_groups": "config.json quantization_config config_groups"}[where]
    assert summary in precision_reason and source in precision_reason
    assert flag(recipe.args, "--kv-cache-dtype") == "fp8"
    assert "the checkpoint ships fp8 KV scales" in " ".join(recipe.reasons)
    for extra in recipe.family.extra:  # e.g. Lightning's --moe-backend marlin
        if "NVFP4" in extra.precisions:
            assert " ".join(extra.args) in " ".join(recipe.args)
    assert parallel(recipe) == plan
    assert "summed layer by layer" in recipe.plan.reason
    assert recipe.checkpoint.mixed_weights.bytes / 1e9 == pytest.approx(published_gb, rel=0.01)


def test_mixed_super_fits_one_h200_as_nvidia_serves_it(tmp_path):
    """Today's bug: 230 GiB of weights planned (every layer BF16), TP 4 on 80 GiB GPUs."""
    files = _mixed_files(published.SUPER_120B, "hf_quant_config", published.super_ultra_nvfp4)
    model = str(write_checkpoint(tmp_path / "checkpoint", files))
    assert parallel(make_recipe(model, target=Target.given(1, 141))) == (1, 1)
    assert "weights 73.6 GiB" in make_recipe(model, target=H100x8).plan.reason


def test_mixed_ultra_stays_on_one_node(tmp_path):
    files = _mixed_files(published.ULTRA_550B, "hf_quant_config", published.super_ultra_nvfp4)
    recipe = make_recipe(str(write_checkpoint(tmp_path / "checkpoint", files)),
                         target=Target.given(8, 80))
    assert parallel(recipe) == (8, 1)


@pytest.mark.parametrize("config", [published.NANO_30B, published.SUPER_120B,
                                    published.ULTRA_550B, published.LIGHTNING_30B])
def test_module_list_counts_what_the_parameter_count_counts(config):
    """The per-layer sum and the per-kind count are one count (parameters.modules)."""
    from vllm_nemotron.serving.parameters import modules

    assert sum(m.params for m in modules(config)) == count_parameters(config).total


# quantized_layers, exclusions, module -> algorithm vLLM's ModelOptMixedPrecisionConfig gives it
LOOKUPS = [
    ({"backbone.layers.1.mixer.experts": "NVFP4"}, [],
     "backbone.layers.1.mixer.experts.7.up_proj", "NVFP4"),  # a parent for all its children
    ({"backbone.layers.1.mixer.experts.up_proj": "NVFP4"}, [],
     "backbone.layers.1.mixer.experts.7.up_proj", "NVFP4"),  # one entry for every expert
    ({"model.language_model.layers.0.mixer.in_proj": "FP8"}, [],
     "backbone.layers.0.mixer.in_proj", "FP8"),  # a wrapper's prefix
    ({"backbone.layers.0.mixer.in_proj": "fp8"}, [], "backbone.layers.0.mixer.in_proj", "FP8"),
    ({"backbone.layers.0.mixer.in_proj": "FP8"}, [], "backbone.layers.0.mixer.out_proj", "BF16"),
    ({"mtp.layers.1.mixer.experts": "NVFP4"}, ["mtp*"], "mtp.layers.1.mixer.experts.0.up_proj",
     "BF16"),  # excluded by a wildcard: MTP left in BF16
    ({"lm_head": "W4A16_NVFP4"}, ["lm_head"], "lm_head", "BF16"),  # excluded by name
    ({"backbone.layers.1.mixer.experts": "NVFP4"}, ["backbone.layers.1"],
     "backbone.layers.1.mixer.experts.0.up_proj", "BF16"),  # excluded with its children
]


@pytest.mark.parametrize("layers,exclude,module,algo", LOOKUPS)
def test_layer_algorithm_lookup(layers, exclude, module, algo):
    from vllm_nemotron.serving.mixed_precision import LayerScheme, _mapped

    scheme = LayerScheme(_mapped({k: {"quant_algo": v} for k, v in layers.items()}), "test",
                         exclude)
    assert scheme.algo(module) == algo


def test_mixed_summary_names_a_kind_split_between_algorithms():
    """ModelOpt's Super recipe notes latent projections in FP8 on only a few layers."""
    from vllm_nemotron.serving.mixed_precision import LayerScheme, weigh

    def algo_of(module):
        if module.name.startswith(("backbone.layers.1.", "backbone.layers.3.")) and \
                module.role == "latent projections":
            return "FP8"
        return published.super_ultra_nvfp4(module)

    layers = {name: info["quant_algo"] for name, info in
              published.mixed_hf_quant_config(published.SUPER_120B, algo_of)
              ["quantization"]["quantized_layers"].items()}
    weights = weigh(published.SUPER_120B, LayerScheme(layers, "test"))
    assert "FP8 Mamba in/out projections, shared experts, part of latent projections" in \
        weights.describe()


def test_uniform_quantization_is_not_mixed(tmp_path):
    """A plain NVFP4 export keeps the former size model (no regression)."""
    model = moe_checkpoint(tmp_path / "checkpoint", published.SUPER_120B, published.NVFP4_QUANT)
    recipe = make_recipe(str(model), target=H100x8)
    assert recipe.checkpoint.layer_scheme is None
    assert "summed layer by layer" not in recipe.plan.reason


ROLES = ("routed experts", "shared experts", "Mamba in/out projections", "attention",
         "latent projections", "LM head", "MTP head")


@settings(max_examples=25, deadline=None)
@given(st.dictionaries(st.sampled_from(ROLES),
                       st.sampled_from(["NVFP4", "W4A16_NVFP4", "FP8", "FP8_PB_WO", "BF16"])))
def test_layer_by_layer_sum_is_each_module_at_its_algorithm(assignment):
    """For any per-kind assignment: the size is every module at its own algorithm's bytes, it
    lies between all-NVFP4 and all-BF16, and the summary names each algorithm used."""
    from vllm_nemotron.serving.mixed_precision import ALGO_BYTES, LayerScheme, weigh
    from vllm_nemotron.serving.parameters import modules

    config = published.NANO_30B
    listed = {m.name: assignment[m.role] for m in modules(config) if m.role in assignment}
    weights = weigh(config, LayerScheme(listed, "test"))
    expected = sum(ALGO_BYTES[listed.get(m.name, "BF16")] * m.params for m in modules(config))
    assert abs(weights.bytes - expected) <= 1
    total = count_parameters(config).total
    assert 0.5625 * total - 1 <= weights.bytes <= 2 * total
    for algo in set(listed.values()) - {"BF16"}:
        assert algo + " " in weights.describe()


def test_mixed_checkpoint_in_the_hub_cache(hub_cache):
    """The same reading for a hub name whose config files are cached (no weights yet)."""
    model = "nvidia/NVIDIA-Nemotron-3-Super-120B-A12B-NVFP4"
    cache_checkpoint(hub_cache, model, _mixed_files(published.SUPER_120B, "hf_quant_config",
                                                    published.super_ultra_nvfp4))
    recipe = make_recipe(model, target=H100x8)
    assert recipe.checkpoint.location == "hub cache"
    assert parallel(recipe) == (2, 1) and "summed layer by layer" in recipe.plan.reason
