"""Reasoning on and off through the OpenAI SDK, plus a streamed reasoning answer.

    python examples/reasoning.py --base-url http://localhost:8000/v1 [--model NAME]

Thinking is switched per request with `chat_template_kwargs={"enable_thinking": ...}`, which
every vllm-nemotron chat template reads (Llama-Nemotron turns it into "detailed thinking
on/off", Nano-9B-v2 into /think and /no_think). The server needs a reasoning parser
(`vllm-nemotron serve` sets the family's one); the reasoning comes back in `reasoning`.
"""

from __future__ import annotations

from common import ExtraBodies, client, model_name, parser


def reasoning_of(obj) -> str | None:
    """vLLM returns the reasoning as `reasoning` (older releases: `reasoning_content`)."""
    for name in ("reasoning", "reasoning_content"):
        value = getattr(obj, name, None) or (obj.model_extra or {}).get(name)
        if value:
            return value
    return None


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--prompt", default="Is 97 a prime number?")
    p.add_argument("--max-tokens", type=int, default=1024)
    args = p.parse_args()
    api = client(args)
    model, extra = model_name(args, api), ExtraBodies(args.extra_body)
    messages = [{"role": "user", "content": args.prompt}]

    for label, thinking in (("on", True), ("off", False)):
        body = extra.next({"chat_template_kwargs": {"enable_thinking": thinking}})
        reply = api.chat.completions.create(model=model, messages=messages,
                                            max_tokens=args.max_tokens, extra_body=body)
        message = reply.choices[0].message
        print(f"thinking {label}: reasoning: {reasoning_of(message)!r}")
        print(f"thinking {label}: content: {message.content!r}")

    body = extra.next({"chat_template_kwargs": {"enable_thinking": True}})
    reasoning, content = [], []
    for chunk in api.chat.completions.create(model=model, messages=messages, stream=True,
                                             max_tokens=args.max_tokens, extra_body=body):
        if chunk.choices:
            reasoning.append(reasoning_of(chunk.choices[0].delta) or "")
            content.append(chunk.choices[0].delta.content or "")
    print(f"streamed: reasoning: {''.join(reasoning)!r}")
    print(f"streamed: content: {''.join(content)!r}")


if __name__ == "__main__":
    main()
