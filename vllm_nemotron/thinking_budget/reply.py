"""The reply says when the server closed a thought: `thinking_closed_by`.

Its value is "thinking_budget" (the request's budget, from whichever knob set it) or
"answer_reserve" (closed early to leave room for the answer, reserve.py); the field is absent
when the model closed its thought itself or did not think. Where it is, as vLLM puts its own
`stop_reason` extension beside the standard finish field:

    chat completions   choices[i].thinking_closed_by; streamed, in the chunk that carries the
                       choice's finish_reason
    Responses API      the response's thinking_closed_by; streamed, in response.completed
    /v1/messages       the message's thinking_closed_by, beside stop_reason; streamed, in the
                       message_delta event's delta

The verdict is replayed in the API server from the request's sampling params and its finished
output (verdict.py). `install()` wraps the vLLM methods that build those replies; `register()`
calls it when the API server imports them (after_import.py).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
from collections.abc import AsyncIterator, Callable
from typing import Any, NamedTuple

from vllm.logger import init_logger
from vllm.sampling_params import RequestOutputKind, SamplingParams

from vllm_nemotron.thinking_budget.markers import ThinkingMarkers
from vllm_nemotron.thinking_budget.params import BudgetParams
from vllm_nemotron.thinking_budget.reserve import track_params
from vllm_nemotron.thinking_budget.verdict import ClosedBy, budget_closed_by

logger = init_logger(__name__)

FIELD = "thinking_closed_by"
_PARAMS = "_vllm_nemotron_sampling_params"  # set on a chat request by `to_sampling_params`
_MARKERS: dict[int, tuple[Any, ThinkingMarkers]] = {}  # id(tokenizer) -> (tokenizer, markers)



class Hook(NamedTuple):
    """Wrap `cls.method` with `factory(original)`, unless `cls` has `unless` (a newer vLLM's
    method that does the job instead)."""

    cls: str
    method: str
    factory: Callable[[Any], Any]
    unless: str | None = None


HOOKS: dict[str, list[Hook]] = {}  # module -> its hooks; see install()


def markers_for(tokenizer: Any) -> ThinkingMarkers:
    """The served tokenizer's markers, built once per tokenizer (as the processor builds its)."""
    entry = _MARKERS.get(id(tokenizer))
    if entry is None or entry[0] is not tokenizer:
        entry = _MARKERS[id(tokenizer)] = (tokenizer, ThinkingMarkers.from_tokenizer(tokenizer))
    return entry[1]


def _hook(module: str, cls: str, method: str,
          unless: str | None = None) -> Callable[[Any], Any]:
    def add(factory: Callable[[Any], Any]) -> Callable[[Any], Any]:
        HOOKS.setdefault(module, []).append(Hook(cls, method, factory, unless))
        return factory
    return add


def install(module: Any) -> None:
    """Wrap the reply builders that `module` defines (once; a vLLM that renamed one keeps it)."""
    for cls_name, method, factory, unless in HOOKS.get(module.__name__, []):
        cls = getattr(module, cls_name, None)
        original = None if cls is None else vars(cls).get(method)
        if original is None or (unless is not None and hasattr(cls, unless)):
            logger.debug("%s: %s.%s is not wrapped in this vLLM", FIELD, cls_name, method)
            continue
        if getattr(original, "wrapped_by", None) == __name__:
            continue
        wrapper: Any = functools.wraps(original)(factory(original))
        wrapper.wrapped_by = __name__
        setattr(cls, method, wrapper)


def _arguments(original: Any, args: tuple, kwargs: dict) -> inspect.BoundArguments:
    return inspect.signature(original).bind_partial(*args, **kwargs)


class Outputs:
    """What the engine returned for one request, as vLLM's reply builders consume it: each
    choice's output tokens, and who closed its thought once it finished."""

    def __init__(self, params: SamplingParams, budget: BudgetParams, tokenizer: Any):
        self.params, self.budget, self.tokenizer = params, budget, tokenizer
        self.prompt: list[int] | None = None
        self.tokens: dict[int, list[int]] = {}
        self.verdicts: dict[int, ClosedBy] = {}

    def see(self, result: Any) -> list[int]:
        """Take in one engine result; the indices of the choices it finished."""
        if self.prompt is None and result.prompt_token_ids is not None:
            self.prompt = list(result.prompt_token_ids)
        finished = []
        for out in result.outputs:
            tokens = self.tokens.setdefault(out.index, [])
            if self.params.output_kind != RequestOutputKind.DELTA:
                tokens.clear()
            tokens.extend(out.token_ids)
            if out.finish_reason is not None:
                finished.append(out.index)
        return finished

    async def decide(self, index: int) -> None:
        """Replay choice `index` (off the event loop: a long thought takes a while)."""
        await asyncio.to_thread(self._decide, index)

    def _decide(self, index: int) -> None:
        try:
            verdict = budget_closed_by(self.budget, markers_for(self.tokenizer), self.prompt,
                                        self.tokens.get(index, []))
        except Exception:  # the reply matters more than this note in it
            logger.exception("%s: could not replay the thinking budget", FIELD)
            return
        if verdict is not None:
            self.verdicts[index] = verdict

    async def tap(self, results: AsyncIterator[Any]) -> AsyncIterator[Any]:
        try:
            async for result in results:
                for index in self.see(result):
                    await self.decide(index)
                yield result
        finally:
            aclose = getattr(results, "aclose", None)
            if aclose is not None:
                await aclose()


