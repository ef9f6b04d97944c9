"""`<think>...</think>` reasoning parsers for Nemotron models.

`nano_v3` (Nemotron-3-Nano, Nemotron-Nano-9B-v2): the chat template opens `<think>` in the
prompt, so the output starts inside reasoning (a re-emitted leading `<think>` is dropped); a
prompt that already closed the block (`/no_think`, `enable_thinking: false`) makes everything
content.

`super_v3` and `ultra_v3` (Nemotron-3-Super and -Ultra, the names NVIDIA's guides pass to
`--reasoning-parser` with their downloaded `super_v3_reasoning_parser.py` /
`ultra_v3_reasoning_parser.py`) are `nano_v3` under other names: their templates write what
Nemotron-3-Nano's does (`low_effort` and `truncate_history_thinking` change only the prompt),
and their `<tool_call>` is already an implicit end.

`llama_nemotron_thinking` (Llama-Nemotron Nano/Super/Ultra): with "detailed thinking on" the
model writes `<think>` itself, with "off" it writes nothing; output that does not open with
`<think>` is content.

What real checkpoints write, and how both parsers read it:
- A tool call straight from the thought, with no `</think>` (`<tool_call>` for Nemotron-3,
  `<TOOLCALL>` for Nano-v2 and Llama-Nemotron): the tag ends reasoning and, with the call,
  is content, where the tool parser finds it (an "implicit end", as in vLLM's `nemotron_v3`).
- `enable_thinking: false` and the model still opens a think block: an empty block
  (`<think></think>`, `<think>\\n\\n</think>`) is dropped, a non-empty one is reasoning.
- Trailing whitespace of the reasoning is dropped (it piles up over multi-turn chats).
- `force_nonempty_content` (chat-template kwarg), or thinking off while the model thought: an
  answer that is empty or only whitespace is replaced by the thought, so a client never shows
  a blank reply. The thought stays in `reasoning` too, so streaming and non-streaming agree.

The split runs on text, so a tag may be one vocabulary token or several pieces; text is held
back only while it could still be a tag (or trailing reasoning whitespace), so streaming costs
O(delta) and any chunking gives the non-streaming answer. It speaks vLLM's parser-engine event
vocabulary (`SemanticEvent`). Self-contained (imports only vLLM), so the file also works as
`--reasoning-parser-plugin .../nano_v3_reasoning_parser.py` with any of these names (the
file's name does not matter to vLLM: mount it where NVIDIA's guide mounts
`super_v3_reasoning_parser.py`). NVIDIA's own `nano_v3` / `super_v3` files (DeepSeek-R1
subclasses) do a subset of this: docs/reasoning-parsers.md compares them row by row.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from vllm.entrypoints.generate.base.protocol import DeltaMessage
from vllm.exceptions import VLLMValidationError
from vllm.parser.engine.events import EventType, SemanticEvent
from vllm.reasoning.abs_reasoning_parsers import ReasoningParser, ReasoningParserManager
from vllm.tool_parsers.utils import partial_tag_overlap

try:  # the installed plugin turns every thinking knob into a budget; a drop-in file does not
    from vllm_nemotron.thinking_budget.effort import apply_thinking_knobs
except ImportError:  # pragma: no cover - drop-in use without the plugin
    apply_thinking_knobs = None  # type: ignore[assignment]

THINK_START = "<think>"
THINK_END = "</think>"
# Tool-call openers that end reasoning implicitly, per family.
NEMOTRON_TOOL_STARTS = ("<tool_call>", "<TOOLCALL>")  # Nemotron-3 Nano/Super, Nano-9B-v2
LLAMA_NEMOTRON_TOOL_STARTS = ("<TOOLCALL>",)
# Set by `adjust_request` in a structured request's chat-template kwargs when thinking is off:
# the grammar covers the output from its first token. vLLM builds both of a request's parser
# instances (the API server's, and the engine's structured-output gate) from those kwargs, so
# both read the output as content from the start. vLLM 0.32's Responses API has no other way
# to start a grammar at the first token. The same key in `vllm_xargs` tells the thinking-budget
# processor (vllm_nemotron.thinking_budget.params) to force nothing into such a request, and
# proves that the kwarg is ours: a client that sends the kwarg alone gets a 400 (it would make
# the parsers and the engine disagree), one in `vllm_xargs` alone is dropped.
GRAMMAR_FROM_START = "vllm_nemotron_grammar_from_first_token"


class Mode(Enum):
    START = "start"  # the output may still open `<think>`
    REASONING = "reasoning"
    CONTENT = "content"


# What the streaming hot path compares on every delta, as module globals: reading a member off
# an Enum class costs about four times a global lookup (CPython 3.11).
_IN_START, _IN_REASONING, _IN_CONTENT = Mode.START, Mode.REASONING, Mode.CONTENT
_REASONING_CHUNK, _TEXT_CHUNK = EventType.REASONING_CHUNK, EventType.TEXT_CHUNK


@dataclass
class ThinkSplitter:
    """Incremental `<think>` splitter: `feed(text)` / `finish()` return events.

    In START, output that opens `<think>` is reasoning and anything else resolves to
    `otherwise`. REASONING runs until `</think>` or a tool-call opener; CONTENT is final.
    It also records where, in output characters, reasoning and content begin and end.
    """

    otherwise: Mode
    tool_starts: tuple[str, ...] = ()
    mode: Mode = _IN_START
    held: str = ""  # text that may be the start of a tag
    held_space: str = ""  # reasoning whitespace that may turn out to be trailing
    fed: int = 0  # characters fed so far
    reasoning_from: int | None = None
    reasoning_to: int | None = None  # where `</think>` or the tool-call opener starts
    content_from: int | None = None

    def __post_init__(self) -> None:
        if self.mode is _IN_CONTENT:
            self.content_from = 0
        self.tags = (THINK_END, *self.tool_starts)
        self.longest_tag = max(map(len, self.tags))

    @property
    def ended(self) -> bool:
        return self.mode is _IN_CONTENT

    def feed(self, text: str) -> list[SemanticEvent]:
        events: list[SemanticEvent] = []
        at_ = self.fed - len(self.held)  # output offset of the text below
        self.fed += len(text)
        text, self.held = self.held + text, ""
        if self.mode is _IN_START:
            if text.startswith(THINK_START):
                events.append(SemanticEvent(EventType.REASONING_START))
                text, at_ = text[len(THINK_START):], at_ + len(THINK_START)
                self._enter(Mode.REASONING, at_)
            elif THINK_START.startswith(text):
                self.held = text
                return events
            else:
                self._enter(self.otherwise, at_)
        if self.mode is _IN_REASONING:
            if "<" not in text:  # the common case: no tag starts here (all open with "<")
                self._reason(text, events)
                return events
            at, tag = self._first_end(text)
            if tag is None:
                keep = self._overlap(text)
                self.held = text[len(text) - keep:]
                self._reason(text[:len(text) - keep], events)
                return events
            self._reason(text[:at], events)
            self.held_space = ""
            self.reasoning_to = at_ + at
            events.append(SemanticEvent(EventType.REASONING_END))
            skip = len(THINK_END) if tag == THINK_END else 0  # an opener is content
            text, at_ = text[at + skip:], at_ + at + skip
            self._enter(Mode.CONTENT, at_)
        if text:
            events.append(SemanticEvent(_TEXT_CHUNK, text))
        return events

    def finish(self) -> list[SemanticEvent]:
        """Release held-back text: an unfinished tag is just text of the current mode."""
        events: list[SemanticEvent] = []
        held, self.held = self.held, ""
        if self.mode is _IN_START:
            self._enter(self.otherwise, self.fed - len(held))
        if self.mode is _IN_REASONING:
            self._reason(held, events)
            self.held_space = ""  # trailing reasoning whitespace is dropped
        elif held:
            events.append(SemanticEvent(EventType.TEXT_CHUNK, held))
        return events

    def _enter(self, mode: Mode, at: int) -> None:
        self.mode = mode
        if mode is Mode.REASONING:
            self.reasoning_from = at
        else:
            self.content_from = at

    def _overlap(self, text: str) -> int:
        """How much of the end of `text` may be the start of an end tag (all open with "<")."""
        if text.find("<", max(0, len(text) - self.longest_tag + 1)) == -1:
            return 0
        return max(partial_tag_overlap(text, t) for t in self.tags)

    def _first_end(self, text: str) -> tuple[int, str | None]:
        """Where reasoning ends in `text`: the earliest `</think>` or tool-call opener."""
        found = [(at, tag) for tag in self.tags if (at := text.find(tag)) >= 0]
        return min(found) if found else (-1, None)

    def _reason(self, text: str, events: list[SemanticEvent]) -> None:
        text = self.held_space + text
        kept = text.rstrip()
        self.held_space = text[len(kept):]
        if kept:
            events.append(SemanticEvent(_REASONING_CHUNK, kept))


def _split(events: Iterable[SemanticEvent]) -> tuple[str, str]:
    """(reasoning, content) text of some events."""
    reasoning, content = [], []
    for event in events:
        if event.type is _REASONING_CHUNK:
            reasoning.append(event.value)
        elif event.type is _TEXT_CHUNK:
            content.append(event.value)
    return "".join(reasoning), "".join(content)


def _message(reasoning: str, content: str) -> DeltaMessage | None:
    if not reasoning and not content:
        return None
    return DeltaMessage(reasoning=reasoning or None, content=content or None)


def _last_tag_state(text: str) -> Mode | None:
    """REASONING if the text leaves a `<think>` open, CONTENT if it closed one, else None."""
    start, end = text.rfind(THINK_START), text.rfind(THINK_END)
    if start == end == -1:
        return None
    return Mode.REASONING if start > end else Mode.CONTENT


class _ThinkReasoningParser(ReasoningParser):
    """Shared machinery; subclasses say how output after a given prompt starts."""

    # Keeps its own per-request state and reads only the new text of each delta; the
    # serving layer then asks `has_engine_confirmed_reasoning_end` and `finish_streaming`.
    engine_based_streaming = True
    TOOL_STARTS: tuple[str, ...] = ()
    # What vLLM's DelegatingParser is taught to pass on (the prompt, the marked request; see
    # `_register`) goes to every parser with this mark: a mark rather than isinstance, because
    # this file may be loaded more than once (the package's module, a drop-in file vLLM
    # executes, even twice), each time with classes of its own.
    takes_what_the_delegating_parser_passes = True

    def __init__(self, tokenizer: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(tokenizer, *args, **kwargs)
        template_kwargs = kwargs.get("chat_template_kwargs") or {}
        enable_thinking = template_kwargs.get("enable_thinking")
        # Off as the chat templates read it: any false value (False, 0, ""), not only False.
        self.thinking_off = enable_thinking is not None and not enable_thinking
        self.grammar_from_start = template_kwargs.get(GRAMMAR_FROM_START) is True
        # An empty answer becomes the thought (in-tree `nemotron_v3` does the same).
        self.force_content = bool(
            template_kwargs.get("force_nonempty_content") is True or self.thinking_off
        )
        self.start_token_id = self.vocab.get(THINK_START)
        self.end_token_id = self.vocab.get(THINK_END)
        # How the output starts, once the serving layer has shown us the prompt.
        self._prompt_mode: Mode | None = None
        self._stream: _Stream | None = None
        self._gate: _Gate | None = None

    @property
    def reasoning_start_str(self) -> str:
        return THINK_START

    @property
    def reasoning_end_str(self) -> str:
        return THINK_END

    # --- what the prompt says -------------------------------------------------------

    def _decode(self, token_ids: Iterable[int]) -> str:
        return self.model_tokenizer.decode(list(token_ids), skip_special_tokens=False)

    def _prompt_tag_state(self, prompt_ids: Sequence[int]) -> Mode | None:
        if self.start_token_id is not None and self.end_token_id is not None:
            for token_id in reversed(prompt_ids):
                if token_id == self.start_token_id:
                    return Mode.REASONING
                if token_id == self.end_token_id:
                    return Mode.CONTENT
        return _last_tag_state(self._decode(prompt_ids))

    def _start_after_prompt(self, prompt_ids: Sequence[int] | None) -> Mode:
        """CONTENT, REASONING (a re-emitted leading `<think>` is dropped), or START (reasoning
        only if the output opens `<think>`) for output after this prompt (None: unknown)."""
        raise NotImplementedError

    def _start_mode(self, prompt_ids: Sequence[int] | None) -> Mode:
        if self.grammar_from_start:
            return Mode.CONTENT  # the grammar owns every output token: no think block
        if not self.thinking_off:
            return self._start_after_prompt(prompt_ids)
        if prompt_ids is not None and self._prompt_tag_state(prompt_ids) is Mode.REASONING:
            # The template ignored enable_thinking and opened `<think>` (Nano-9B-v2's own
            # template does): the prompt, not the kwarg, says where the output starts.
            return Mode.REASONING
        return Mode.START  # thinking off, but a model may still open a think block

    def is_reasoning_end(self, input_ids: Sequence[int]) -> bool:
        """Called with the prompt: True when generation starts after reasoning."""
        mode = self._start_mode(input_ids)
        # vLLM's non-streaming path gives extract_reasoning no prompt but asks this same
        # instance about the prompt first; remember the answer.
        self._prompt_mode = mode
        return mode is Mode.CONTENT

    def set_prompt_token_ids(self, prompt_token_ids: Sequence[int]) -> None:
        """vLLM 0.33 shows the rendered prompt before the output is parsed."""
        self._prompt_mode = self._start_mode(prompt_token_ids)

    def _new_splitter(self, prompt_ids: Sequence[int] | None = None) -> ThinkSplitter:
        if prompt_ids is not None:
            mode = self._start_mode(prompt_ids)
        else:
            mode = self._prompt_mode or self._start_mode(None)
        if mode is Mode.CONTENT:
            return ThinkSplitter(Mode.CONTENT, mode=Mode.CONTENT)
        otherwise = Mode.CONTENT if mode is Mode.START else Mode.REASONING
        return ThinkSplitter(otherwise, self.TOOL_STARTS)

    # --- non-streaming ----------------------------------------------------------------

    def extract_reasoning(self, model_output: str, request: Any) -> tuple[str | None, str | None]:
        if _answer_from_start(request) or _marked_grammar_from_start(request):
            return None, model_output or None  # the grammar wrote all of it: no think block
        splitter = self._new_splitter()
        reasoning, content = _split(splitter.feed(model_output) + splitter.finish())
        if self.force_content and not content.strip() and reasoning:
            content = reasoning
        return reasoning or None, content or None

    # --- streaming (frontend) ---------------------------------------------------------

    def adjust_initial_state_from_prompt(self, prompt_token_ids: Sequence[int]) -> None:
        self._stream = _Stream(self._new_splitter(prompt_token_ids), self.force_content)

    def _streamer(self) -> _Stream:
        if self._stream is None:
            self._stream = _Stream(self._new_splitter(), self.force_content)
        return self._stream

    def extract_reasoning_streaming(  # vLLM's signature; only the new text is read
            self, previous_text: str, current_text: str, delta_text: str,
            previous_token_ids: Sequence[int], current_token_ids: Sequence[int],
            delta_token_ids: Sequence[int]) -> DeltaMessage | None:
        return self._streamer().feed(delta_text)

    def has_engine_confirmed_reasoning_end(self) -> bool:
        return self._stream is not None and self._stream.confirmed

    def get_streaming_fallback_content(self, text: str, request: Any) -> str | None:
        """At the end of a stream still in reasoning: the thought, when it must be the answer
        (also when the grammar wrote all of it: the streaming parser cannot see the request)."""
        stream = self._streamer()
        if _answer_from_start(request):
            stream.force_content = True
        return stream.fallback_content()

    def finish_streaming(self) -> DeltaMessage | None:
        return None if self._stream is None else self._stream.finish()

    # --- request ----------------------------------------------------------------------

    def adjust_request(self, request: Any) -> Any:
        _refuse_internal_state(request)
        if apply_thinking_knobs is not None:
            request = apply_thinking_knobs(request)
        tags = [t for t in (self.start_token_id, self.end_token_id) if t is not None]
        if any(self.model_tokenizer.decode([t], skip_special_tokens=True) == "" for t in tags):
            # Tags that are special tokens would be stripped from the text before we see it.
            request.skip_special_tokens = False
        if _is_structured(request) and (self.thinking_off or _answer_from_start(request)):
            # Thinking is off, or vLLM constrains from the first token anyway (chat completions
            # with include_reasoning false): the grammar covers the whole output (and forbids a
            # think block).
            _grammar_covers_the_whole_output(request)
        return request

    # --- token-id views (structured-output gate in the engine, usage) ------------------

    def is_reasoning_end_streaming(
        self, input_ids: Sequence[int], delta_ids: Iterable[int]
    ) -> bool:
        """Engine-side gate for structured outputs: True once reasoning has ended.

        The grammar starts after the token that ended reasoning, so after a whole tool-call
        opener too: the opener was sampled freely and must not be judged by the grammar.
        """
        delta_ids = list(delta_ids)
        if self._gate is None:
            prompt_len = len(input_ids) - len(delta_ids)
            self._gate = _Gate(self, prompt_len, self._new_splitter(input_ids[:prompt_len]))
        return self._gate.advance(input_ids, delta_ids)

    def _read(self, token_ids: Sequence[int]) -> tuple[list[int], ThinkSplitter]:
        """Each token's start offset in the output text, and the splitter that read them."""
        splitter = self._new_splitter()
        starts = []
        for token_id in token_ids:
            starts.append(splitter.fed)
            splitter.feed(self._decode([token_id]))
        splitter.finish()
        return starts, splitter

    def extract_content_ids(self, input_ids: list[int]) -> list[int]:
        """The tokens after `</think>`, or from the tool-call opener of an implicit end."""
        starts, splitter = self._read(input_ids)
        if splitter.content_from is None:
            return []
        return [t for t, at in zip(input_ids, starts, strict=True) if at >= splitter.content_from]

    def count_reasoning_tokens(self, token_ids: Sequence[int]) -> int:
        """Output tokens from the opening of reasoning to the start of its end tag."""
        starts, splitter = self._read(token_ids)
        if splitter.reasoning_from is None:
            return 0
        end = splitter.fed if splitter.reasoning_to is None else splitter.reasoning_to
        return sum(splitter.reasoning_from <= at < end for at in starts)


