"""Template -> parser round trip: what a template renders for an assistant turn, the family's
parsers read back into the same message (reasoning, content, tool calls), streamed and not.

The assistant turn is rendered as history after the generation prompt, so the text the parser
sees is exactly what the model would have had to generate to produce that message.
"""

from __future__ import annotations

import json

import pytest

from tests.parsers.drive import non_streaming, streaming, token_chunks
from vllm_nemotron import chat_templates
from vllm_nemotron.tiny import save_tokenizer

TOOLS = [{"type": "function", "function": {
    "name": name, "description": "d",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                                                    "days": {"type": "integer"}}}}}
    for name in ("get_weather", "get_time")]

# template, tool parser, reasoning parser, end-of-turn token
FAMILIES = [
    ("llama_nemotron_tools", "llama_nemotron_json", "llama_nemotron_thinking", "<|eot_id|>"),
    ("nemotron_nano_v2", "llama_nemotron_json", "nano_v3", "<SPECIAL_12>"),
    ("nemotron_mini", "nemotron_mini", None, "<extra_id_1>"),
]

MESSAGES = {
    "content only": dict(content="Paris is the capital of France."),
    "reasoning and content": dict(reasoning="The user asks for a capital.",
                                  content="It is Paris."),
    "one call": dict(content="", tool_calls=[("get_weather", {"city": "Paris", "days": 3})]),
    "reasoning and two calls": dict(reasoning="Two tools are needed.", content="",
                                    tool_calls=[("get_weather", {"city": "Rome"}),
                                                ("get_time", {"city": "Rome"})]),
}


def assistant_message(spec: dict) -> dict:
    message = {"role": "assistant", "content": spec["content"]}
    if "reasoning" in spec:
        message["reasoning_content"] = spec["reasoning"]
    if "tool_calls" in spec:
        message["tool_calls"] = [
            {"id": f"call_{i}", "type": "function", "function": {"name": n, "arguments": a}}
            for i, (n, a) in enumerate(spec["tool_calls"])]
    return message


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory):
    from transformers import AutoTokenizer

    out = {}
    for template, *_ in FAMILIES:
        path = tmp_path_factory.mktemp(template)
        save_tokenizer(path, chat_templates.text(template))
        out[template] = AutoTokenizer.from_pretrained(str(path))
    return out


def generated_text(tokenizer, message: dict, end_of_turn: str,
                   **kwargs) -> tuple[str, list[int]]:
    """(text the model generates for `message`, prompt token ids before it)."""
    user = [{"role": "user", "content": "Weather in Paris?"}]
    prompt = tokenizer.apply_chat_template(user, tools=TOOLS, tokenize=False,
                                           add_generation_prompt=True, **kwargs)
    full = tokenizer.apply_chat_template(user + [message], tools=TOOLS, tokenize=False, **kwargs)
    assert full.startswith(prompt), "the template renders the assistant turn after another prefix"
    generated = full[len(prompt):]
    # The model stops with the end-of-turn token; a template may also leave it to the next turn.
    generated = generated.split(end_of_turn)[0]
    return generated, tokenizer.encode(prompt, add_special_tokens=False)


# every message for every family; reasoning only where the family has a reasoning mode
CASES = [(*family, case) for family in FAMILIES for case in sorted(MESSAGES)
         if family[2] is not None or "reasoning" not in MESSAGES[case]]


@pytest.mark.parametrize("template,tool,reasoning,end_of_turn,case", CASES)
def test_template_output_parses_back_to_the_message(tokenizers, template, tool, reasoning,
                                                    end_of_turn, case):
    spec = MESSAGES[case]
    tokenizer = tokenizers[template]
    # A turn without reasoning is what the model writes with thinking off.
    kwargs = {"enable_thinking": "reasoning" in spec} if reasoning else {}
    text, prompt_ids = generated_text(tokenizer, assistant_message(spec), end_of_turn, **kwargs)

    results = [non_streaming(tokenizer, text, prompt_ids, tool=tool, reasoning=reasoning, **kwargs),
               streaming(tokenizer, token_chunks(tokenizer, text, range(1, 400)), prompt_ids,
                         tool=tool, reasoning=reasoning, **kwargs)]
    for result in results:
        assert result.reasoning.strip() == spec.get("reasoning", "")
        assert result.content.strip() == spec["content"]
        assert [(name, json.loads(args)) for name, args in result.calls] == \
            [(name, args) for name, args in spec.get("tool_calls", [])]
