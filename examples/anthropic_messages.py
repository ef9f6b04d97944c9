"""Anthropic's Messages API on a Nemotron server, through the official `anthropic` SDK.

    python examples/anthropic_messages.py --base-url http://localhost:8000/v1 [--model NAME]

vLLM serves `/v1/messages`; with vllm-nemotron and a reasoning parser on the server, Claude
clients' thinking knobs work as they do against Anthropic: `thinking.budget_tokens` caps the
thought (the plugin's budget: the model may finish its line, then thinking ends),
`output_config.effort` maps onto the plugin's effort budgets, `thinking.type: disabled` turns
thinking off. The thought comes back as a `thinking` block, the answer as `text`.
"""

from __future__ import annotations

import anthropic
from common import ExtraBodies, model_name, parser


def show(label: str, message) -> None:
    for block in message.content:
        text = block.thinking if block.type == "thinking" else getattr(block, "text", None)
        print(f"{label}: {block.type}: {text!r}")
    print(f"{label}: stop_reason: {message.stop_reason}")


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--prompt", default="Is 97 a prime number?")
    p.add_argument("--max-tokens", type=int, default=4096)
    args = p.parse_args()
    # The SDK adds /v1/messages to the server's root.
    api = anthropic.Anthropic(base_url=args.base_url.removesuffix("/").removesuffix("/v1"),
                              api_key=args.api_key, max_retries=0)
    model, extra = model_name(args), ExtraBodies(args.extra_body)
    request = dict(model=model, max_tokens=args.max_tokens,
                   messages=[{"role": "user", "content": args.prompt}])

    show("budget_tokens", api.messages.create(
        **request, thinking={"type": "enabled", "budget_tokens": 1024},
        extra_body=extra.next()))
    show("effort low", api.messages.create(
        **request, output_config={"effort": "low"}, extra_body=extra.next()))
    show("thinking disabled", api.messages.create(
        **request, thinking={"type": "disabled"}, extra_body=extra.next()))

    # Streamed: the SDK's helper folds the thinking and text deltas into the final message.
    with api.messages.stream(**request, thinking={"type": "enabled", "budget_tokens": 1024},
                             extra_body=extra.next()) as stream:
        show("streamed", stream.get_final_message())


if __name__ == "__main__":
    main()