class _Stream:
    """The frontend's per-request streaming state.

    When an empty answer must become the thought, whitespace after the end of reasoning is held
    and the end is confirmed only with the first real content: a stream that ends there is
    still "in reasoning" for vLLM, which then asks `get_streaming_fallback_content`.
    """

    def __init__(self, splitter: ThinkSplitter, force_content: bool):
        self.splitter = splitter
        self.force_content = force_content
        self.thought: list[str] = []
        self.pending = ""  # a whitespace-only answer, held while it may be replaced
        self.confirmed = splitter.ended
        self.tail: DeltaMessage | None = None  # drained by fallback_content, sent by finish
        self.drained = False

    def feed(self, text: str) -> DeltaMessage | None:
        return self._deliver(self.splitter.feed(text))

    def _deliver(self, events: list[SemanticEvent]) -> DeltaMessage | None:
        reasoning, content = _split(events)
        self.thought.append(reasoning)
        if self.splitter.ended and not self.confirmed:
            content, self.pending = self.pending + content, ""
            if self.force_content and not content.strip():
                content, self.pending = "", content
            else:
                self.confirmed = True
        return _message(reasoning, content)

    def _drain(self) -> None:
        if not self.drained:
            self.drained = True
            self.tail = self._deliver(self.splitter.finish())

    def fallback_content(self) -> str | None:
        self._drain()
        thought = "".join(self.thought)
        if self.force_content and thought and not self.confirmed:
            self.pending = ""
            return thought
        return None

    def finish(self) -> DeltaMessage | None:
        self._drain()
        tail, self.tail = self.tail, None
        if self.pending:
            reasoning = tail.reasoning or "" if tail is not None else ""
            content = (tail.content or "" if tail is not None else "") + self.pending
            tail, self.pending = _message(reasoning, content), ""
        return tail


