"""A test-only V1 logits processor that makes a random model say exactly a given text.

Load it with `--logits-processors tests.harness.scripted:ScriptedOutput` and send
`extra_body={"vllm_xargs": {"script": "<text>"}}` (or `"script_ids": [...]` to choose the
exact token split, e.g. a tag cut into pieces). Output position i is forced to the script's
token i, then the end-of-sequence token. Requests without a script are untouched, so the
tiny random model can serve parser, template and budget tests end to end.
"""

from __future__ import annotations

import torch
from vllm import SamplingParams
from vllm.v1.sample.logits_processor import BatchUpdate, LogitsProcessor
from vllm.v1.sample.logits_processor.builtin import process_dict_updates


class ScriptedOutput(LogitsProcessor):
    def __init__(self, vllm_config, device: torch.device, is_pin_memory: bool):
        from transformers import AutoTokenizer

        model_config = vllm_config.model_config
        self.tokenizer = AutoTokenizer.from_pretrained(model_config.tokenizer)
        self.eos_id = self.tokenizer.eos_token_id
        # batch index -> (script token ids, reference to the request's output token ids)
        self.scripts: dict[int, tuple[list[int], list[int]]] = {}

    @classmethod
    def validate_params(cls, params: SamplingParams) -> None:
        extra = params.extra_args or {}
        if "script" in extra and not isinstance(extra["script"], str):
            raise ValueError("vllm_xargs.script must be a string")
        if "script_ids" in extra and not all(isinstance(t, int) for t in extra["script_ids"]):
            raise ValueError("vllm_xargs.script_ids must be a list of token ids")

    def is_argmax_invariant(self) -> bool:
        return False

    def _script_for(self, params: SamplingParams, _prompt, output_ids: list[int]):
        extra = params.extra_args or {}
        if "script_ids" in extra:
            return list(extra["script_ids"]), output_ids
        if "script" in extra:
            return self.tokenizer.encode(extra["script"], add_special_tokens=False), output_ids
        return None

    def update_state(self, batch_update: BatchUpdate | None) -> None:
        process_dict_updates(self.scripts, batch_update, self._script_for)

    def apply(self, logits: torch.Tensor) -> torch.Tensor:
        if not self.scripts:
            return logits
        rows, cols = [], []
        for index, (script, output_ids) in self.scripts.items():
            position = len(output_ids)
            rows.append(index)
            cols.append(script[position] if position < len(script) else self.eos_id)
        rows_t = torch.tensor(rows, device=logits.device)
        cols_t = torch.tensor(cols, device=logits.device)
        logits[rows_t] = float("-inf")
        logits[rows_t, cols_t] = 0.0
        return logits
