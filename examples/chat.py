"""Chat with a Nemotron model through the OpenAI SDK: one plain request, one streamed.

    python examples/chat.py --base-url http://localhost:8000/v1 [--model NAME]
"""

from __future__ import annotations

from common import ExtraBodies, client, model_name, parser


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--prompt", default="Write one sentence about the sea.")
    p.add_argument("--max-tokens", type=int, default=256)
    args = p.parse_args()
    api = client(args)
    model, extra = model_name(args, api), ExtraBodies(args.extra_body)
    messages = [{"role": "user", "content": args.prompt}]

    reply = api.chat.completions.create(model=model, messages=messages,
                                        max_tokens=args.max_tokens, extra_body=extra.next())
    print(f"chat: {reply.choices[0].message.content}")
    print(f"chat finish_reason: {reply.choices[0].finish_reason}")

    pieces, finish = [], None
    stream = api.chat.completions.create(model=model, messages=messages, stream=True,
                                         max_tokens=args.max_tokens, extra_body=extra.next())
    for chunk in stream:
        if not chunk.choices:
            continue
        pieces.append(chunk.choices[0].delta.content or "")
        finish = chunk.choices[0].finish_reason or finish
    print(f"stream: {''.join(pieces)}")
    print(f"stream finish_reason: {finish} ({len(pieces)} chunks)")


if __name__ == "__main__":
    main()