@dataclass
class _Gate:
    """The structured-output gate's splitter, fed only new tokens.

    vLLM rechecks shorter windows when speculative tokens are rejected: a rewind restarts
    from the last checkpoint, or from the prompt when there is none.
    """

    parser: _ThinkReasoningParser
    prompt_len: int
    splitter: ThinkSplitter
    pos: int = -1
    checkpoint: tuple[int, ThinkSplitter] | None = None

    def advance(self, input_ids: Sequence[int], delta_ids: list[int]) -> bool:
        base = len(input_ids) - len(delta_ids)
        if self.pos == -1:
            self.pos = base
        if base != self.pos:
            if self.checkpoint is not None and self.checkpoint[0] == base:
                self.splitter = copy.copy(self.checkpoint[1])
            else:
                self.splitter = self.parser._new_splitter(input_ids[:self.prompt_len])
                self.splitter.feed(self.parser._decode(input_ids[self.prompt_len:base]))
        self.checkpoint = (base, copy.copy(self.splitter))
        if not self.splitter.ended:
            self.splitter.feed(self.parser._decode(delta_ids))
        self.pos = len(input_ids)
        return self.splitter.ended


def _is_structured(request: Any) -> bool:
    """Whether vLLM will constrain this request's output with a grammar."""
    extract = getattr(request, "extract_structured_outputs", None)
    if extract is not None and extract() is not None:
        return True
    tool_choice = getattr(request, "tool_choice", None)
    forced = tool_choice == "required" or not isinstance(tool_choice, str | None)
    return bool(getattr(request, "tools", None)) and forced


