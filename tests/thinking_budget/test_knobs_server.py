"""Every thinking knob a client may send, end to end on the CPU server, through the official
`openai` and `anthropic` SDKs (docs/thinking-knobs.md's table names these tests).

One server: the tiny Nemotron-H with Nemotron-3-Nano's template plus a `low_effort` branch
like Nemotron-3-Super's (so the prompt shows whether the kwarg arrived), `nano_v3`,
`qwen3_coder`, and three processors in this order: scripted output (the model says a chosen
text), the thought filler (the model thinks " think" until `</think>`), and the thinking budget
again, whose newest copy enforces and so runs last. With the filler a thought is exact: a
budget B with grace G ends thinking after B + G tokens; with no budget the model thinks until
`max_tokens`.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import anthropic
import openai
import pytest
from transformers import AutoTokenizer

import vllm_nemotron.chat_templates as chat_templates
from tests.harness.replies import fold_stream, read_reply
from tests.harness.server import OpenAIServer
from tests.thinking_budget.served import end_sequence
from vllm_nemotron.thinking_budget.effort import EFFORT_BUDGETS_ENV
from vllm_nemotron.thinking_budget.params import DEFAULT_GRACE
from vllm_nemotron.thinking_budget.reserve import RESERVE_ENV

pytestmark = pytest.mark.slow

FILL = " think"
MARK = "{reasoning effort: low}"
# Nemotron-3-Nano's template, plus what Nemotron-3-Super's adds for `low_effort`: a mark in the
# prompt (ours is at the top; the point is only that the kwarg reached the template)
LOW_EFFORT_BRANCH = ("{%- if low_effort is defined and low_effort %}{{- '" + MARK
                     + "\\n' }}{%- endif %}")
EFFORTS = {"minimal": 3, "low": 5, "medium": 9}  # the operator's mapping on this server
ARGS = [
    "--reasoning-parser", "nano_v3",
    "--enable-auto-tool-choice", "--tool-call-parser", "qwen3_coder",
    "--logits-processors", "tests.harness.scripted:ScriptedOutput",
    "tests.thinking_budget.filler:ThoughtFiller",
    "vllm_nemotron.thinking_budget:ThinkingBudgetLogitsProcessor",
    "--no-enable-prefix-caching",  # CPU-build Mamba bug, see tests/conftest.py
    "--max-num-seqs", "32",
    # a random model under a JSON grammar may write whitespace until max_tokens
    "--structured-outputs-config", '{"backend": "xgrammar", "disable_any_whitespace": true}',
]
MESSAGES = [{"role": "user", "content": "Why is the sky blue?"}]
MAX_TOKENS = 40
GRACE0 = {"thinking_budget_grace": 0}
WEATHER = {"name": "get_weather", "description": "Weather in a city", "input_schema": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
SCHEMA = {"type": "object", "properties": {"answer": {"type": "string", "enum": ["yes", "no"]}},
          "required": ["answer"], "additionalProperties": False}


@pytest.fixture(scope="module")
def server(tiny_hybrid, tmp_path_factory):
    template = tmp_path_factory.mktemp("templates") / "low_effort.jinja"
    template.write_text(LOW_EFFORT_BRANCH + chat_templates.text("nemotron_nano_v3"))
    # the knobs' own meaning, with the answer reserve off by the server's default (one test
    # turns it on per request; tests/thinking_budget/test_answer_reserve_server.py has it on)
    env = {EFFORT_BUDGETS_ENV: ",".join(f"{k}={v}" for k, v in EFFORTS.items()),
           RESERVE_ENV: "0"}
    with OpenAIServer(tiny_hybrid, [*ARGS, "--chat-template", str(template)], env=env) as srv:
        yield srv


@pytest.fixture(scope="module")
def tokenizer(tiny_hybrid):
    tok = AutoTokenizer.from_pretrained(tiny_hybrid)
    assert len(tok.encode(FILL, add_special_tokens=False)) == 1
    return tok


@pytest.fixture(scope="module")
def close_at(tokenizer) -> int:
    """Where `</think>` sits in the forced end sequence (the thought's length is counted up to
    it, so a thought of budget + grace tokens ends at budget + grace + close_at)."""
    return end_sequence(tokenizer)[1]


@pytest.fixture(scope="module")
def anthropic_client(server):
    return anthropic.Anthropic(base_url=server.url(""), api_key="EMPTY", max_retries=0,
                               timeout=300)


def fill(**xargs) -> dict:
    return {"fill_thought": FILL, **xargs}


def chat(server, *, stream=False, **body):
    """A chat completion with the filler on; `body` is the request's extra fields."""
    xargs = {**fill(), **body.pop("vllm_xargs", {})}
    request = dict(model=server.model, messages=MESSAGES, max_tokens=MAX_TOKENS, logprobs=True,
                   extra_body={**body, "vllm_xargs": xargs})
    client = server.client()
    if stream:
        return fold_stream(client.chat.completions.create(
            **request, stream=True, stream_options={"include_usage": True}))
    return read_reply(client.chat.completions.create(**request))


