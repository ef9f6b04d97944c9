"""The harness tokenizer; it lives in the package so `vllm-nemotron demo` shares it."""

from vllm_nemotron.tiny.tokenizer import SPECIAL_TOKENS, TAG_TOKENS, save_tokenizer  # noqa: F401