def _answer_from_start(request: Any) -> bool:
    """Whether vLLM constrains this request's output from its first token whatever the prompt
    says, so that all of it is the answer: a grammar on chat completions with
    `include_reasoning: false` (vLLM's rule in `resolve_reasoning_ended`)."""
    return (getattr(request, "include_reasoning", True) is False
            and callable(getattr(request, "resolve_reasoning_ended", None))
            and _is_structured(request))


def _marked_grammar_from_start(request: Any) -> bool:
    """Whether our `adjust_request` marked this request's grammar as covering the whole output
    (the marker a client cannot set, `_refuse_internal_state`)."""
    return (getattr(request, "chat_template_kwargs", None) or {}).get(GRAMMAR_FROM_START) is True


def _refuse_internal_state(request: Any) -> None:
    """A client must not set the plugin's marker (see GRAMMAR_FROM_START): the kwarg alone is a
    400, the `vllm_xargs` key alone is dropped; both together are ours, from an earlier pass
    over the same request (vLLM renders a Responses request again for each built-in tool turn)."""
    kwargs = getattr(request, "chat_template_kwargs", None) or {}
    xargs = getattr(request, "vllm_xargs", None) or {}
    if GRAMMAR_FROM_START in kwargs and GRAMMAR_FROM_START not in xargs:
        name = f"chat_template_kwargs.{GRAMMAR_FROM_START}"
        raise VLLMValidationError(f"{name} is set by the server only; remove it",
                                  parameter=name, value=kwargs[GRAMMAR_FROM_START])
    if GRAMMAR_FROM_START in xargs and GRAMMAR_FROM_START not in kwargs:
        request.vllm_xargs = {k: v for k, v in xargs.items() if k != GRAMMAR_FROM_START}