def _tracked(params: Any, tokenizer: Any) -> Outputs | None:
    """An `Outputs` for a request whose thought the processor may close, else None."""
    if not isinstance(params, SamplingParams) or tokenizer is None:
        return None
    budget = track_params(params)
    return None if budget is None else Outputs(params, budget, tokenizer)


def _chat_outputs(arguments: dict[str, Any]) -> Outputs | None:
    return _tracked(getattr(arguments.get("request"), _PARAMS, None), arguments.get("tokenizer"))


def _sse(chunk: str) -> tuple[str, dict] | None:
    """("event: ...\\n" prefix, payload) of one server-sent event, or None."""
    head, sep, data = chunk.partition("data: ")
    if not sep or data.strip() == "[DONE]":
        return None
    try:
        payload = json.loads(data)
    except ValueError:
        return None
    return (head, payload) if isinstance(payload, dict) else None


def _dump(head: str, payload: dict) -> str:
    return f"{head}data: {json.dumps(payload, ensure_ascii=False, separators=(',', ':'))}\n\n"


# chat completions (and /v1/messages, which vLLM serves through them)

@_hook("vllm.entrypoints.openai.chat_completion.protocol", "ChatCompletionRequest",
       "to_sampling_params")
def _remember_params(original: Any) -> Any:
    def to_sampling_params(self: Any, *args: Any, **kwargs: Any) -> Any:
        params = original(self, *args, **kwargs)
        object.__setattr__(self, _PARAMS, params)  # not a field: never dumped
        return params
    return to_sampling_params


@_hook("vllm.entrypoints.openai.chat_completion.serving", "OpenAIServingChat",
       "chat_completion_full_generator")
def _full_chat(original: Any) -> Any:
    async def chat_completion_full_generator(*args: Any, **kwargs: Any) -> Any:
        bound = _arguments(original, args, kwargs)
        outputs = _chat_outputs(bound.arguments)
        if outputs is None:
            return await original(*args, **kwargs)
        bound.arguments["result_generator"] = outputs.tap(bound.arguments["result_generator"])
        response = await original(*bound.args, **bound.kwargs)
        for choice in getattr(response, "choices", None) or []:
            if choice.index in outputs.verdicts:
                setattr(choice, FIELD, outputs.verdicts[choice.index])
        return response
    return chat_completion_full_generator


def _streamed_chat(original: Any) -> Any:
    """vLLM 0.32 streams chat as server-sent-event strings, 0.33 builds chunk objects first
    (`chat_completion_stream_generator_raw`): the choice that finishes gets FIELD either way."""
    async def stream(*args: Any, **kwargs: Any) -> Any:
        bound = _arguments(original, args, kwargs)
        outputs = _chat_outputs(bound.arguments)
        if outputs is not None:
            bound.arguments["result_generator"] = outputs.tap(
                bound.arguments["result_generator"])
        chunks = original(*bound.args, **bound.kwargs)
        try:
            async for chunk in chunks:
                if outputs is not None and outputs.verdicts:
                    chunk = _with_verdicts(chunk, outputs.verdicts)
                yield chunk
        finally:
            await chunks.aclose()
    return stream


_hook("vllm.entrypoints.openai.chat_completion.serving", "OpenAIServingChat",
      "chat_completion_stream_generator", unless="chat_completion_stream_generator_raw")(
    _streamed_chat)
_hook("vllm.entrypoints.openai.chat_completion.serving", "OpenAIServingChat",
      "chat_completion_stream_generator_raw")(_streamed_chat)


