"""Our chat templates, rendered by transformers (as vLLM renders them), against golden files.

The golden files are the exact prompts of NVIDIA's format for each family: on every
conversation that golden/formats.json does not list as differing, the golden is what NVIDIA's
own template renders (test_official_formats.py checks that against local copies of those
templates; docs/templates.md has the sources). Set UPDATE_GOLDEN=1 to rewrite them after an
intended change, then review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.serving.conversations import CONVERSATIONS, TOOLS, call, call_json, user
from vllm_nemotron import chat_templates
from vllm_nemotron.serving.template_choice import template_features
from vllm_nemotron.tiny import save_tokenizer

GOLDEN = Path(__file__).parent / "golden"
TEMPLATES = [name.removesuffix(".jinja") for name in chat_templates.names()]


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory):
    from transformers import AutoTokenizer

    out = {}
    for name in TEMPLATES:
        path = tmp_path_factory.mktemp(name)
        save_tokenizer(path, chat_templates.text(name), bos_token="<|begin_of_text|>")
        out[name] = AutoTokenizer.from_pretrained(str(path))
    return out


def render(tokenizer, case: dict, add_generation_prompt: bool = True) -> str:
    """The prompt vLLM would build: apply_chat_template with the case's tools and kwargs."""
    case = dict(case)
    messages, tools, documents = (case.pop("messages"), case.pop("tools", None),
                                  case.pop("documents", None))
    return tokenizer.apply_chat_template(messages, tools=tools, documents=documents,
                                         tokenize=False,
                                         add_generation_prompt=add_generation_prompt, **case)


@pytest.mark.parametrize("conversation", sorted(CONVERSATIONS))
@pytest.mark.parametrize("template", TEMPLATES)
def test_golden(tokenizers, template, conversation):
    text = render(tokenizers[template], CONVERSATIONS[conversation])
    golden = GOLDEN / f"{template}__{conversation}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text)
    assert golden.is_file(), f"missing golden {golden.name}: run with UPDATE_GOLDEN=1 and review"
    assert text == golden.read_text()


def test_every_template_names_its_official_format():
    formats = json.loads((GOLDEN / "formats.json").read_text())
    assert sorted(k for k in formats if not k.startswith("_")) == sorted(TEMPLATES)
    for name in TEMPLATES:
        assert formats[name]["references"], name
        assert set(formats[name]["differs"]) <= set(CONVERSATIONS), name


# template -> what it must support (the kwargs and fields NVIDIA's templates of the family read)
SUPPORTS = {
    "nemotron_nano_v3": {"tools", "tool_calls", "enable_thinking", "truncate_history_thinking",
                         "reasoning_content"},
    "nemotron_nano_v2": {"tools", "tool_calls", "enable_thinking", "/think"},
    "llama_nemotron_tools": {"tools", "tool_calls", "enable_thinking", "detailed thinking",
                             "reasoning_content"},
    "nemotron_mini": {"tools", "tool_calls"},
}


@pytest.mark.parametrize("template", TEMPLATES)
def test_template_features_are_detected(template):
    assert SUPPORTS[template] <= set(template_features(chat_templates.text(template)))


# template, chat_template_kwargs, system text -> how the generation prompt must end
V2_OPEN, V2_CLOSED = "<SPECIAL_11>Assistant\n<think>\n", "<SPECIAL_11>Assistant\n<think></think>"
V3_OPEN, V3_CLOSED = "<|im_start|>assistant\n<think>\n", "<|im_start|>assistant\n<think></think>"
GENERATION_PROMPTS = [
    ("llama_nemotron_tools", {}, None, "<|start_header_id|>assistant<|end_header_id|>\n\n"),
    ("nemotron_mini", {}, None, "<extra_id_1>Assistant\n"),
    ("nemotron_nano_v2", {}, None, V2_OPEN),
    ("nemotron_nano_v2", {}, "/no_think", V2_CLOSED),
    ("nemotron_nano_v2", {"enable_thinking": False}, None, V2_CLOSED),
    ("nemotron_nano_v2", {"enable_thinking": True}, "/no_think", V2_OPEN),
    ("nemotron_nano_v3", {}, None, V3_OPEN),
    ("nemotron_nano_v3", {"enable_thinking": False}, None, V3_CLOSED),
    ("nemotron_nano_v3", {"enable_thinking": None}, None, V3_OPEN),
]