def _grammar_covers_the_whole_output(request: Any) -> None:
    """Tell vLLM to constrain from the first generated token: its own hook for parsers whose
    grammar already covers reasoning (chat completions; Responses from vLLM 0.33), and our
    kwarg, which the engine's structured-output gate reads on every API (GRAMMAR_FROM_START).
    The same key in `vllm_xargs` tells the thinking-budget processor to force nothing."""
    if "_grammar_from_parser" in getattr(type(request), "__private_attributes__", {}):
        request._grammar_from_parser = True
    request.chat_template_kwargs = {**(request.chat_template_kwargs or {}),
                                    GRAMMAR_FROM_START: True}
    if hasattr(request, "vllm_xargs"):
        request.vllm_xargs = {**(request.vllm_xargs or {}), GRAMMAR_FROM_START: True}


class NanoV3ReasoningParser(_ThinkReasoningParser):
    """Nemotron-3 Nano/Super, Nano-9B-v2: output starts inside reasoning unless the prompt
    closed it."""

    TOOL_STARTS = NEMOTRON_TOOL_STARTS

    def _start_after_prompt(self, prompt_ids: Sequence[int] | None) -> Mode:
        if prompt_ids is not None and self._prompt_tag_state(prompt_ids) is Mode.CONTENT:
            return Mode.CONTENT
        return Mode.REASONING