def _with_verdicts(chunk: Any, verdicts: dict[int, ClosedBy]) -> Any:
    """`chunk` (an event string or a chunk object) with FIELD on each choice it finishes."""
    if not isinstance(chunk, str):
        for choice in getattr(chunk, "choices", None) or []:
            if getattr(choice, "finish_reason", None) and choice.index in verdicts:
                setattr(choice, FIELD, verdicts[choice.index])
        return chunk
    event = None if '"finish_reason":"' not in chunk else _sse(chunk)
    if event is None:
        return chunk
    head, payload = event
    marked = False
    for choice in payload.get("choices") or []:
        if choice.get("finish_reason") and choice.get("index") in verdicts:
            choice[FIELD] = verdicts[choice["index"]]
            marked = True
    return _dump(head, payload) if marked else chunk


# the Responses API

@_hook("vllm.entrypoints.openai.responses.serving", "OpenAIServingResponses",
       "responses_full_generator")
def _responses(original: Any) -> Any:
    async def responses_full_generator(*args: Any, **kwargs: Any) -> Any:
        response = await original(*args, **kwargs)
        bound = _arguments(original, args, kwargs).arguments
        outputs = _tracked(bound.get("sampling_params"), bound.get("tokenizer"))
        # a single-turn reply (vLLM's SimpleContext) keeps the whole output; multi-turn
        # contexts (built-in tools, Harmony) run several generations: no verdict there
        final = getattr(bound.get("context"), "final_output", None)
        if outputs is None or final is None or len(final.outputs) != 1 \
                or not hasattr(response, "output"):
            return response
        outputs.prompt = list(final.prompt_token_ids or [])
        outputs.tokens[0] = list(final.outputs[0].token_ids)
        await outputs.decide(0)
        if 0 in outputs.verdicts:
            setattr(response, FIELD, outputs.verdicts[0])
        return response
    return responses_full_generator


# Anthropic's /v1/messages: vLLM converts the chat reply (carrying FIELD) into a message

@_hook("vllm.entrypoints.anthropic.serving", "AnthropicServingMessages",
       "messages_full_converter")
def _full_message(original: Any) -> Any:
    def messages_full_converter(self: Any, generator: Any, *args: Any, **kwargs: Any) -> Any:
        message = original(self, generator, *args, **kwargs)
        choices = getattr(generator, "choices", None) or []
        verdict = (choices[0].model_extra or {}).get(FIELD) if choices else None
        if verdict is None:
            return message
        with_verdict: Any = _message_class(type(message))
        return with_verdict.model_construct(
            _fields_set=message.model_fields_set | {FIELD}, **dict(message), **{FIELD: verdict})
    return messages_full_converter


def _message_class(base: Any) -> type:
    """vLLM's Anthropic message model (which drops unknown fields) with FIELD declared."""
    if base not in _MESSAGE_CLASSES:
        class MessageWithVerdict(base):
            thinking_closed_by: str | None = None
        _MESSAGE_CLASSES[base] = MessageWithVerdict
    return _MESSAGE_CLASSES[base]


_MESSAGE_CLASSES: dict[Any, type] = {}


@_hook("vllm.entrypoints.anthropic.serving", "AnthropicServingMessages",
       "message_stream_converter")
def _streamed_message(original: Any) -> Any:
    async def message_stream_converter(self: Any, generator: Any, *args: Any,
                                       **kwargs: Any) -> Any:
        verdict: list[str] = []

        async def chat_chunks() -> AsyncIterator[Any]:
            try:
                async for chunk in generator:
                    verdict.extend(_chunk_verdicts(chunk))
                    yield chunk
            finally:
                if hasattr(generator, "aclose"):
                    await generator.aclose()

        events = original(self, chat_chunks(), *args, **kwargs)
        try:
            async for event in events:
                if verdict and event.startswith("event: message_delta"):
                    parsed = _sse(event)
                    if parsed is not None and isinstance(parsed[1].get("delta"), dict):
                        parsed[1]["delta"][FIELD] = verdict[0]
                        event = _dump(*parsed)
                yield event
        finally:
            await events.aclose()
    return message_stream_converter


def _chunk_verdicts(chunk: Any) -> list[str]:
    """FIELD of the choices in a chat chunk: an event string (vLLM 0.32) or an object (0.33)."""
    if isinstance(chunk, str):
        event = _sse(chunk) if f'"{FIELD}":"' in chunk else None
        choices = [] if event is None else event[1].get("choices") or []
        return [choice[FIELD] for choice in choices if FIELD in choice]
    return [extra[FIELD] for choice in getattr(chunk, "choices", None) or []
            if FIELD in (extra := getattr(choice, "model_extra", None) or {})]
