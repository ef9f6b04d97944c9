"""Known failures, in one table: what the fuzzer finds today that is not a new bug.

Each entry names a failure, says whose it is, and recognises it from the request (and the
kind of finding). The fuzz test passes when every finding is in this table, so:
- a vLLM entry (documented in docs/vllm-failures.md with a minimal request and the plugin-off
  reproduction) stays until vLLM is fixed; each has a strict-xfail reproduction in
  tests/fuzz/test_fuzz.py that turns red when a fixed vLLM arrives;
- a plugin fault has no entry: it is fixed (issue 24's six are, with their regression tests in
  tests/serving/test_faults.py), so the fuzzer finding one again fails the test.

`skip` entries are requests that must not be sent at all (they crash the engine).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vllm.exceptions import VLLMValidationError
from vllm.sampling_params import SamplingParams

from tests.fuzz.checks import Outcome
from tests.fuzz.requests import Case
from vllm_nemotron.thinking_budget.params import budget_params
from vllm_nemotron.thinking_budget.reserve import request_reserve


@dataclass(frozen=True)
class Known:
    name: str
    owner: str  # "vLLM" (plugin faults are fixed, not listed)
    kinds: frozenset[str]  # the finding kinds it explains (empty for a skip)
    matches: Callable[[Case, str], bool]  # (case, finding detail) -> whether it is this one
    skip: bool = False  # not sent: it would take the server down


# Features of a request -------------------------------------------------------------------

def xargs(body: dict) -> dict:
    return body.get("vllm_xargs") or {}


def named_choice_tool_without_function(body: dict) -> bool:
    return isinstance(body.get("tool_choice"), dict) and any(
        "function" not in t for t in body.get("tools") or [])


def late_validated(body: dict) -> bool:
    """A value vLLM checks only in the engine client, after a stream's 200: an out-of-vocabulary
    `logit_bias` id, more than 20 `top_logprobs`, a grammar that does not compile."""
    out_of_vocab = any(not str(k).isdigit() or int(k) >= 512  # the tiny tokenizer's vocab
                       for k in (body.get("logit_bias") or {}))
    regex = (body.get("structured_outputs") or {}).get("regex")
    odd_schema = "odd" in json.dumps(body.get("text") or body.get("response_format") or {})
    return (out_of_vocab or (body.get("top_logprobs") or 0) > 20 or regex == "(unclosed"
            or odd_schema)


def bad_knob(body: dict) -> bool:
    """A `vllm_xargs` value the thinking-budget processor refuses (its own checks), alone or
    beside vLLM's native `thinking_token_budget`."""
    try:
        native = SamplingParams(thinking_token_budget=body.get("thinking_token_budget"))
    except VLLMValidationError:
        native = SamplingParams()  # vLLM's own 400, not the processor's
    native.extra_args = xargs(body)
    try:
        budget_params(native)
        request_reserve(xargs(body), None)
    except VLLMValidationError:
        return True
    return False


def seeded_n(body: dict) -> bool:
    """n > 1: the n copies of a prompt are prefilled together and may not fit one step."""
    return isinstance(body.get("n"), int) and body["n"] > 1


FAILURE = frozenset({"5xx", "stream-error", "dropped"})

KNOWN: list[Known] = [
    # --- vLLM's own (docs/vllm-failures.md); each has a strict xfail in test_fuzz.py
    Known("vllm: Responses stream drops the connection on a late validation error", "vLLM",
          frozenset({"dropped", "mismatch"}),
          lambda c, d: c.endpoint == "responses" and late_validated(c.body)),
    Known("vllm: a streamed chat/completions request failing a late check is a 200 + error",
          "vLLM", frozenset({"stream-error", "mismatch"}),
          lambda c, d: c.endpoint in ("chat", "completions") and late_validated(c.body)),
    Known("vllm: a streamed /v1/completions request checks vllm_xargs after its 200", "vLLM",
          frozenset({"stream-error", "mismatch"}),
          lambda c, d: c.endpoint == "completions" and c.stream and bad_knob(c.body)),
    Known("vllm: 500 'function' for a named tool_choice with a tool lacking function", "vLLM",
          frozenset({"5xx"}),
          lambda c, d: named_choice_tool_without_function(c.body) and "function" in d),
    Known("vllm: finish_reason tool_calls without a call when a stop sequence fires", "vLLM",
          frozenset({"broken-body", "mismatch"}),  # streamed says "stop", whole "tool_calls"
          lambda c, d: ("without a tool call" in d or "'tool_calls')" in d)
          and bool(c.body.get("stop")) and c.body.get("tool_choice") not in (None, "auto", "none")),
    Known("vllm: a grammar that does not compile is a 400 naming no field", "vLLM",
          frozenset({"unnamed-4xx"}), lambda c, d: "Grammar error" in d),
    Known("vllm: CPU engine crash on a seeded request whose prefill spans steps", "vLLM",
          frozenset(), lambda c, d: "seed" in c.body and (c.long_prompt or seeded_n(c.body)),
          skip=True),
]

# Findings that describe the generator's guesses, not the server: counted, never failures.
INFORMATIONAL = {"rejected", "accepted-invalid"}


def skipped(case: Case) -> Known | None:
    """The skip entry that keeps this case from being sent, if any."""
    return next((k for k in KNOWN if k.skip and k.matches(case, "")), None)


def classify(outcome: Outcome, kind: str, detail: str) -> Known | None:
    """The known failure that explains this finding, if any."""
    return next((k for k in KNOWN if not k.skip and kind in k.kinds
                 and k.matches(outcome.case, detail)), None)


def by_name(name: str) -> Known:
    return next(k for k in KNOWN if k.name == name)


def describe(body: Any) -> str:
    return json.dumps(body, ensure_ascii=False)
