"""Markers built from the served tokenizer on first use, so unbudgeted servers pay nothing."""

from __future__ import annotations

from vllm.tokenizers.registry import cached_tokenizer_from_config

from vllm_nemotron.thinking_budget.markers import ThinkingMarkers


class LazyMarkers:
    def __init__(self, model_config):
        self.model_config = model_config
        self.markers: ThinkingMarkers | None = None

    def get(self) -> ThinkingMarkers:
        if self.markers is None:
            tokenizer = cached_tokenizer_from_config(self.model_config)
            if tokenizer is None:
                raise ValueError("thinking_budget needs the served tokenizer; "
                                 "do not use --skip-tokenizer-init with it")
            self.markers = ThinkingMarkers.from_tokenizer(tokenizer)
        return self.markers
