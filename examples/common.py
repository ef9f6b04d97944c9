"""Command-line plumbing shared by the examples: server address, model, and extra request body.

`--extra-body JSON` is a testing aid: it is merged into the `extra_body` of the examples'
requests, in order (the last one is reused for the rest). The test suite uses it to make a
tiny random model say a chosen text, e.g.
`--extra-body '{"vllm_xargs": {"script": "Hello!"}}'`. Real use needs none of it.
"""

from __future__ import annotations

import argparse
import json

import openai


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--base-url", default="http://localhost:8000/v1",
                   help="the server's OpenAI API root (default: %(default)s)")
    p.add_argument("--model", help="served model name (default: the server's first model)")
    p.add_argument("--api-key", default="EMPTY")
    p.add_argument("--extra-body", action="append", type=json.loads, default=[],
                   metavar="JSON", help="testing aid: extra_body for the next request "
                   "(repeat it for later requests; the last one is reused)")
    return p


def client(args) -> openai.OpenAI:
    return openai.OpenAI(base_url=args.base_url, api_key=args.api_key, max_retries=0)


def async_client(args) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=args.base_url, api_key=args.api_key, max_retries=0)


def model_name(args, sync_client: openai.OpenAI | None = None) -> str:
    if args.model:
        return args.model
    return (sync_client or client(args)).models.list().data[0].id


class ExtraBodies:
    """Hands out the `--extra-body` values in order, merged with an example's own body."""

    def __init__(self, given: list[dict]):
        self.given = given
        self.count = 0

    def next(self, own: dict | None = None) -> dict:
        extra = self.given[min(self.count, len(self.given) - 1)] if self.given else {}
        self.count += 1
        body = dict(own or {})
        for key, value in extra.items():
            if isinstance(value, dict) and isinstance(body.get(key), dict):
                body[key] = {**body[key], **value}
            else:
                body[key] = value
        return body