def thought_length(reply) -> int | None:
    """Tokens before `</think>` in the reply, or None when thinking never ended."""
    return reply.tokens.index("</think>") if "</think>" in reply.tokens else None


# knob -> (the request's extra fields, the budget it must get); grace 0 unless it says
KNOBS = {
    "vllm_xargs.thinking_budget": ({"vllm_xargs": {"thinking_budget": 4, **GRACE0}}, 4),
    "thinking_token_budget": ({"thinking_token_budget": 5, "vllm_xargs": GRACE0}, 5),
    "nvext.max_thinking_tokens": ({"nvext": {"max_thinking_tokens": 6}, "vllm_xargs": GRACE0},
                                  6),
    "max_thinking_tokens": ({"max_thinking_tokens": 7, "vllm_xargs": GRACE0}, 7),
    "reasoning_budget": ({"reasoning_budget": 8, "vllm_xargs": GRACE0}, 8),
    "chat_template_kwargs.reasoning_budget": (
        {"chat_template_kwargs": {"reasoning_budget": 9}, "vllm_xargs": GRACE0}, 9),
    **{f"reasoning_effort {e}": ({"reasoning_effort": e, "vllm_xargs": GRACE0}, b)
       for e, b in EFFORTS.items()},
    # NeMo's processor's grace name: budget 4 + grace 2
    "thinking_budget_grace_period": (
        {"vllm_xargs": {"thinking_budget": 4, "thinking_budget_grace_period": 2}}, 6),
    # vLLM's budget is a maximum: the default grace comes out of it (no line break: 20)
    "thinking_token_budget, default grace": ({"thinking_token_budget": 20}, 20),
    # no budget: effort high, and NeMo's -1 over an effort that would set one
    "reasoning_effort high": ({"reasoning_effort": "high"}, None),
    "vllm_xargs.thinking_budget -1": (
        {"vllm_xargs": {"thinking_budget": -1}, "reasoning_effort": "low"}, None),
}


def test_every_knob_sets_the_budget_streamed_and_not(server, close_at):
    jobs = [(name, stream) for name in KNOBS for stream in (False, True)]
    with ThreadPoolExecutor(len(jobs)) as pool:
        replies = dict(zip(jobs, pool.map(
            lambda job: chat(server, stream=job[1], **json.loads(json.dumps(KNOBS[job[0]][0]))),
            jobs)))
    for (name, stream), reply in replies.items():
        budget = KNOBS[name][1]
        details = reply.usage.completion_tokens_details
        if budget is None:  # thinks until max_tokens
            assert thought_length(reply) is None, (name, stream)
            assert reply.finish == "length" and details.reasoning_tokens == MAX_TOKENS
            assert reply.reasoning.split() == ["think"] * MAX_TOKENS
            continue
        assert thought_length(reply) == budget + close_at, (name, stream)
        assert details.reasoning_tokens == budget + close_at, (name, stream)
        assert reply.reasoning.split() == ["think"] * budget, (name, stream)


def test_server_default_reserve_from_the_environment(server, tokenizer, close_at):
    """`VLLM_NEMOTRON_ANSWER_RESERVE=0` on this server: the reserve is off unless a request
    sets one (docs/answer-reserve.md); with 10 of 40 tokens reserved, the thought may use
    what the end sequence leaves of the other 30."""
    off, on = (chat(server, stream=stream, vllm_xargs=xargs)
               for stream, xargs in ((False, {}), (True, {"answer_reserve": 10})))
    assert thought_length(off) is None and off.finish == "length"
    assert thought_length(on) == MAX_TOKENS - 10 - end_sequence(tokenizer)[0] + close_at
    assert len(on.tokens) == MAX_TOKENS


def test_responses_api_knobs(server, close_at):
    client = server.client()

    def reasoning_tokens(**fields) -> int:
        response = client.responses.create(
            model=server.model, input="Why is the sky blue?", max_output_tokens=MAX_TOKENS,
            **fields)
        return response.usage.output_tokens_details.reasoning_tokens

    assert reasoning_tokens(reasoning={"effort": "low"},
                            extra_body={"vllm_xargs": fill(**GRACE0)}) == 5 + close_at
    assert reasoning_tokens(extra_body={"nvext": {"max_thinking_tokens": 6},
                                        "vllm_xargs": fill(**GRACE0)}) == 6 + close_at
    assert reasoning_tokens(reasoning={"effort": "high"},
                            extra_body={"vllm_xargs": fill()}) == MAX_TOKENS


