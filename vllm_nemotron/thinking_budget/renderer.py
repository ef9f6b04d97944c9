"""vLLM's chat-template renderer, plus the template kwargs that a request's effort implies.

vLLM renders the chat template before any parser sees the request, so the reasoning parser's
`adjust_request` (where budgets are decided) is too late for the prompt. A renderer is vLLM's
own place for this (its Kimi-K3 renderer maps `reasoning_effort` onto that template's kwargs):
`register()` puts this subclass in the place of vLLM's HF renderer, and it adds what
`effort.template_kwargs` decides (`low_effort` for the low efforts) before vLLM renders.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from vllm.renderers.hf import HfRenderer
from vllm.renderers.params import ChatParams

from vllm_nemotron.thinking_budget.effort import template_kwargs


def with_effort_kwargs(params: ChatParams) -> ChatParams:
    """`params` with the effort's template kwargs (the same object when there are none)."""
    kwargs = template_kwargs(params.chat_template_kwargs)
    if kwargs is params.chat_template_kwargs:
        return params
    return dataclasses.replace(params, chat_template_kwargs=kwargs)


class EffortHfRenderer(HfRenderer):
    """vLLM's `HfRenderer` (renderer mode "hf"), with `with_effort_kwargs` applied."""

    def render_messages(self, messages: Any, params: ChatParams) -> Any:
        return super().render_messages(messages, with_effort_kwargs(params))

    async def render_messages_async(self, messages: Any, params: ChatParams) -> Any:
        return await super().render_messages_async(messages, with_effort_kwargs(params))
