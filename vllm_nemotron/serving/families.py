"""The Nemotron families as data: what each needs from `vllm serve`, and where that was read.

One `Family` entry is one recipe. Adding the next Nemotron is adding an entry here: how to
recognise it (architecture, name, the MoE traits of its config), its parsers and chat
template, which checkpoint precisions exist and which of them the card serves with an fp8 KV
cache, how many MTP tokens the guides speculate, and any flag a guide requires. The code that
reads the table (`recipes`, `planning`, `preflight`) knows no family by name.
docs/recipes.md has each entry's sources.
"""

from __future__ import annotations

from dataclasses import dataclass

TOOL_TEMPLATE_NEEDS = ("tools", "tool_calls")
THINKING_TEMPLATE_NEEDS = (*TOOL_TEMPLATE_NEEDS, "enable_thinking")

# Checkpoint precisions, as `checkpoint.precision` names them.
BF16, FP8, NVFP4 = "BF16", "FP8", "NVFP4"

# Traits read from a config (checkpoint.config_traits): MoE layers, latent MoE projections,
# an MTP head.
MOE, LATENT_MOE, MTP = "moe", "latent_moe", "mtp"

VLLM_RECIPES = "vllm-project/recipes models/nvidia/"  # + the file named in each entry


@dataclass(frozen=True)
class Flag:
    """vLLM arguments a guide requires, why, and for which checkpoint precisions (all if
    empty)."""

    args: tuple[str, ...]
    why: str
    precisions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Family:
    """What one Nemotron family needs from `vllm serve`."""

    name: str
    description: str
    architectures: tuple[str, ...]
    name_pattern: str  # regex, matched case-insensitively against the hub id or directory name
    max_model_len: int
    tool_parser: str | None = None
    reasoning_parser: str | None = None
    chat_template: str | None = None  # our template (file in vllm_nemotron.chat_templates)
    # Set when the model card serves the family with a separate template: ours reproduces it.
    card_template: str | None = None
    # What the checkpoint's template must support for this recipe (template_choice.FEATURES).
    template_needs: tuple[str, ...] = TOOL_TEMPLATE_NEEDS
    # What the published checkpoints' own templates lack (used when none can be read here).
    own_template_lacks: tuple[str, ...] = ()
    own_template_note: str = ""
    hybrid: bool = False  # Mamba layers: keep the SSM state in float32
    # The config's MoE traits (MOE, LATENT_MOE, MTP); a config with other traits is another
    # family. `config_hint`: config values that tell apart families with the same traits.
    traits: frozenset[str] = frozenset()
    config_hint: tuple[tuple[str, object], ...] = ()
    precisions: tuple[str, ...] = (BF16,)  # the published checkpoints
    fp8_kv_cache: tuple[str, ...] = ()  # precisions the card serves with --kv-cache-dtype fp8
    mtp_tokens: int | None = None  # speculative tokens the guides use; None: no MTP head
    extra: tuple[Flag, ...] = ()  # flags a guide requires
    # The architecture alone identifies the family (not so for a generic Llama).
    architecture_is_enough: bool = True
    examples: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    @property
    def moe(self) -> bool:
        return MOE in self.traits


TRUST_REMOTE_CODE = Flag(
    ("--trust-remote-code",),
    "the checkpoint's config class is its own code: vLLM 0.32/0.33 ship none for the Nemotron-H "
    "VL/Omni architectures (vLLM's recipes pass it too)")

