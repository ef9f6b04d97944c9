"""Send one fuzz case to a server and check what came back against the fuzzer's invariants.

Invariants (issue 24): no 5xx; no error inside a 200 stream; no dropped connection; no hang
(a per-request timeout); a 4xx names a field of the request; a 200 has a well-formed body
(JSON, SSE events that parse and end the way the API says, a finish reason from the API's set
that agrees with the calls, tool-call arguments that are JSON unless cut by the token limit);
and, for greedy requests, the streamed answer equals the non-streamed one. Crashes (the
server no longer healthy) are found by the runner (tests/fuzz/run.py).

Requests go out as raw HTTP (httpx), not through an SDK, so invalid bodies reach the server
as generated and every byte of the answer can be checked.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.fuzz.requests import Case

FINISH = {  # the finish reasons each API documents
    "chat": {"stop", "length", "tool_calls"},
    "completions": {"stop", "length"},
    "responses": {"completed", "incomplete"},
    "messages": {"end_turn", "max_tokens", "stop_sequence", "tool_use"},
}
CUT = {"length", "incomplete", "max_tokens"}  # finish reasons of an answer cut by the limit
CALLED = {"tool_calls", "tool_use"}  # finish reasons that promise a tool call

# Words too common to count as "naming the field" in an error message.
GENERIC_KEYS = {"type", "name", "role", "content", "model", "text", "function", "format",
                "input", "id", "script"}


@dataclass
class Answer:
    """What a reply said, folded the same way streamed and not: (reasoning, content, calls,
    finish, who closed the thought: `thinking_closed_by`) of the first choice."""

    reasoning: str = ""
    content: str = ""
    calls: list[tuple[str, str]] = field(default_factory=list)
    finish: str | None = None
    closed_by: str | None = None

    def key(self) -> tuple:
        return (self.reasoning, self.content, tuple(self.calls), self.finish, self.closed_by)


@dataclass
class Outcome:
    """One request's fate: an HTTP status (or a transport failure) and its findings."""

    case: Case
    status: int | None = None  # None: no status (connection refused / timed out before it)
    failure: str | None = None  # "hang", "dropped", ... when the transport failed
    text: str = ""  # the raw body (a non-streamed reply or an error)
    answer: Answer | None = None
    findings: list[tuple[str, str]] = field(default_factory=list)  # (kind, detail)
    seconds: float = 0.0

    @property
    def label(self) -> str:
        return str(self.status) if self.failure is None else self.failure

    def find(self, kind: str, detail: str) -> None:
        self.findings.append((kind, detail))


def send(client: httpx.Client, base_url: str, case: Case, timeout: float) -> Outcome:
    """POST the case; read the whole answer (a stream to its end) within `timeout` seconds."""
    outcome = Outcome(case)
    start = time.monotonic()
    try:
        with client.stream("POST", base_url + case.path, json=case.body,
                           timeout=httpx.Timeout(timeout)) as response:
            outcome.status = response.status_code
            chunks = []
            for chunk in response.iter_text():
                chunks.append(chunk)
                if time.monotonic() - start > timeout:
                    raise httpx.ReadTimeout("the answer took too long")
            outcome.text = "".join(chunks)
    except httpx.TimeoutException as exc:
        outcome.failure = "hang"
        outcome.find("hang", f"no complete answer in {timeout:.0f} s ({exc!r})")
    except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
        outcome.failure = "dropped"
        outcome.find("dropped", f"connection closed mid-answer: {exc!r}")
    except httpx.TransportError as exc:
        outcome.failure = "unreachable"
        outcome.find("unreachable", repr(exc))
    outcome.seconds = time.monotonic() - start
    if outcome.failure is None:
        check(outcome)
    return outcome


def check(outcome: Outcome) -> None:
    case, status = outcome.case, outcome.status or 0
    if status >= 500:
        outcome.find("5xx", outcome.text[:500])
    elif status >= 400:
        check_error(outcome)
    elif status == 200:
        try:
            outcome.answer = (read_stream(outcome) if case.stream else read_body(outcome))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            outcome.find("broken-body", f"{exc!r}: {outcome.text[:300]}")
            return
        if case.invalid:
            outcome.find("accepted-invalid", f"200 although {case.invalid} was broken")
        if outcome.answer is not None:
            check_answer(outcome, outcome.answer)
    else:
        outcome.find("odd-status", outcome.text[:300])


