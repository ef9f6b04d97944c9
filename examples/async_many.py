"""Many concurrent streamed chat requests with the async OpenAI client.

    python examples/async_many.py --base-url http://localhost:8000/v1 --requests 32

vLLM batches concurrent requests, so total time grows far slower than the request count.
"""

from __future__ import annotations

import asyncio
import time

from common import ExtraBodies, async_client, parser


async def one(api, model, index, prompt, max_tokens, body) -> tuple[int, str, str | None]:
    pieces, finish = [], None
    stream = await api.chat.completions.create(
        model=model, messages=[{"role": "user", "content": f"{prompt} (#{index})"}],
        max_tokens=max_tokens, stream=True, extra_body=body)
    async for chunk in stream:
        if chunk.choices:
            pieces.append(chunk.choices[0].delta.content or "")
            finish = chunk.choices[0].finish_reason or finish
    return index, "".join(pieces), finish


async def run(args) -> int:
    api = async_client(args)
    model = args.model or (await api.models.list()).data[0].id
    extra = ExtraBodies(args.extra_body)
    start = time.perf_counter()
    results = await asyncio.gather(
        *(one(api, model, i, args.prompt, args.max_tokens, extra.next())
          for i in range(args.requests)), return_exceptions=True)
    elapsed = time.perf_counter() - start
    failed = 0
    for result in results:
        if isinstance(result, BaseException):
            failed += 1
            print(f"request failed: {result!r}")
        else:
            index, text, finish = result
            print(f"request {index}: finish_reason={finish} text={text!r}")
    print(f"{args.requests - failed}/{args.requests} requests ok in {elapsed:.1f} s")
    await api.close()
    return 1 if failed else 0


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--requests", type=int, default=16)
    p.add_argument("--prompt", default="Say hello")
    p.add_argument("--max-tokens", type=int, default=64)
    raise SystemExit(asyncio.run(run(p.parse_args())))


if __name__ == "__main__":
    main()