FAMILIES: tuple[Family, ...] = (
    Family(
        name="llama-nemotron-nano",
        description="Llama-3.1-Nemotron-Nano (4B-v1.1, 8B-v1): Llama with detailed-thinking "
        "and <TOOLCALL> JSON tool calls",
        architectures=("LlamaForCausalLM",),
        name_pattern=r"llama-3[._]1-nemotron-nano|nemotron-nano-[48]b-v1",
        max_model_len=131072,
        tool_parser="llama_nemotron_json",
        reasoning_parser="llama_nemotron_thinking",
        chat_template="llama_nemotron_tools.jinja",
        card_template="the model card serves tool calls with a separate template "
        "(llama_nemotron_nano_generic_tool_calling.jinja); ours writes its format",
        architecture_is_enough=False,
        examples=("nvidia/Llama-3.1-Nemotron-Nano-4B-v1.1",),
    ),
    Family(
        name="llama-nemotron-super-v1.5",
        description="Llama-3.3-Nemotron-Super-49B-v1.5 (DeciLM): /think and /no_think, "
        "<TOOLCALL> JSON tool calls in its own template",
        architectures=("DeciLMForCausalLM",),
        name_pattern=r"super-49b-v1[._]5",
        max_model_len=131072,
        tool_parser="llama_nemotron_json",
        reasoning_parser="llama_nemotron_thinking",
        own_template_note="Super-49B-v1.5's own template renders tools, tool calls and "
        "/think, /no_think",
        architecture_is_enough=False,
        examples=("nvidia/Llama-3_3-Nemotron-Super-49B-v1_5",),
    ),
    Family(
        name="llama-nemotron-nas",
        description="Llama-Nemotron Super-49B-v1 / Ultra-253B-v1 (DeciLM, NAS-derived blocks)",
        architectures=("DeciLMForCausalLM",),
        name_pattern=r"nemotron-(super|ultra)|deci",
        max_model_len=131072,
        tool_parser="llama_nemotron_json",
        reasoning_parser="llama_nemotron_thinking",
        chat_template="llama_nemotron_tools.jinja",
        own_template_lacks=("tools", "tool_calls"),
        own_template_note="Ultra-253B-v1's own template renders no tools; ours keeps its chat "
        "format and adds the Llama-Nemotron <AVAILABLE_TOOLS>/<TOOLCALL> format",
        examples=("nvidia/Llama-3_3-Nemotron-Super-49B-v1",
                  "nvidia/Llama-3_1-Nemotron-Ultra-253B-v1"),
    ),
    Family(
        name="nemotron-3-super-omni",
        description="Nemotron-3-Super Omni (vLLM's NemotronH_Nano_VL_V2 class with a Super "
        "language model): images, video, audio, reasoning and tools",
        architectures=("NemotronH_Super_Omni_Reasoning_V3",),
        name_pattern=r"super-omni",
        max_model_len=131072,
        tool_parser="nemotron3_xml",
        reasoning_parser="super_v3",
        template_needs=THINKING_TEMPLATE_NEEDS,
        hybrid=True,
        traits=frozenset({MOE, LATENT_MOE, MTP}),
        precisions=(BF16, FP8, NVFP4),
        fp8_kv_cache=(BF16, FP8, NVFP4),
        mtp_tokens=3,
        extra=(TRUST_REMOTE_CODE,),
        sources=("vLLM 0.32 model_executor/models/registry.py",),
    ),
    Family(
        name="nemotron-3-nano-omni",
        description="Nemotron-3-Nano-Omni-30B-A3B-Reasoning (vLLM's NemotronH_Nano_VL_V2 class "
        "with a Nano-30B language model): images, video, audio, reasoning and tools",
        architectures=("NemotronH_Nano_Omni_Reasoning_V3", "NemotronH_Omni_Reasoning_V3"),
        name_pattern=r"omni",
        max_model_len=131072,
        tool_parser="nemotron3_xml",
        reasoning_parser="nano_v3",
        template_needs=THINKING_TEMPLATE_NEEDS,
        hybrid=True,
        traits=frozenset({MOE}),
        precisions=(BF16, FP8, NVFP4),
        fp8_kv_cache=(FP8, NVFP4),
        extra=(TRUST_REMOTE_CODE,),
        examples=("nvidia/Nemotron-3-Nano-Omni-30B-A3B-Reasoning-BF16",
                  "nvidia/Nemotron-3-Nano-Omni-30B-A3B-Reasoning-FP8",
                  "nvidia/Nemotron-3-Nano-Omni-30B-A3B-Reasoning-NVFP4"),
        sources=(VLLM_RECIPES + "Nemotron-3-Nano-Omni-30B-A3B-Reasoning-BF16.yaml",),
    ),
    Family(
        name="nemotron-nano-vl-v2",
        description="NVIDIA-Nemotron-Nano-12B-v2-VL (hybrid Mamba2/attention with a vision "
        "encoder): images and video",
        architectures=("NemotronH_Nano_VL_V2",),
        name_pattern=r"nano-12b-v2-vl|nano-vl",
        max_model_len=131072,
        template_needs=(),
        hybrid=True,
        precisions=(BF16, FP8, NVFP4),
        extra=(TRUST_REMOTE_CODE,),
        examples=("nvidia/NVIDIA-Nemotron-Nano-12B-v2-VL-BF16",),
        sources=(VLLM_RECIPES + "NVIDIA-Nemotron-Nano-12B-v2-VL-BF16.yaml",),
    ),
    Family(
        name="nemotron-3-nano-30b",
        description="NVIDIA-Nemotron-3-Nano-30B-A3B (hybrid Mamba2/attention, 128-expert MoE, "
        "31.6B total / 3.6B active): enable_thinking, XML tool calls, 262k context",
        architectures=("NemotronHForCausalLM",),
        name_pattern=r"nemotron-3-nano-30b",
        max_model_len=262144,
        tool_parser="nemotron3_xml",
        reasoning_parser="nano_v3",
        chat_template="nemotron_nano_v3.jinja",
        template_needs=THINKING_TEMPLATE_NEEDS,
        own_template_note="Its own template reads enable_thinking and truncate_history_thinking",
        hybrid=True,
        traits=frozenset({MOE}),
        precisions=(BF16, FP8, NVFP4),
        fp8_kv_cache=(FP8, NVFP4),
        examples=("nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16",
                  "nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-FP8",
                  "nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-NVFP4"),
        sources=(VLLM_RECIPES + "NVIDIA-Nemotron-3-Nano-30B-A3B-BF16.yaml",
                 "vllm-project/recipes NVIDIA/Nemotron-3-Nano-30B-A3B.md"),
    ),
    Family(
        name="nemotron-3-nano",
        description="NVIDIA-Nemotron-3-Nano (hybrid Mamba2/attention): enable_thinking, "
        "XML tool calls, 262k context",
        architectures=("NemotronHForCausalLM",),
        name_pattern=r"nemotron-3-nano|nano[-_]v3",
        max_model_len=262144,
        tool_parser="nemotron3_xml",
        reasoning_parser="nano_v3",
        chat_template="nemotron_nano_v3.jinja",
        template_needs=THINKING_TEMPLATE_NEEDS,
        own_template_note="Its own template reads enable_thinking and truncate_history_thinking",
        hybrid=True,
        examples=("nvidia/NVIDIA-Nemotron-3-Nano-4B-BF16",),
        sources=(VLLM_RECIPES + "NVIDIA-Nemotron-3-Nano-4B-BF16.yaml",),
    ),
    Family(
        name="nemotron-3-super",
        description="NVIDIA-Nemotron-3-Super-120B-A12B (hybrid Mamba2/attention, 512-expert "
        "latent MoE, MTP head; 120.7B total / 12.8B active)",
        architectures=("NemotronHForCausalLM",),
        name_pattern=r"nemotron-3-super|super[-_]v3",
        max_model_len=262144,
        tool_parser="nemotron3_xml",
        reasoning_parser="super_v3",
        template_needs=THINKING_TEMPLATE_NEEDS,
        own_template_note="Super's own template reads enable_thinking, low_effort and "
        "truncate_history_thinking",
        hybrid=True,
        traits=frozenset({MOE, LATENT_MOE, MTP}),
        config_hint=(("hidden_size", 4096),),
        precisions=(BF16, FP8, NVFP4),
        fp8_kv_cache=(BF16, FP8, NVFP4),
        mtp_tokens=3,
        examples=("nvidia/NVIDIA-Nemotron-3-Super-120B-A12B-BF16",
                  "nvidia/NVIDIA-Nemotron-3-Super-120B-A12B-FP8",
                  "nvidia/NVIDIA-Nemotron-3-Super-120B-A12B-NVFP4"),
        sources=(VLLM_RECIPES + "NVIDIA-Nemotron-3-Super-120B-A12B-BF16.yaml",),
    ),
    Family(
        name="nemotron-3-ultra",
        description="NVIDIA-Nemotron-3-Ultra-550B-A55B (hybrid Mamba2/attention, 512-expert "
        "latent MoE, MTP head; 549B total / 56B active)",
        architectures=("NemotronHForCausalLM",),
        name_pattern=r"nemotron-3-ultra",
        max_model_len=262144,
        tool_parser="nemotron3_xml",
        reasoning_parser="ultra_v3",
        template_needs=THINKING_TEMPLATE_NEEDS,
        hybrid=True,
        traits=frozenset({MOE, LATENT_MOE, MTP}),
        config_hint=(("hidden_size", 8192),),
        precisions=(BF16, NVFP4),
        fp8_kv_cache=(BF16, NVFP4),
        mtp_tokens=5,
        examples=("nvidia/NVIDIA-Nemotron-3-Ultra-550B-A55B-BF16",
                  "nvidia/NVIDIA-Nemotron-3-Ultra-550B-A55B-NVFP4"),
        sources=(VLLM_RECIPES + "NVIDIA-Nemotron-3-Ultra-550B-A55B-BF16.yaml",),
    ),
    Family(
        name="nemotron-3.5-lightning",
        description="NVIDIA-Nemotron-3.5-Lightning-30B-A3B (hybrid Mamba2/attention MoE, MTP "
        "head; 30B total / 3B active)",
        architectures=("NemotronHForCausalLM",),
        name_pattern=r"nemotron-3\.5|lightning-30b",
        max_model_len=262144,
        tool_parser="nemotron3_xml",
        reasoning_parser="super_v3",
        template_needs=THINKING_TEMPLATE_NEEDS,
        hybrid=True,
        traits=frozenset({MOE, MTP}),
        precisions=(BF16, NVFP4),
        fp8_kv_cache=(NVFP4,),
        mtp_tokens=3,
        extra=(
            Flag(("--moe-backend", "marlin"), "vLLM's recipe serves the NVFP4 (W4A16) "
                 "checkpoint with the Marlin MoE kernels", (NVFP4,)),
            Flag(("--moe-backend", "flashinfer_cutlass"), "vLLM's recipe serves the BF16 "
                 "checkpoint with FlashInfer's CUTLASS MoE kernels", (BF16,)),
        ),
        examples=("nvidia/NVIDIA-Nemotron-3.5-Lightning-30B-A3B-NVFP4",
                  "nvidia/NVIDIA-Nemotron-3.5-Lightning-30B-A3B-BF16"),
        sources=(VLLM_RECIPES + "NVIDIA-Nemotron-3.5-Lightning-30B-A3B-BF16.yaml",),
    ),
    Family(
        name="nemotron-nano-v2",
        description="NVIDIA-Nemotron-Nano-9B/12B-v2 (hybrid Mamba2/attention): /think, "
        "/no_think, <TOOLCALL> JSON tool calls",
        architectures=("NemotronHForCausalLM",),
        name_pattern=r"nano-(9b|12b)-v2|nano[-_]v2",
        max_model_len=131072,
        tool_parser="llama_nemotron_json",
        reasoning_parser="nano_v3",
        chat_template="nemotron_nano_v2.jinja",
        template_needs=(*TOOL_TEMPLATE_NEEDS, "/think"),
        own_template_note="Its own template switches thinking with /think and /no_think only, "
        "not with enable_thinking or reasoning_effort (ours reads both: "
        "--chat-template-from-plugin)",
        hybrid=True,
        examples=("nvidia/NVIDIA-Nemotron-Nano-9B-v2",),
    ),
    Family(
        name="nemotron-mini",
        description="Nemotron-Mini-4B-Instruct (Nemotron-4): <extra_id_1> turns, <toolcall> "
        "tool calls, 4k context",
        architectures=("NemotronForCausalLM",),
        name_pattern=r"nemotron-mini|minitron",
        max_model_len=4096,
        tool_parser="nemotron_mini",
        chat_template="nemotron_mini.jinja",
        own_template_lacks=("tool_calls",),
        own_template_note="Nemotron-Mini-4B-Instruct's own template drops the assistant's tool "
        "calls from the history; ours writes them as the card's <toolcall> turns",
        examples=("nvidia/Nemotron-Mini-4B-Instruct",),
    ),
)


def family_named(name: str) -> Family | None:
    return next((f for f in FAMILIES if f.name == name), None)