def body_keys(value: Any) -> set[str]:
    """Every key of the request body, at any depth."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in body_keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in body_keys(v)}
    return set()


def check_error(outcome: Outcome) -> None:
    """A 4xx names a field: one the generator broke, or else any field of the request."""
    try:
        error = json.loads(outcome.text)
        error = error.get("error", error)
        message = " ".join(str(error.get(k) or "") for k in ("message", "param"))
    except (ValueError, AttributeError):
        outcome.find("unnamed-4xx", f"the error is not JSON: {outcome.text[:300]}")
        return
    # a request may carry several odd values; the 400 may name any of them
    names = outcome.case.invalid + sorted(body_keys(outcome.case.body) - GENERIC_KEYS)
    if not any(name in message for name in names):
        outcome.find("unnamed-4xx", f"names none of {names[:12]}: {message[:300]}")
    if not outcome.case.invalid:
        outcome.find("rejected", message[:300])  # informational: the generator's odd values


def check_answer(outcome: Outcome, answer: Answer) -> None:
    endpoint = outcome.case.endpoint
    if answer.finish not in FINISH[endpoint]:
        outcome.find("broken-body", f"finish reason {answer.finish!r}")
    if answer.finish in CALLED and not answer.calls:
        outcome.find("broken-body", f"finish reason {answer.finish!r} without a tool call")
    if answer.finish not in CUT:
        for name, arguments in answer.calls:
            try:
                json.loads(arguments)
            except ValueError:
                outcome.find("broken-body", f"call {name} has arguments that are not JSON: "
                             f"{arguments[:200]!r}")


# Non-streamed bodies -------------------------------------------------------------------------

def read_body(outcome: Outcome) -> Answer:
    body = json.loads(outcome.text)
    endpoint = outcome.case.endpoint
    if endpoint == "chat":
        choices = body["choices"]
        expect_n(outcome, len(choices))
        for choice in choices[1:]:
            check_answer(outcome, chat_message(choice))
        return chat_message(choices[0])
    if endpoint == "completions":
        expect_n(outcome, len(body["choices"]))
        choice = body["choices"][0]
        return Answer(content=choice["text"], finish=choice["finish_reason"])
    if endpoint == "responses":
        return responses_output(body)
    return anthropic_content(body["content"], body["stop_reason"], body.get("thinking_closed_by"))


def expect_n(outcome: Outcome, got: int) -> None:
    if got != outcome.case.body.get("n", 1):
        outcome.find("broken-body", f"{got} choices for n={outcome.case.body.get('n', 1)}")


def chat_message(choice: dict) -> Answer:
    message = choice["message"]
    calls = [(c["function"]["name"], c["function"]["arguments"])
             for c in message.get("tool_calls") or []]
    reasoning = message.get("reasoning") or message.get("reasoning_content") or ""
    return Answer(reasoning, message.get("content") or "", calls, choice["finish_reason"],
                  choice.get("thinking_closed_by"))


def responses_output(response: dict) -> Answer:
    answer = Answer(finish=response["status"], closed_by=response.get("thinking_closed_by"))
    for item in response["output"]:
        if item["type"] == "reasoning":
            answer.reasoning += "".join(c.get("text", "") for c in item.get("content") or [])
        elif item["type"] == "message":
            answer.content += "".join(c.get("text", "") for c in item["content"])
        elif item["type"] == "function_call":
            answer.calls.append((item["name"], item["arguments"]))
        else:
            raise ValueError(f"unknown output item {item['type']!r}")
    return answer


def anthropic_content(blocks: list[dict], stop_reason: str | None,
                      closed_by: str | None) -> Answer:
    answer = Answer(finish=stop_reason, closed_by=closed_by)
    for block in blocks:
        if block["type"] == "thinking":
            answer.reasoning += block["thinking"]
        elif block["type"] == "text":
            answer.content += block["text"]
        elif block["type"] == "tool_use":
            if not isinstance(block["input"], dict):
                raise ValueError(f"tool_use input is not an object: {block['input']!r}")
            answer.calls.append((block["name"], json.dumps(block["input"])))
        else:
            raise ValueError(f"unknown content block {block['type']!r}")
    return answer


# Streams ---------------------------------------------------------------------------------

def sse_events(text: str) -> list[tuple[str | None, str]]:
    """(event name, data) of each server-sent event; raises on a line that is not SSE."""
    events: list[tuple[str | None, str]] = []
    name: str | None = None
    data: list[str] = []
    for line in text.split("\n"):
        if line == "":
            if data:
                events.append((name, "\n".join(data)))
            name, data = None, []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        elif not line.startswith(":"):
            raise ValueError(f"not a server-sent event line: {line[:200]!r}")
    if data:
        events.append((name, "\n".join(data)))
    return events


def read_stream(outcome: Outcome) -> Answer | None:
    events = sse_events(outcome.text)
    endpoint = outcome.case.endpoint
    if endpoint in ("chat", "completions"):
        return fold_openai_stream(outcome, [data for _, data in events])
    payloads = [(name, json.loads(data)) for name, data in events]
    for name, payload in payloads:
        if name in ("error", "response.failed") or payload.get("type") == "error":
            outcome.find("stream-error", json.dumps(payload)[:500])
            return None
    if endpoint == "responses":
        last = payloads[-1][1] if payloads else {}
        if last.get("type") not in ("response.completed", "response.incomplete"):
            outcome.find("dropped", f"the stream ended at {last.get('type')!r}")
            return None
        return responses_output(last["response"])
    return fold_anthropic_stream(outcome, payloads)


def fold_openai_stream(outcome: Outcome, datas: list[str]) -> Answer | None:
    if not datas or datas[-1] != "[DONE]":
        outcome.find("dropped", "the stream does not end with [DONE]")
    choices: dict[int, Answer] = {}
    names: dict[tuple[int, int], str] = {}
    arguments: dict[tuple[int, int], str] = {}
    for data in datas:
        if data == "[DONE]":
            continue
        chunk = json.loads(data)
        if "error" in chunk:
            outcome.find("stream-error", data[:500])
            return None
        for choice in chunk["choices"]:
            answer = choices.setdefault(choice["index"], Answer())
            answer.finish = choice.get("finish_reason") or answer.finish
            answer.closed_by = choice.get("thinking_closed_by") or answer.closed_by
            if "text" in choice:  # completions
                answer.content += choice["text"]
                continue
            delta = choice["delta"]
            answer.reasoning += delta.get("reasoning") or delta.get("reasoning_content") or ""
            answer.content += delta.get("content") or ""
            for call in delta.get("tool_calls") or []:
                key = (choice["index"], call["index"])
                function = call.get("function") or {}
                if function.get("name"):
                    if key in names:
                        raise ValueError(f"tool call {key} named twice")
                    names[key] = function["name"]
                arguments[key] = arguments.get(key, "") + (function.get("arguments") or "")
    for (index, call), name in sorted(names.items()):
        choices[index].calls.append((name, arguments.get((index, call), "")))
    expect_n(outcome, len(choices))
    for index in sorted(choices)[1:]:
        check_answer(outcome, choices[index])
    return choices.get(0, Answer())


def fold_anthropic_stream(outcome: Outcome, payloads: list[tuple[str | None, dict]]) -> Answer:
    if not payloads or payloads[-1][1].get("type") != "message_stop":
        outcome.find("dropped", "the stream does not end with message_stop")
    answer = Answer()
    blocks: dict[int, dict] = {}
    for _, event in payloads:
        kind = event.get("type")
        if kind == "content_block_start":
            blocks[event["index"]] = {**event["content_block"], "json": ""}
        elif kind == "content_block_delta":
            delta, block = event["delta"], blocks[event["index"]]
            if delta["type"] == "text_delta":
                block["text"] = block.get("text", "") + delta["text"]
            elif delta["type"] == "thinking_delta":
                block["thinking"] = block.get("thinking", "") + delta["thinking"]
            elif delta["type"] == "input_json_delta":
                block["json"] += delta["partial_json"]
        elif kind == "message_delta":
            answer.finish = event["delta"].get("stop_reason") or answer.finish
            answer.closed_by = event["delta"].get("thinking_closed_by") or answer.closed_by
    for index in sorted(blocks):
        block = blocks[index]
        if block["type"] == "thinking":
            answer.reasoning += block.get("thinking", "")
        elif block["type"] == "text":
            answer.content += block.get("text", "")
        elif block["type"] == "tool_use":
            arguments = block["json"] or json.dumps(block.get("input") or {})
            try:  # the same form as the non-streamed input, for comparing
                arguments = json.dumps(json.loads(arguments))
            except ValueError:
                pass
            answer.calls.append((block["name"], arguments))
    return answer


def compare(streamed: Outcome, whole: Outcome) -> None:
    """Greedy twins: the streamed answer equals the non-streamed one (same status too)."""
    if streamed.label != whole.label:
        streamed.find("mismatch", f"streamed {streamed.label}, non-streamed {whole.label}")
    elif streamed.answer is not None and whole.answer is not None:
        if streamed.answer.key() != whole.answer.key():
            streamed.find("mismatch", f"streamed {streamed.answer.key()!r}\n"
                          f"non-streamed {whole.answer.key()!r}")
