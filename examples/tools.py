"""Tool calling through the OpenAI SDK: tool_choice auto, required and named, then a full round
trip in which the tool's result is sent back and the model answers with it.

    python examples/tools.py --base-url http://localhost:8000/v1 [--model NAME]

The server needs a tool parser (`vllm-nemotron serve` sets the family's one).
"""

from __future__ import annotations

import json

from common import ExtraBodies, client, model_name, parser

TOOLS = [{
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name"}},
            "required": ["city"],
        },
    },
}]


def get_weather(city: str) -> dict:
    """The 'tool': a stand-in for a real weather service."""
    return {"city": city, "temperature_c": 21, "sky": "clear"}


def describe(message) -> str:
    calls = message.tool_calls or []
    if not calls:
        return f"no tool call; content: {message.content!r}"
    return "; ".join(f"{c.function.name}({c.function.arguments})" for c in calls)


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--prompt", default="What is the weather in Paris?")
    p.add_argument("--max-tokens", type=int, default=512)
    args = p.parse_args()
    api = client(args)
    model, extra = model_name(args, api), ExtraBodies(args.extra_body)
    messages = [{"role": "user", "content": args.prompt}]

    def ask(msgs, tool_choice):
        return api.chat.completions.create(
            model=model, messages=msgs, tools=TOOLS, tool_choice=tool_choice,
            max_tokens=args.max_tokens, extra_body=extra.next()).choices[0]

    for label, choice in (("auto", "auto"), ("required", "required"),
                          ("named", {"type": "function", "function": {"name": "get_weather"}})):
        print(f"{label}: {describe(ask(messages, choice).message)}")

    # Round trip: the model calls the tool, we run it, and send the result back.
    first = ask(messages, "auto")
    if not first.message.tool_calls:
        print(f"round trip: the model answered without a tool: {first.message.content!r}")
        return
    history = messages + [{
        "role": "assistant",
        "content": first.message.content,
        "tool_calls": [c.model_dump(include={"id", "type", "function"})
                       for c in first.message.tool_calls],
    }]
    for call in first.message.tool_calls:
        result = get_weather(**json.loads(call.function.arguments))
        call_text = f"{call.function.name}({call.function.arguments})"
        print(f"round trip: {call_text} -> {json.dumps(result)}")
        history.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)})
    final = ask(history, "auto")
    print(f"round trip answer: {final.message.content}")
    print(f"round trip finish_reason: {final.finish_reason}")


if __name__ == "__main__":
    main()