class LlamaNemotronThinkingReasoningParser(_ThinkReasoningParser):
    """Llama-Nemotron "detailed thinking on/off": reasoning only if the output opens `<think>`.

    "detailed thinking off" as the prompt's last control phrase makes everything content (so a
    grammar applies from the first token); a prompt that leaves `<think>` open starts inside
    reasoning.
    """

    TOOL_STARTS = LLAMA_NEMOTRON_TOOL_STARTS

    def _start_after_prompt(self, prompt_ids: Sequence[int] | None) -> Mode:
        if prompt_ids is None:
            return Mode.START
        text = self._decode(prompt_ids)
        state = _last_tag_state(text)
        if state is Mode.REASONING:
            return Mode.REASONING
        if text.rfind("detailed thinking off") > text.rfind("detailed thinking on"):
            return Mode.CONTENT
        return Mode.START


def _ours(reasoning_parser: Any) -> bool:
    """A reasoning parser from any loaded copy of this file (`_ThinkReasoningParser`'s mark)."""
    return getattr(reasoning_parser, "takes_what_the_delegating_parser_passes", False) is True


def _show_prompt_to_reasoning_parser(self: Any, prompt_token_ids: Any) -> None:
    """vLLM 0.32 hands the rendered prompt to the request's parser before parsing a whole
    output, but its `DelegatingParser` drops it; with `include_reasoning: false` it never asks
    `is_reasoning_end` either, so ours could not tell an answer after a closed think block (e.g.
    `enable_thinking: 0`, a `<think></think>` prefill) from a thought. Passed on to ours only."""
    reasoning_parser: Any = getattr(self, "_reasoning_parser", None)
    if _ours(reasoning_parser):
        reasoning_parser.set_prompt_token_ids(prompt_token_ids)


