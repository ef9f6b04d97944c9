"""`<think>...</think>` reasoning parsers for Nemotron models.

`nano_v3` (Nemotron-3-Nano, Nemotron-Nano-9B-v2): the chat template opens `<think>` in the
prompt, so the output starts inside reasoning (a re-emitted leading `<think>` is dropped);
`enable_thinking=False`, or a prompt that already closed the block, makes everything content.

`llama_nemotron_thinking` (Llama-Nemotron Nano/Super/Ultra): with "detailed thinking on" the
model writes `<think>` itself, with "off" it writes nothing; output that does not open with
`<think>` is content.

Both work whether a tag is one vocabulary token or several ordinary pieces: the split runs
on text, held back only while the text could still be a tag, so streaming costs O(delta)
and any chunking gives the non-streaming answer. Self-contained (imports only vLLM), so the
file also works as `--reasoning-parser-plugin parsers/nano_v3_reasoning_parser.py`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from typing import Any

from vllm.entrypoints.generate.base.protocol import DeltaMessage
from vllm.logger import init_logger
from vllm.reasoning.abs_reasoning_parsers import ReasoningParser, ReasoningParserManager

logger = init_logger(__name__)

THINK_START = "<think>"
THINK_END = "</think>"

START, REASONING, CONTENT = "start", "reasoning", "content"


def _held_prefix(text: str, tag: str) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of `tag`."""
    for k in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:k]):
            return k
    return 0


class ThinkSplitter:
    """Incremental `<think>` splitter: feed text, get (reasoning, content) back.

    START: the output may open with `<think>`; text that does not is `otherwise`
    (REASONING or CONTENT). REASONING runs until `</think>`; CONTENT is final.
    At most len(tag) - 1 characters are ever held back.
    """

    def __init__(self, otherwise: str, mode: str = START):
        self.otherwise = otherwise
        self.mode = mode
        self.held = ""

    @property
    def ended(self) -> bool:
        return self.mode == CONTENT

    def feed(self, text: str) -> tuple[str, str]:
        reasoning, content = "", ""
        if self.mode == START:
            text = self.held + text
            self.held = ""
            if text.startswith(THINK_START):
                self.mode = REASONING
                text = text[len(THINK_START) :]
            elif THINK_START.startswith(text):
                self.held = text
                return "", ""
            else:
                self.mode = self.otherwise
        if self.mode == REASONING:
            text = self.held + text
            self.held = ""
            end = text.find(THINK_END)
            if end == -1:
                keep = _held_prefix(text, THINK_END)
                self.held = text[len(text) - keep :] if keep else ""
                return text[: len(text) - keep], ""
            self.mode = CONTENT
            reasoning, text = text[:end], text[end + len(THINK_END) :]
        return reasoning, content + text

    def finish(self) -> tuple[str, str]:
        """Release held-back text: an unfinished tag is just text of the current mode."""
        held, self.held = self.held, ""
        if self.mode == START:
            self.mode = self.otherwise
        return (held, "") if self.mode == REASONING else ("", held)


def _last_tag_state(text: str) -> str | None:
    """REASONING if the text leaves a `<think>` open, CONTENT if it closed one, else None."""
    start, end = text.rfind(THINK_START), text.rfind(THINK_END)
    if start == end == -1:
        return None
    return REASONING if start > end else CONTENT


