"""Tiny random checkpoints of the Nemotron families, for the demo and the tests.

No hub access is needed: the tokenizer is trained on the fly and weights are random.
"""

from .checkpoints import (
    build_llama,
    build_nemotron3_nano_moe,
    build_nemotron3_super,
    build_nemotron4,
    build_nemotron_h,
)
from .tokenizer import SPECIAL_TOKENS, TAG_TOKENS, save_tokenizer

__all__ = ["SPECIAL_TOKENS", "TAG_TOKENS", "build_llama", "build_nemotron3_nano_moe",
           "build_nemotron3_super", "build_nemotron4", "build_nemotron_h",
           "save_tokenizer"]
