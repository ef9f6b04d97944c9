"""Checkpoint builders for tests; they live in the package so `vllm-nemotron demo` shares them."""

from vllm_nemotron.tiny import (  # noqa: F401
    SPECIAL_TOKENS,
    TAG_TOKENS,
    build_llama,
    build_nemotron4,
    build_nemotron_h,
    chat_template,
    save_tokenizer,
)