class _ThinkReasoningParser(ReasoningParser):
    """Shared machinery; subclasses decide what output that does not open `<think>` is."""

    # Keeps its own per-request state and reads only the new text of each delta; the
    # serving layer then asks `has_engine_confirmed_reasoning_end` and `finish_streaming`.
    engine_based_streaming = True

    def __init__(self, tokenizer: Any, *args, **kwargs):
        super().__init__(tokenizer, *args, **kwargs)
        template_kwargs = kwargs.get("chat_template_kwargs") or {}
        self.enable_thinking: bool | None = template_kwargs.get("enable_thinking")
        self.start_token_id = self.vocab.get(THINK_START)
        self.end_token_id = self.vocab.get(THINK_END)
        # What the serving layer last told us about the prompt (see is_reasoning_end).
        self._prompt_state: str | None = None
        self._stream: ThinkSplitter | None = None
        self._gate: ThinkSplitter | None = None
        self._gate_pos = 0
        self._gate_checkpoint: tuple[int, ThinkSplitter] | None = None
        self._prompt_len: int | None = None

    @property
    def reasoning_start_str(self) -> str:
        return THINK_START

    @property
    def reasoning_end_str(self) -> str:
        return THINK_END

    # --- what the prompt says -------------------------------------------------------

    def _decode(self, token_ids: Iterable[int]) -> str:
        return self.model_tokenizer.decode(list(token_ids), skip_special_tokens=False)

    def _prompt_tag_state(self, prompt_ids: Sequence[int]) -> str | None:
        if self.start_token_id is not None and self.end_token_id is not None:
            for token_id in reversed(prompt_ids):
                if token_id == self.start_token_id:
                    return REASONING
                if token_id == self.end_token_id:
                    return CONTENT
        return _last_tag_state(self._decode(prompt_ids))

    def _start_after_prompt(self, prompt_ids: Sequence[int] | None) -> str:
        """How output after this prompt (None: unknown) starts.

        CONTENT: all content; START: reasoning only if it opens `<think>`;
        REASONING: inside reasoning (a re-emitted leading `<think>` is dropped).
        """
        raise NotImplementedError

    def is_reasoning_end(self, input_ids: Sequence[int]) -> bool:
        """Called with the prompt: True when generation starts after reasoning."""
        start = self._start_after_prompt(input_ids)
        # vLLM's non-streaming path gives extract_reasoning no prompt but asks this same
        # instance about the prompt first; remember the answer.
        self._prompt_state = start
        return start == CONTENT

    def _new_splitter(self, prompt_ids: Sequence[int] | None = None) -> ThinkSplitter:
        if prompt_ids is not None:
            start = self._start_after_prompt(prompt_ids)
        elif self._prompt_state is not None:
            start = self._prompt_state
        else:
            start = self._start_after_prompt(None)
        if start == CONTENT:
            return ThinkSplitter(CONTENT, mode=CONTENT)
        return ThinkSplitter(CONTENT if start == START else REASONING)

    # --- non-streaming ----------------------------------------------------------------

    def extract_reasoning(self, model_output: str, request: Any) -> tuple[str | None, str | None]:
        splitter = self._new_splitter()
        reasoning, content = splitter.feed(model_output)
        tail_reasoning, tail_content = splitter.finish()
        return (reasoning + tail_reasoning) or None, (content + tail_content) or None

    # --- streaming (frontend) ---------------------------------------------------------

    def adjust_initial_state_from_prompt(self, prompt_token_ids: Sequence[int]) -> None:
        self._stream = self._new_splitter(prompt_token_ids)

    def extract_reasoning_streaming(
        self,
        previous_text: str,
        current_text: str,
        delta_text: str,
        previous_token_ids: Sequence[int],
        current_token_ids: Sequence[int],
        delta_token_ids: Sequence[int],
    ) -> DeltaMessage | None:
        if self._stream is None:
            self._stream = self._new_splitter()
        return _message(*self._stream.feed(delta_text))

    def has_engine_confirmed_reasoning_end(self) -> bool:
        return self._stream is not None and self._stream.ended

    def finish_streaming(self) -> DeltaMessage | None:
        if self._stream is None:
            return None
        return _message(*self._stream.finish())

    def adjust_request(self, request: Any) -> Any:
        # Tags that are special tokens would be stripped from the text before we see it.
        if any(self._is_skipped(t) for t in (self.start_token_id, self.end_token_id)):
            request.skip_special_tokens = False
        return request

    def _is_skipped(self, token_id: int | None) -> bool:
        if token_id is None:
            return False
        return self.model_tokenizer.decode([token_id], skip_special_tokens=True) == ""

    # --- token-id views (structured-output gate in the engine, usage) ------------------

    def is_reasoning_end_streaming(
        self, input_ids: Sequence[int], delta_ids: Iterable[int]
    ) -> bool:
        """Engine-side gate: feeds only new tokens to a per-request splitter.

        A rewind (speculative tokens re-checked shorter) restarts from the last
        checkpoint, or from the prompt when there is none.
        """
        delta_ids = list(delta_ids)
        base = len(input_ids) - len(delta_ids)
        if self._gate is None or self._prompt_len is None:
            self._prompt_len = base
            self._gate = self._new_splitter(input_ids[:base])
            self._gate_pos = base
        if base != self._gate_pos:
            if self._gate_checkpoint is not None and self._gate_checkpoint[0] == base:
                self._gate = copy.copy(self._gate_checkpoint[1])
            else:
                self._gate = self._new_splitter(input_ids[: self._prompt_len])
                self._gate.feed(self._decode(input_ids[self._prompt_len : base]))
        self._gate_checkpoint = (base, copy.copy(self._gate))
        if not self._gate.ended:
            self._gate.feed(self._decode(delta_ids))
        self._gate_pos = len(input_ids)
        return self._gate.ended

    def _token_modes(self, token_ids: Sequence[int]) -> Iterable[tuple[int, str, str]]:
        """(index, mode before, mode after) per generated token, tags as one or many tokens."""
        splitter = self._new_splitter()
        for i, token_id in enumerate(token_ids):
            before = splitter.mode
            if token_id == self.start_token_id:
                splitter.feed(THINK_START)
            elif token_id == self.end_token_id:
                splitter.feed(THINK_END)
            else:
                splitter.feed(self._decode([token_id]))
            yield i, before, splitter.mode

    def extract_content_ids(self, input_ids: list[int]) -> list[int]:
        for i, _, after in self._token_modes(input_ids):
            if after == CONTENT:
                return list(input_ids[i + 1 :])
        return []

    def count_reasoning_tokens(self, token_ids: Sequence[int]) -> int:
        """Tokens that released reasoning text (exact when tags are single tokens)."""
        splitter = self._new_splitter()
        count = 0
        for token_id in token_ids:
            if token_id in (self.start_token_id, self.end_token_id):
                reasoning, _ = splitter.feed(THINK_START if token_id == self.start_token_id else THINK_END)
            else:
                reasoning, _ = splitter.feed(self._decode([token_id]))
            count += bool(reasoning)
        return count