def prompt_text(server, tokenizer, **fields) -> str:
    response = server.client().chat.completions.create(
        model=server.model, messages=MESSAGES, max_tokens=1,
        extra_body={"return_token_ids": True, **fields.pop("extra_body", {})}, **fields)
    return tokenizer.decode(response.prompt_token_ids)


@pytest.mark.parametrize("fields,marked", [
    ({"reasoning_effort": "low"}, True),
    ({"reasoning_effort": "minimal"}, True),
    ({"reasoning_effort": "medium"}, False),
    ({"reasoning_effort": "high"}, False),
    ({}, False),
    ({"reasoning_effort": "none"}, False),  # thinking off: no low_effort
    ({"reasoning_effort": "low", "extra_body": {"chat_template_kwargs": {"low_effort": False}}},
     False),  # the client's own kwarg is never overridden
    ({"extra_body": {"chat_template_kwargs": {"low_effort": True}}}, True),
])
def test_low_effort_reaches_the_template(server, tokenizer, fields, marked):
    assert (MARK in prompt_text(server, tokenizer, **fields)) is marked


def test_low_effort_from_responses_and_anthropic(server, tokenizer, anthropic_client):
    """Both report the prompt's length; "low" adds exactly the template's mark to it."""
    mark_len = len(tokenizer.encode(MARK + "\n", add_special_tokens=False))
    client = server.client()

    def responses_prompt(effort: str) -> int:
        return client.responses.create(
            model=server.model, input="Why is the sky blue?", max_output_tokens=1,
            reasoning={"effort": effort}).usage.input_tokens

    def messages_prompt(effort: str) -> int:
        return anthropic_client.messages.create(
            model=server.model, max_tokens=1, messages=MESSAGES,
            output_config={"effort": effort}).usage.input_tokens

    assert responses_prompt("low") - responses_prompt("medium") == mark_len
    assert messages_prompt("low") - messages_prompt("medium") == mark_len


@pytest.mark.parametrize("body,parameter", [
    ({"nvext": {"max_thinking_tokens": "lots"}}, "nvext.max_thinking_tokens"),
    ({"nvext": 128}, "nvext"),
    ({"max_thinking_tokens": -5}, "max_thinking_tokens"),
    ({"reasoning_budget": 2.5}, "reasoning_budget"),
    ({"chat_template_kwargs": {"reasoning_budget": "8k"}}, "chat_template_kwargs.reasoning_budget"),
    ({"vllm_xargs": {"thinking_budget": -2}}, "thinking_budget"),
    ({"vllm_xargs": {"thinking_budget": 4, "thinking_budget_grace_period": 1,
                     "thinking_budget_grace": 1}}, "thinking_budget_grace_period"),
])
def test_a_bad_knob_is_a_400_naming_it(server, body, parameter):
    with pytest.raises(openai.BadRequestError) as err:
        server.client().chat.completions.create(
            model=server.model, messages=MESSAGES, max_tokens=4, extra_body=body)
    assert parameter in str(err.value)


def test_min_thinking_tokens_is_served_without_a_minimum_and_logged(server, close_at):
    """NVIDIA's RAG blueprint sends min and max together for Nano-9B-v2: the max is the budget,
    the min is ignored with a warning (docs/thinking-knobs.md)."""
    reply = chat(server, min_thinking_tokens=1024, max_thinking_tokens=3, vllm_xargs=GRACE0)
    assert thought_length(reply) == 3 + close_at
    assert "min_thinking_tokens is ignored" in server.log_path.read_text()


# --- Anthropic's Messages API (vLLM's /v1/messages), official SDK ----------------------------

def messages(client, *, stream=False, **fields):
    """One `/v1/messages` call, streamed through the SDK's stream helper or not."""
    if stream:
        with client.messages.stream(**fields) as events:
            return events.get_final_message()
    return client.messages.create(**fields)


def blocks(message) -> dict[str, list]:
    found: dict[str, list] = {}
    for block in message.content:
        found.setdefault(block.type, []).append(block)
    return found


# case -> (request fields, max_tokens, thinking words expected)
ANTHROPIC = {
    # the smallest budget Anthropic allows, a maximum (the grace is inside it)
    "budget_tokens": ({"thinking": {"type": "enabled", "budget_tokens": 1024}}, 1100, 1024),
    "budget_tokens, grace 0": ({"thinking": {"type": "enabled", "budget_tokens": 1024},
                                "extra_body": {"vllm_xargs": fill(**GRACE0)}}, 1100, 1024),
    "effort low": ({"output_config": {"effort": "low"}}, 60, 5 + DEFAULT_GRACE),
    "effort medium": ({"output_config": {"effort": "medium"}}, 60, 9 + DEFAULT_GRACE),
}


