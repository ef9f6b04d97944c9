"""Chat templates rendered by transformers with the harness tokenizer, against golden files.

Set UPDATE_GOLDEN=1 to rewrite the goldens after an intended template change, then review
the diff: the golden files are the reviewed, exact prompts each family sees.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vllm_nemotron.tiny import save_tokenizer
from vllm_nemotron import chat_templates

GOLDEN = Path(__file__).parent / "golden"
TEMPLATES = ["llama_nemotron_tools", "nemotron_mini", "nemotron_nano_v2", "nemotron_nano_v3"]

TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Current weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]}}},
    {"type": "function", "function": {
        "name": "get_time", "description": "Local time in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]}}},
]


def call(name: str, **arguments) -> dict:
    # vLLM hands templates the arguments already decoded into a dict.
    return {"id": f"call_{name}", "type": "function",
            "function": {"name": name, "arguments": arguments}}


CONVERSATIONS = {
    "tools_multi_turn": dict(tools=TOOLS, messages=[
        {"role": "system", "content": "You are a travel assistant."},
        {"role": "user", "content": "Weather and time in Paris?"},
        {"role": "assistant", "content": "", "reasoning_content": "Two tools are needed.",
         "tool_calls": [call("get_weather", city="Paris"), call("get_time", city="Paris")]},
        {"role": "tool", "tool_call_id": "call_get_weather", "content": '{"temperature_c": 21}'},
        {"role": "tool", "tool_call_id": "call_get_time", "content": '{"time": "14:05"}'},
        {"role": "assistant", "content": "It is 21 C and 14:05 in Paris."},
        {"role": "user", "content": "And in Rome?"},
        {"role": "assistant", "content": "Let me check.",
         "tool_calls": [call("get_weather", city="Rome")]},
        {"role": "tool", "tool_call_id": "call_get_weather", "content": '{"temperature_c": 25}'},
    ]),
    "chat_no_system": dict(messages=[
        {"role": "user", "content": "Hi!"},
        {"role": "assistant", "content": "<think>Greeting.</think>Hello! How can I help?"},
        {"role": "user", "content": "Tell me a joke."},
    ]),
    "thinking_off": dict(enable_thinking=False, messages=[
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "2+2?"},
    ]),
    "no_think_tag": dict(messages=[
        {"role": "system", "content": "Be brief. /no_think"},
        {"role": "user", "content": "2+2?"},
    ]),
    "rag_documents": dict(documents=[{"title": "fr", "text": "Paris is the capital of France."}],
                          messages=[{"role": "user", "content": "Capital of France?"}]),
}


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory):
    from transformers import AutoTokenizer

    out = {}
    for name in TEMPLATES:
        path = tmp_path_factory.mktemp(name)
        save_tokenizer(path, chat_templates.text(name),
                       bos_token="<|begin_of_text|>")
        out[name] = AutoTokenizer.from_pretrained(str(path))
    return out


def render(tokenizer, case: dict, add_generation_prompt: bool = True) -> str:
    case = dict(case)
    messages, tools, documents = case.pop("messages"), case.pop("tools", None), case.pop(
        "documents", None)
    return tokenizer.apply_chat_template(messages, tools=tools, documents=documents,
                                         tokenize=False, add_generation_prompt=add_generation_prompt,
                                         **case)


@pytest.mark.parametrize("conversation", sorted(CONVERSATIONS))
@pytest.mark.parametrize("template", TEMPLATES)
def test_golden(tokenizers, template, conversation):
    text = render(tokenizers[template], CONVERSATIONS[conversation])
    golden = GOLDEN / f"{template}__{conversation}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text)
    assert golden.is_file(), f"missing golden {golden.name}: run with UPDATE_GOLDEN=1 and review"
    assert text == golden.read_text()


# template, chat_template_kwargs / system text -> how the generation prompt must end
GENERATION_PROMPTS = [
    ("llama_nemotron_tools", {}, None, "<|start_header_id|>assistant<|end_header_id|>\n\n"),
    ("nemotron_mini", {}, None, "<extra_id_1>Assistant\n"),
    ("nemotron_nano_v2", {}, None, "<SPECIAL_11>Assistant\n<think>\n"),
    ("nemotron_nano_v2", {}, "/no_think", "<SPECIAL_11>Assistant\n<think></think>"),
    ("nemotron_nano_v2", {"enable_thinking": False}, None, "<SPECIAL_11>Assistant\n<think></think>"),
    ("nemotron_nano_v2", {"enable_thinking": True}, "/no_think", "<SPECIAL_11>Assistant\n<think>\n"),
    ("nemotron_nano_v3", {}, None, "<|im_start|>assistant\n<think>\n"),
    ("nemotron_nano_v3", {"enable_thinking": False}, None, "<|im_start|>assistant\n<think></think>"),
]


@pytest.mark.parametrize("template,kwargs,system,suffix", GENERATION_PROMPTS)
def test_generation_prompt_opens_thinking(tokenizers, template, kwargs, system, suffix):
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": "Hi"}]
    text = render(tokenizers[template], dict(messages=messages, **kwargs))
    assert text.endswith(suffix)
    if template == "nemotron_nano_v2":  # the switch is consumed, not shown to the model
        assert "/no_think" not in text


# "detailed thinking" line of the Llama-Nemotron system prompt
LLAMA_THINKING = [
    ({}, None, "detailed thinking on"),
    ({"enable_thinking": False}, None, "detailed thinking off"),
    ({}, "Be brief.", "detailed thinking on\n\nBe brief."),
    ({"enable_thinking": True}, "detailed thinking off", "detailed thinking off"),  # user's wins
]


@pytest.mark.parametrize("kwargs,system,expected", LLAMA_THINKING)
def test_llama_detailed_thinking_system_line(tokenizers, kwargs, system, expected):
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": "Hi"}]
    text = render(tokenizers["llama_nemotron_tools"], dict(messages=messages, **kwargs))
    assert f"<|start_header_id|>system<|end_header_id|>\n\n{expected}<|eot_id|>" in text


@pytest.mark.parametrize("template", TEMPLATES)
def test_string_arguments_render_like_decoded_ones(tokenizers, template):
    """Clients may send arguments as a JSON string; the JSON templates render it unchanged."""
    if template == "nemotron_nano_v3":
        pytest.skip("XML parameters need decoded arguments; vLLM always decodes them")
    as_dict = [{"role": "user", "content": "x"},
               {"role": "assistant", "content": "", "tool_calls": [call("f", a=1)]}]
    as_str = [{"role": "user", "content": "x"},
              {"role": "assistant", "content": "", "tool_calls": [
                  {"id": "c", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}]}]
    tok = tokenizers[template]
    assert render(tok, dict(messages=as_dict)) == render(tok, dict(messages=as_str))
