"""A byte-level BPE tokenizer trained on the fly, carrying the Nemotron families' tags.

Nothing is downloaded: every test checkpoint gets this tokenizer, with the family's chat
template and end-of-turn token, so the real serving paths (templates, special tokens,
incremental detokenization) run exactly as they do for the real checkpoints.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

# Tokens that the families' templates and parsers rely on; each is one vocabulary entry.
# Control tokens come first (their ids are fixed by this order) and are special: decoding
# skips them. Tags after them are ordinary added tokens, kept in decoded text, as in the
# real checkpoints, so parsers see `<think>` and `<TOOLCALL>` in the output.
SPECIAL_TOKENS = [
    "<|end_of_text|>",
    "<|begin_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
    "<|im_start|>",
    "<|im_end|>",
    "<extra_id_0>",
    "<extra_id_1>",
    "<SPECIAL_10>",  # Nemotron-Nano-9B-v2 turn markers; <SPECIAL_12> ends its turns
    "<SPECIAL_11>",
    "<SPECIAL_12>",
]
TAG_TOKENS = [
    "<think>",
    "</think>",
    "<TOOLCALL>",
    "</TOOLCALL>",
    "<toolcall>",
    "</toolcall>",
    "<tool>",
    "</tool>",
    "<context>",
    "</context>",
    "<AVAILABLE_TOOLS>",
    "</AVAILABLE_TOOLS>",
    "<TOOL_RESPONSE>",
    "</TOOL_RESPONSE>",
    "<tool_call>",  # Nemotron-3-Nano tool calls and results
    "</tool_call>",
    "<tool_response>",
    "</tool_response>",
]

_CORPUS = [
    "The quick brown fox jumps over the lazy dog. Paris is the capital of France.",
    "What is the weather in Paris today? Let me think step by step about this question.",
    "detailed thinking on detailed thinking off /think /no_think system user assistant tool",
    '{"name": "get_weather", "arguments": {"city": "Paris", "days": 3, "unit": "celsius"}}',
    "[get_weather(city=\"Paris\", days=3), f(flag=True, x=None, xs=[1, 2])]",
    "First, I need to recall the facts. Then I will answer. So the answer is 42.",
    "Hello! How can I help you today? Sure, here is a short poem about the sea.",
    "0123456789 + - * / = ( ) [ ] { } < > , . ; : ' \" ! ? \n\n \t",
]


@cache
def _tokenizer_json(vocab_size: int) -> str:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS + TAG_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS * 20, trainer=trainer)
    data = json.loads(tok.to_str())
    for added in data["added_tokens"]:
        if added["content"] in TAG_TOKENS:
            added["special"] = False
    return json.dumps(data)


def save_tokenizer(
    path: str | Path,
    chat_template: str | None = None,
    eos_token: str = "<|im_end|>",
    bos_token: str | None = None,
    vocab_size: int = 512,
) -> int:
    """Write tokenizer files into `path`; return the vocabulary size (for the model config)."""
    from transformers import PreTrainedTokenizerFast

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / "tokenizer.json").write_text(_tokenizer_json(vocab_size))
    tok = PreTrainedTokenizerFast(
        tokenizer_file=str(path / "tokenizer.json"),
        eos_token=eos_token,
        bos_token=bos_token,
        pad_token="<|end_of_text|>",
        additional_special_tokens=[t for t in SPECIAL_TOKENS if t not in (eos_token, bos_token)],
    )
    if chat_template is not None:
        tok.chat_template = chat_template
    tok.save_pretrained(str(path))
    # Keep the template in tokenizer_config.json too: older readers look there only.
    if chat_template is not None:
        cfg_path = path / "tokenizer_config.json"
        cfg = json.loads(cfg_path.read_text())
        cfg["chat_template"] = chat_template
        cfg_path.write_text(json.dumps(cfg, indent=2))
    return len(tok)