def test_anthropic_budget_and_effort_streamed_and_not(server, anthropic_client):
    jobs = [(name, stream) for name in ANTHROPIC for stream in (False, True)]

    def run(job):
        fields, max_tokens, _ = ANTHROPIC[job[0]]
        fields = json.loads(json.dumps(fields))
        extra = fields.pop("extra_body", {"vllm_xargs": fill()})
        return messages(anthropic_client, stream=job[1], model=server.model,
                        max_tokens=max_tokens, messages=MESSAGES, extra_body=extra, **fields)

    with ThreadPoolExecutor(len(jobs)) as pool:
        replies = dict(zip(jobs, pool.map(run, jobs)))
    for (name, stream), message in replies.items():
        words = ANTHROPIC[name][2]
        (thinking,) = blocks(message)["thinking"]
        assert thinking.thinking.split() == ["think"] * words, (name, stream)
        assert message.stop_reason in ("end_turn", "max_tokens"), (name, stream)


def sentence(tokenizer, words: int) -> str:
    """`words` filler tokens and a full stop: a thought that ends a sentence there."""
    text = FILL * words + "."
    assert len(tokenizer.encode(text, add_special_tokens=False)) == words + 1
    return text


@pytest.mark.parametrize("stream", [False, True])
def test_budget_tokens_lands_at_the_sentence_end_inside_it(server, anthropic_client, tokenizer,
                                                          stream):
    """The soft landing: budget_tokens 1024 with the default grace of 16 lets the thought run
    to a full stop at token 1016; vLLM's own cut would stop it mid-sentence at 1024."""
    thought = sentence(tokenizer, 1015)
    message = messages(
        anthropic_client, stream=stream, model=server.model, max_tokens=1100,
        messages=MESSAGES, thinking={"type": "enabled", "budget_tokens": 1024},
        extra_body={"vllm_xargs": {"script": thought + FILL * 60}})
    assert blocks(message)["thinking"][0].thinking == thought


def test_native_budget_lands_at_the_sentence_end_inside_it(server, tokenizer):
    thought = sentence(tokenizer, 10)
    reply = read_reply(server.client().chat.completions.create(
        model=server.model, messages=MESSAGES, max_tokens=MAX_TOKENS, extra_body={
            "thinking_token_budget": 20, "vllm_xargs": {"script": thought + FILL * 30}}))
    assert reply.reasoning == thought


def test_anthropic_effort_high_has_no_budget(server, anthropic_client):
    message = anthropic_client.messages.create(
        model=server.model, max_tokens=MAX_TOKENS, messages=MESSAGES,
        output_config={"effort": "high"}, extra_body={"vllm_xargs": fill()})
    (thinking,) = blocks(message)["thinking"]
    assert thinking.thinking.split() == ["think"] * MAX_TOKENS
    assert message.stop_reason == "max_tokens"


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_thinking_disabled(server, anthropic_client, stream):
    message = messages(anthropic_client, stream=stream, model=server.model, max_tokens=32,
                       messages=MESSAGES, thinking={"type": "disabled"},
                       extra_body={"vllm_xargs": {"script": "Rayleigh scattering."}})
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == "Rayleigh scattering."


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_budget_with_a_json_schema(server, anthropic_client, stream):
    """The budget forces only "\\n</think>" under a grammar; the grammar owns the answer."""
    message = messages(
        anthropic_client, stream=stream, model=server.model, max_tokens=1024 + 100,
        messages=MESSAGES, thinking={"type": "enabled", "budget_tokens": 1024},
        output_config={"format": {"type": "json_schema", "schema": SCHEMA}},
        extra_body={"vllm_xargs": fill(**GRACE0), "temperature": 0.0})
    found = blocks(message)
    assert found["thinking"][0].thinking.split() == ["think"] * 1024
    assert message.stop_reason == "end_turn", found.get("text")
    assert json.loads(found["text"][0].text)["answer"] in ("yes", "no")


CALL = ("<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n"
        "</function>\n</tool_call>")


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_tools_with_a_budget(server, anthropic_client, stream):
    message = messages(
        anthropic_client, stream=stream, model=server.model, max_tokens=1100,
        messages=[{"role": "user", "content": "Weather in Paris?"}], tools=[WEATHER],
        thinking={"type": "enabled", "budget_tokens": 1024},
        extra_body={"vllm_xargs": {"script": "I need the weather.</think>\n" + CALL}})
    found = blocks(message)
    assert found["thinking"][0].thinking == "I need the weather."
    (call,) = found["tool_use"]
    assert (call.name, call.input) == ("get_weather", {"city": "Paris"})
    assert message.stop_reason == "tool_use"


def test_anthropic_budget_below_1024_is_refused_by_vllm(server, anthropic_client):
    with pytest.raises(anthropic.BadRequestError) as err:
        anthropic_client.messages.create(
            model=server.model, max_tokens=64, messages=MESSAGES,
            thinking={"type": "enabled", "budget_tokens": 100})
    assert "budget_tokens" in str(err.value)
