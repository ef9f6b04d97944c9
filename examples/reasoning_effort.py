"""OpenAI's `reasoning_effort` on a Nemotron server: the knob every OpenAI client has, as a budget.

    python examples/reasoning_effort.py --base-url http://localhost:8000/v1 [--model NAME]

With vllm-nemotron installed and a reasoning parser on the server (`vllm-nemotron serve` sets
the family's one), `reasoning_effort` sets the request's thinking budget: "none" turns thinking
off, "minimal", "low" and "medium" cap the thought (32, 512 and 16384 tokens unless the operator
set VLLM_NEMOTRON_EFFORT_BUDGETS), "high" leaves it uncapped. No client change: this is the
plain `openai` SDK. `usage.completion_tokens_details.reasoning_tokens` says how many of the
completion tokens were thinking.
"""

from __future__ import annotations

from common import ExtraBodies, client, model_name, parser


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--prompt", default="Is 97 a prime number?")
    p.add_argument("--efforts", default="none,low,high", help="comma-separated efforts to try")
    p.add_argument("--max-tokens", type=int, default=2048)
    args = p.parse_args()
    api = client(args)
    model, extra = model_name(args, api), ExtraBodies(args.extra_body)
    messages = [{"role": "user", "content": args.prompt}]

    for effort in args.efforts.split(","):
        reply = api.chat.completions.create(
            model=model, messages=messages, max_tokens=args.max_tokens,
            reasoning_effort=effort, extra_body=extra.next())
        details = reply.usage.completion_tokens_details if reply.usage else None
        thought = details.reasoning_tokens if details else None
        print(f"{effort}: reasoning_tokens={thought} answer={reply.choices[0].message.content!r}")

    # Streamed: the usage (with reasoning_tokens) arrives in the last chunk.
    answer, thought = [], None
    for chunk in api.chat.completions.create(
            model=model, messages=messages, max_tokens=args.max_tokens, reasoning_effort="low",
            stream=True, stream_options={"include_usage": True}, extra_body=extra.next()):
        if chunk.choices:
            answer.append(chunk.choices[0].delta.content or "")
        if chunk.usage and chunk.usage.completion_tokens_details:
            thought = chunk.usage.completion_tokens_details.reasoning_tokens
    print(f"streamed low: reasoning_tokens={thought} answer={''.join(answer)!r}")


if __name__ == "__main__":
    main()
