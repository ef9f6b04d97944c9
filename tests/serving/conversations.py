"""The conversations every chat template is rendered on (golden tests, official-format check).

Each case is the keyword arguments of `apply_chat_template` except `tokenize` and
`add_generation_prompt`: `messages`, and optionally `tools`, `documents` and template kwargs.
Together they exercise every kwarg and message field NVIDIA's Nemotron templates read:
enable_thinking, truncate_history_thinking, /think and /no_think, reasoning_content and
reasoning on assistant turns, tool-call arguments as a dict and as a JSON string, tool results.
"""

from __future__ import annotations

import json
from typing import Any

TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Current weather in a city.",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "description": "City name."},
            "unit": {"type": "string", "enum": ["C", "F"]}},
            "required": ["city"]}}},
    {"type": "function", "function": {
        "name": "get_time", "description": "Local time in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]}}},
]


def call(name: str, **arguments: Any) -> dict:
    """A tool call as vLLM hands it to templates: arguments already decoded into a dict."""
    return {"id": f"call_{name}", "type": "function",
            "function": {"name": name, "arguments": arguments}}


def call_json(name: str, **arguments: Any) -> dict:
    """A tool call as an OpenAI client sends it: arguments as a JSON string."""
    return {"id": f"call_{name}", "type": "function",
            "function": {"name": name, "arguments": json.dumps(arguments)}}


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def tool(text: str, call_id: str) -> dict:
    return {"role": "tool", "tool_call_id": call_id, "content": text}


CONVERSATIONS: dict[str, dict[str, Any]] = {
    # plain chat, no system message, a past answer that kept its <think> in the content
    "chat_no_system": dict(messages=[
        user("Hi!"),
        {"role": "assistant", "content": "<think>A greeting.</think>Hello! How can I help?"},
        user("Tell me a joke."),
    ]),
    # system message, and past reasoning given as reasoning_content (older turns)
    "history_reasoning_content": dict(messages=[
        {"role": "system", "content": "You are a helpful assistant."},
        user("2+2?"),
        {"role": "assistant", "content": "4", "reasoning_content": "Two plus two is four."},
        user("And 3+3?"),
    ]),
    # the same history with `reasoning`, the field name vLLM returns and clients send back
    "history_reasoning_field": dict(messages=[
        user("2+2?"),
        {"role": "assistant", "content": "4", "reasoning": "Two plus two is four."},
        user("And 3+3?"),
    ]),
    # truncate_history_thinking=false keeps the older reasoning
    "history_kept": dict(truncate_history_thinking=False, messages=[
        user("2+2?"),
        {"role": "assistant", "content": "4", "reasoning_content": "Two plus two is four."},
        user("And 3+3?"),
    ]),
    # tools, two parallel calls, two results, a final answer, then a second round
    "tools_multi_turn": dict(tools=TOOLS, messages=[
        {"role": "system", "content": "You are a travel assistant."},
        user("Weather and time in Paris?"),
        {"role": "assistant", "content": "", "reasoning_content": "Two tools are needed.",
         "tool_calls": [call("get_weather", city="Paris"), call("get_time", city="Paris")]},
        tool('{"temperature_c": 21}', "call_get_weather"),
        tool('{"time": "14:05"}', "call_get_time"),
        {"role": "assistant", "content": "It is 21 C and 14:05 in Paris."},
        user("And in Rome, in F?"),
        {"role": "assistant", "content": "Let me check.",
         "tool_calls": [call("get_weather", city="Rome", unit="F")]},
        tool('{"temperature_f": 77}', "call_get_weather"),
    ]),
    # an agentic loop in progress: reasoning and a call after the last user message
    "tool_loop_open": dict(tools=TOOLS, messages=[
        user("Time in Tokyo?"),
        {"role": "assistant", "content": "", "reasoning": "I need the clock tool.",
         "tool_calls": [call("get_time", city="Tokyo")]},
        tool('{"time": "09:30"}', "call_get_time"),
    ]),
    # arguments as a JSON string, as OpenAI clients send them
    "string_arguments": dict(tools=TOOLS, messages=[
        user("Weather in Oslo?"),
        {"role": "assistant", "content": "",
         "tool_calls": [call_json("get_weather", city="Oslo", unit="C")]},
        tool('{"temperature_c": -3}', "call_get_weather"),
    ]),
    # thinking switched off by the chat_template_kwargs
    "thinking_off_kwarg": dict(enable_thinking=False, messages=[
        {"role": "system", "content": "Be brief."},
        user("2+2?"),
    ]),
    # thinking switched off by a /no_think tag in the system message
    "no_think_tag": dict(messages=[
        {"role": "system", "content": "Be brief. /no_think"},
        user("2+2?"),
    ]),
    # /think in the last user message wins over an earlier /no_think
    "think_tag_user": dict(messages=[
        {"role": "system", "content": "/no_think"},
        user("Hi"),
        {"role": "assistant", "content": "Hello."},
        user("/think Why is the sky blue?"),
    ]),
    # the Llama-Nemotron system line chosen by the user
    "detailed_thinking_off": dict(messages=[
        {"role": "system", "content": "detailed thinking off"},
        user("Write a haiku."),
    ]),
    # retrieved passages (Nemotron-Mini's <context>)
    "rag_documents": dict(documents=[{"title": "fr", "text": "Paris is the capital of France."}],
                          messages=[user("Capital of France?")]),
}