def _with_the_marked_request(parse_delta: Any) -> Any:
    """vLLM 0.32 builds a streamed request's parsers from its chat-template kwargs before our
    `adjust_request` marks a grammar that covers the whole output (GRAMMAR_FROM_START, e.g.
    `include_reasoning: false` with a grammar), and gives a reasoning parser no request while
    streaming; so ours read such an answer as a thought (dropping a leading `<think>` the grammar
    wrote) where the same request not streamed is all answer. The marked request reaches ours
    here, before each delta is read."""
    def with_the_marked_request(self: Any, delta_text: str, delta_token_ids: Any, request: Any,
                                *args: Any, **kwargs: Any) -> Any:
        reasoning_parser: Any = getattr(self, "_reasoning_parser", None)
        if _ours(reasoning_parser) and _marked_grammar_from_start(request):
            reasoning_parser.grammar_from_start = True
        return parse_delta(self, delta_text, delta_token_ids, request, *args, **kwargs)

    with_the_marked_request.__wrapped__ = parse_delta  # type: ignore[attr-defined]
    with_the_marked_request.passes_the_marked_request = True  # type: ignore[attr-defined]
    return with_the_marked_request


def _register() -> None:
    """Eager registration, so the file also works as a drop-in plugin (same classes either way)."""
    try:
        from vllm.parser.abstract_parser import DelegatingParser, Parser
    except ImportError:  # pragma: no cover - a vLLM that moved it has its own way
        pass
    else:
        # once, whichever copy of this file loads first: each reaches every copy's parsers
        if "set_prompt_token_ids" not in vars(DelegatingParser) \
                and DelegatingParser.set_prompt_token_ids is Parser.set_prompt_token_ids:
            DelegatingParser.set_prompt_token_ids = _show_prompt_to_reasoning_parser  # type: ignore
        if not hasattr(DelegatingParser.parse_delta, "passes_the_marked_request"):
            DelegatingParser.parse_delta = _with_the_marked_request(  # type: ignore[method-assign]
                DelegatingParser.parse_delta)
    ReasoningParserManager.register_module(name="nano_v3", module=NanoV3ReasoningParser)
    ReasoningParserManager.register_module(name="super_v3", module=NanoV3ReasoningParser)
    ReasoningParserManager.register_module(name="ultra_v3", module=NanoV3ReasoningParser)
    ReasoningParserManager.register_module(
        name="llama_nemotron_thinking", module=LlamaNemotronThinkingReasoningParser
    )


_register()
