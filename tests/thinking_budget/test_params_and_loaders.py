"""Request validation, and both vLLM loaders accepting the entry-point class."""

from __future__ import annotations

from importlib.metadata import entry_points
from types import SimpleNamespace

import pytest
from vllm.exceptions import VLLMValidationError
from vllm.sampling_params import SamplingParams

from vllm_nemotron.thinking_budget import ThinkingBudgetLogitsProcessor
from vllm_nemotron.thinking_budget.params import DEFAULT_GRACE, BudgetParams, budget_params

FQCN = "vllm_nemotron.thinking_budget:ThinkingBudgetLogitsProcessor"


@pytest.mark.parametrize("extra,expected", [
    (None, None),
    ({}, None),
    ({"thinking_budget": 0}, BudgetParams(0, DEFAULT_GRACE)),
    ({"thinking_budget": 12, "thinking_budget_grace": 0}, BudgetParams(12, 0)),
    # NeMo's ThinkingBudgetLogitsProcessor's names: -1 is no budget, its grace period is ours
    ({"thinking_budget": -1}, None),
    ({"thinking_budget": -1, "thinking_budget_grace_period": 50}, None),
    ({"thinking_budget": 12, "thinking_budget_grace_period": 3}, BudgetParams(12, 3)),
])
def test_valid(extra, expected):
    assert budget_params(SamplingParams(extra_args=extra)) == expected


@pytest.mark.parametrize("extra,parameter", [
    ({"thinking_budget": -2}, "thinking_budget"),
    ({"thinking_budget": -1.0}, "thinking_budget"),
    ({"thinking_budget": 2.5}, "thinking_budget"),
    ({"thinking_budget": "10"}, "thinking_budget"),
    ({"thinking_budget": True}, "thinking_budget"),
    ({"thinking_budget": 10**12}, "thinking_budget"),
    ({"thinking_budget": 5, "thinking_budget_grace": -3}, "thinking_budget_grace"),
    ({"thinking_budget": 5, "thinking_budget_grace": 10**9}, "thinking_budget_grace"),
    ({"thinking_budget_grace": 4}, "thinking_budget_grace"),
    ({"thinking_budget_grace_period": 4}, "thinking_budget_grace_period"),
    ({"thinking_budget": 5, "thinking_budget_grace_period": -1}, "thinking_budget_grace_period"),
    ({"thinking_budget": 5, "thinking_budget_grace": 1, "thinking_budget_grace_period": 1},
     "thinking_budget_grace_period"),
])
def test_invalid_names_the_parameter(extra, parameter):
    with pytest.raises(VLLMValidationError) as err:
        ThinkingBudgetLogitsProcessor.validate_params(SamplingParams(extra_args=extra))
    assert err.value.parameter == parameter
    assert parameter in str(err.value)


def test_native_budget_cannot_be_combined():
    params = SamplingParams(extra_args={"thinking_budget": 4}, thinking_token_budget=4)
    with pytest.raises(VLLMValidationError, match="thinking_token_budget"):
        budget_params(params)


def test_both_loaders_accept_the_class_by_name():
    from vllm.v1.sample.logits_processor import _load_logitsprocs_by_fqcns
    from vllm.v1.worker.gpu.sample.logits_processor.loader import _load_v2_logitsprocs_by_fqcns

    assert _load_logitsprocs_by_fqcns([FQCN]) == [ThinkingBudgetLogitsProcessor]
    assert _load_v2_logitsprocs_by_fqcns([FQCN]) == [ThinkingBudgetLogitsProcessor]


def test_installed_entry_point_passes_both_loaders():
    ours = [ep for ep in entry_points(group="vllm.logits_processors") if ep.value == FQCN]
    if not ours:
        pytest.skip("the vllm.logits_processors entry point is not installed yet")
    from vllm.v1.sample.logits_processor import _load_logitsprocs_plugins
    from vllm.v1.worker.gpu.sample.logits_processor.loader import _load_v2_logitsprocs_plugins

    assert ThinkingBudgetLogitsProcessor in _load_logitsprocs_plugins()
    assert ThinkingBudgetLogitsProcessor in _load_v2_logitsprocs_plugins()


def test_installed_and_named_builds_two_copies_and_the_newest_enforces():
    from vllm.v1.sample.logits_processor import _load_custom_logitsprocs
    from vllm.v1.worker.gpu.sample.logits_processor.loader import _load_v2_logitsprocs

    # the premise: both loaders build the class once per entry point and once per name
    for classes in (_load_custom_logitsprocs([FQCN]), _load_v2_logitsprocs([FQCN])):
        assert classes.count(ThinkingBudgetLogitsProcessor) == 2

    req_states = SimpleNamespace(max_num_reqs=4)
    config, other = SimpleNamespace(model_config=None), SimpleNamespace(model_config=None)
    budgeted = SamplingParams(extra_args={"thinking_budget": 3})
    first, second = (ThinkingBudgetLogitsProcessor(config, req_states) for _ in range(2))
    assert second.add_request(0, budgeted) and not first.add_request(0, budgeted)
    assert ThinkingBudgetLogitsProcessor(other, req_states).add_request(0, budgeted)
    third = ThinkingBudgetLogitsProcessor(config, req_states)  # a rebuilt set takes over
    assert third.add_request(0, budgeted) and not second.add_request(1, budgeted)
