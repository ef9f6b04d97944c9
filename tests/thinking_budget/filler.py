"""A test-only V1 logits processor that keeps a random model thinking, so a budget shows.

With `vllm_xargs={"fill_thought": " x"}` it forces that text's one token at every step until
the output holds `</think>`, then lets the model (and any grammar) go on. Name it in
`--logits-processors` before the thinking-budget processor: vLLM builds that one again there,
the newest copy enforces and runs after this one, so the budget's forced end wins. A thought
of filler has no line break, so it lasts exactly budget + grace tokens; without a budget it
lasts until `max_tokens`.

With `fill_answer` as well, the model then says exactly that text (then its end-of-sequence
token), starting at the token after `</think>`; a test gives "\n\n" + answer when the budget
forces "\n</think>\n\n", so both agree on that token.
"""

from __future__ import annotations

import torch
from vllm import SamplingParams
from vllm.v1.sample.logits_processor import BatchUpdate, LogitsProcessor
from vllm.v1.sample.logits_processor.builtin import process_dict_updates

KEY = "fill_thought"
ANSWER_KEY = "fill_answer"


class ThoughtFiller(LogitsProcessor):
    def __init__(self, vllm_config, device: torch.device, is_pin_memory: bool):
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(vllm_config.model_config.tokenizer)
        self.close_id = self.tokenizer.convert_tokens_to_ids("</think>")
        self.eos_id = self.tokenizer.eos_token_id
        # batch index -> (filler token id, answer token ids or None, the request's output ids)
        self.rows: dict[int, tuple[int, list[int] | None, list[int]]] = {}

    @classmethod
    def validate_params(cls, params: SamplingParams) -> None:
        filler = (params.extra_args or {}).get(KEY)
        if filler is not None and not isinstance(filler, str):
            raise ValueError(f"vllm_xargs.{KEY} must be a string")
        answer = (params.extra_args or {}).get(ANSWER_KEY)
        if answer is not None and not isinstance(answer, str):
            raise ValueError(f"vllm_xargs.{ANSWER_KEY} must be a string")

    def is_argmax_invariant(self) -> bool:
        return False

    def _row(self, params: SamplingParams, _prompt, output_ids: list[int]):
        filler = (params.extra_args or {}).get(KEY)
        if filler is None:
            return None
        ids = self.tokenizer.encode(filler, add_special_tokens=False)
        if len(ids) != 1:
            raise ValueError(f"vllm_xargs.{KEY} must be one token, {filler!r} is {len(ids)}")
        answer = (params.extra_args or {}).get(ANSWER_KEY)
        answer_ids = None if answer is None else self.tokenizer.encode(
            answer, add_special_tokens=False)
        return ids[0], answer_ids, output_ids

    def update_state(self, batch_update: BatchUpdate | None) -> None:
        process_dict_updates(self.rows, batch_update, self._row)

    def apply(self, logits: torch.Tensor) -> torch.Tensor:
        for index, (token, answer_ids, output_ids) in self.rows.items():
            if self.close_id in output_ids:
                if answer_ids is None:
                    continue
                said = len(output_ids) - output_ids.index(self.close_id) - 1
                token = answer_ids[said] if said < len(answer_ids) else self.eos_id
            logits[index] = float("-inf")
            logits[index, token] = 0.0
        return logits