@pytest.mark.parametrize("template,kwargs,system,suffix", GENERATION_PROMPTS)
def test_generation_prompt_opens_thinking(tokenizers, template, kwargs, system, suffix):
    messages = ([{"role": "system", "content": system}] if system else []) + [user("Hi")]
    text = render(tokenizers[template], dict(messages=messages, **kwargs))
    assert text.endswith(suffix)
    if template == "nemotron_nano_v2":  # the switch is consumed, not shown to the model
        assert "/no_think" not in text


# tools given, kwargs, system text -> the Llama-Nemotron system turn's text
LLAMA_SYSTEM = [
    (False, {}, None, "detailed thinking on"),  # the checkpoints' own template
    (True, {}, None, "detailed thinking off\n\n<AVAILABLE_TOOLS>"),  # the card's tool template
    (False, {"enable_thinking": False}, None, "detailed thinking off"),
    (True, {"enable_thinking": True}, None, "detailed thinking on\n\n<AVAILABLE_TOOLS>"),
    (False, {}, "  Be brief.  ", "Be brief."),  # the user's system text, trimmed
    (False, {"enable_thinking": True}, "detailed thinking off", "detailed thinking off"),
]


@pytest.mark.parametrize("tools,kwargs,system,expected", LLAMA_SYSTEM)
def test_llama_detailed_thinking_system_line(tokenizers, tools, kwargs, system, expected):
    messages = ([{"role": "system", "content": system}] if system else []) + [user("Hi")]
    text = render(tokenizers["llama_nemotron_tools"],
                  dict(messages=messages, tools=TOOLS if tools else None, **kwargs))
    assert text.startswith(f"<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                           f"{expected}")


@pytest.mark.parametrize("template", ["llama_nemotron_tools", "nemotron_mini", "nemotron_nano_v2"])
def test_string_arguments_render_like_decoded_ones(tokenizers, template):
    """Clients may send arguments as a JSON string; the JSON formats write it unchanged."""
    turns = [user("x"), {"role": "assistant", "content": "", "tool_calls": [call("f", a=1)]},
             {"role": "tool", "content": "1"}]
    as_str = [*turns[:1], {"role": "assistant", "content": "", "tool_calls": [call_json("f", a=1)]},
              turns[2]]
    tok = tokenizers[template]
    assert render(tok, dict(messages=turns, tools=TOOLS)) == render(
        tok, dict(messages=as_str, tools=TOOLS))


# reasoning field, truncate_history_thinking -> the past turn's text in the Nemotron-3 format
NANO_V3_HISTORY = [
    ("reasoning_content", None, "<|im_start|>assistant\n<think></think>\n4<|im_end|>"),
    ("reasoning", None, "<|im_start|>assistant\n<think></think>\n4<|im_end|>"),
    ("reasoning_content", False, "<|im_start|>assistant\n<think>\nTwo.\n</think>\n4<|im_end|>"),
    ("reasoning", False, "<|im_start|>assistant\n<think>\nTwo.\n</think>\n4<|im_end|>"),
    (None, None, "<|im_start|>assistant\n<think></think>4<|im_end|>"),
]


@pytest.mark.parametrize("field,truncate,expected", NANO_V3_HISTORY)
def test_nano_v3_history_reasoning(tokenizers, field, truncate, expected):
    answer = {"role": "assistant", "content": "4", **({field: "Two."} if field else {})}
    kwargs = {} if truncate is None else {"truncate_history_thinking": truncate}
    text = render(tokenizers["nemotron_nano_v3"],
                  dict(messages=[user("2+2?"), answer, user("3+3?")], **kwargs))
    assert expected in text


def test_nano_v2_prefill_keeps_the_final_turn_open(tokenizers):
    """A final assistant message is continued, in the card's format."""
    messages = [user("Hi"), {"role": "assistant", "content": "Hel"}]
    text = render(tokenizers["nemotron_nano_v2"],
                  dict(messages=messages, continue_final_message=True), add_generation_prompt=False)
    assert text.endswith("<SPECIAL_11>Assistant\n<think>\nHel")