def _message(reasoning: str, content: str) -> DeltaMessage | None:
    if not reasoning and not content:
        return None
    return DeltaMessage(reasoning=reasoning or None, content=content or None)


class NanoV3ReasoningParser(_ThinkReasoningParser):
    """Nemotron-3-Nano / Nano-9B-v2: output starts inside reasoning unless thinking is off."""

    def _start_after_prompt(self, prompt_ids: Sequence[int] | None) -> str:
        if self.enable_thinking is False:
            return CONTENT
        if prompt_ids is not None and self._prompt_tag_state(prompt_ids) == CONTENT:
            return CONTENT
        return REASONING


class LlamaNemotronThinkingReasoningParser(_ThinkReasoningParser):
    """Llama-Nemotron "detailed thinking on/off": reasoning only if the output opens `<think>`.

    Thinking is off (all content, structured output applies from the first token) when
    `enable_thinking` is False or the prompt's last control phrase is "detailed thinking
    off"; a prompt that leaves `<think>` open starts inside reasoning.
    """

    def _start_after_prompt(self, prompt_ids: Sequence[int] | None) -> str:
        if self.enable_thinking is False:
            return CONTENT
        if prompt_ids is None:
            return START
        text = self._decode(prompt_ids)
        state = _last_tag_state(text)
        if state == REASONING:
            return REASONING
        if self.enable_thinking is None and (
            text.rfind("detailed thinking off") > text.rfind("detailed thinking on")
        ):
            return CONTENT
        return START


def _register() -> None:
    """Eager registration, so the file also works as a drop-in plugin (same classes either way)."""
    ReasoningParserManager.register_module(name="nano_v3", module=NanoV3ReasoningParser)
    ReasoningParserManager.register_module(
        name="llama_nemotron_thinking", module=LlamaNemotronThinkingReasoningParser
    )


_register()
