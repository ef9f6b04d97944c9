"""A seeded generator of valid and invalid requests over every endpoint and knob the plugin
touches, for the request fuzzer (issue 24).

`generate(seed, count, tool_parser)` returns `Case`s: an endpoint, a JSON body, and, for an
invalid request, the fields it broke (the 400 must name one of them). The same seed always gives
the same cases. What varies: chat completions, the Responses API, completions and Anthropic's
`/v1/messages`; streamed or not; tools and `tool_choice` of every kind; `response_format` and
`structured_outputs`; every thinking knob of the README's table (with odd values);
`include_reasoning`; multi-turn histories with tool calls and reasoning; `logit_bias`, `stop`,
`seed`, `n`, `temperature`, `max_tokens`. Some requests make the tiny random model say a chosen
text (`vllm_xargs.script`, tests/harness/scripted.py): a think block, a tool call in the
server's format, or a broken one, so the parsers see realistic output.

Requests are kept short (small `max_tokens`) so hundreds fit in a minute on the CPU server.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field
from typing import Any

ENDPOINTS = {
    "chat": "/v1/chat/completions",
    "responses": "/v1/responses",
    "completions": "/v1/completions",
    "messages": "/v1/messages",
}

WEATHER = {"name": "get_weather", "description": "Current weather in a city.",
           "parameters": {"type": "object", "properties": {
               "city": {"type": "string"}, "unit": {"type": "string", "enum": ["C", "F"]}},
               "required": ["city"]}}
TIME = {"name": "get_time", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
NO_ARGS = {"name": "ping", "parameters": {"type": "object", "properties": {}}}
ODD_SCHEMA = {"name": "odd_tool", "parameters": {"type": "odd"}}  # not a JSON schema
FUNCTIONS = [WEATHER, TIME, NO_ARGS]

SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}},
          "required": ["answer"]}

# What the scripted model says, by tool parser: tool calls well and badly formed.
CALL_SCRIPTS = {
    "llama_nemotron_json": [
        '<TOOLCALL>[{"name": "get_weather", "arguments": {"city": "Paris"}}]</TOOLCALL>',
        'Checking.<TOOLCALL>[{"name": "get_time", "arguments": {"city": "Rome"}}, '
        '{"name": "ping", "arguments": {}}]</TOOLCALL>',
        '<TOOLCALL>[{"name": "get_weather", "arguments": {"city": "Par',  # cut off
        '<TOOLCALL>not json at all</TOOLCALL> trailing text',
        '<TOOLCALL>[{"name": "no_such_tool", "arguments": {"x": 1}}]</TOOLCALL>',
    ],
    "qwen3_coder": [
        "<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n"
        "</function>\n</tool_call>",
        "Checking.\n<tool_call>\n<function=get_time>\n<parameter=city>\nRome\n</parameter>\n"
        "</function>\n</tool_call>\n<tool_call>\n<function=ping>\n</function>\n</tool_call>",
        "<tool_call>\n<function=get_weather>\n<parameter=city>\nPar",  # cut off
        "<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</function>\n",
        "<tool_call>not a call</tool_call> trailing text",
    ],
}
TEXT_SCRIPTS = [
    "Short thought.</think>The answer is 42.",
    "</think>Straight to the answer.",
    "Thinking without an end",
    "A thought.</think><think>another think block</think>Answer.",
    "Thought.</think>",  # empty answer
    '</think>{"answer": "yes"}',
]

USER_TEXTS = ["What is the weather in Paris?", "Hi!", "Tell me a joke.", "2+2?", "",
              "Use the tools: time in Rome and weather in Paris.", "ünïcödé ✓ \t tabs"]

EFFORTS = ["none", "minimal", "low", "medium", "high", "xhigh", "max"]


@dataclass
class Case:
    """One request: where it goes, its body, and for an invalid one the fields it broke."""

    index: int
    endpoint: str  # a key of ENDPOINTS
    body: dict[str, Any]
    invalid: list[str] = field(default_factory=list)  # the 400 must name one of these
    long_prompt: bool = False  # a prompt long enough to be prefilled over several steps

    @property
    def path(self) -> str:
        return ENDPOINTS[self.endpoint]

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    @property
    def deterministic(self) -> bool:
        """Greedy and single: streamed must equal non-streamed."""
        return (self.body.get("temperature") == 0 and self.body.get("n", 1) == 1
                and not self.invalid)

    def streamed_twin(self, stream: bool) -> Case:
        body = copy.deepcopy(self.body)
        body["stream"] = stream
        if not stream:
            body.pop("stream_options", None)
        return Case(self.index, self.endpoint, body, list(self.invalid), self.long_prompt)


def without_tools(body: dict) -> None:
    """A tool_choice with no tools."""
    body.pop("tools", None)
    body["tool_choice"] = "required"


class Generator:
    """Draws one request at a time from a `random.Random(seed)`."""

    def __init__(self, seed: int, tool_parser: str = "llama_nemotron_json", model: str = "tiny"):
        self.rng = random.Random(seed)
        self.tool_parser = tool_parser
        self.model = model

    # small helpers -------------------------------------------------------------------------
    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, options: list[Any]) -> Any:
        return copy.deepcopy(self.rng.choice(options))

    def odd_int(self) -> Any:
        """A value for a token budget: mostly good, sometimes odd, sometimes bad."""
        return self.pick([0, 1, 3, 8, 32, -1, 1 << 24, (1 << 24) + 1, -5, "x", "8", 2.5,
                          True, None, [4], {"n": 4}])

    def good_budget(self) -> int:
        return self.pick([0, 1, 2, 4, 8, 16])

    # request parts -------------------------------------------------------------------------
    def chat_tools(self) -> list[dict]:
        tools = [{"type": "function", "function": f}
                 for f in self.rng.sample(FUNCTIONS, self.rng.randint(1, 3))]
        if self.chance(0.05):
            tools.append({"type": "function", "function": copy.deepcopy(ODD_SCHEMA)})
        if self.chance(0.03):
            tools.append({"type": "function"})  # no `function` at all
        return tools

    def messages(self, tools: bool) -> list[dict]:
        """A user turn, or a multi-turn history with reasoning and tool calls."""
        first = {"role": "user", "content": self.pick(USER_TEXTS)}
        if self.chance(0.6):
            msgs = [first]
        else:
            call = {"id": "call_1", "type": "function", "function": {
                "name": "get_weather", "arguments": self.pick(
                    ['{"city": "Paris"}', "{}", '{"city": "Pa', "not json"])}}
            reasoning_key = self.pick(["reasoning", "reasoning_content"])
            msgs = [first,
                    {"role": "assistant", "content": self.pick(["", None, "Let me check."]),
                     reasoning_key: self.pick(["I should call the tool.", ""]),
                     "tool_calls": [call]},
                    {"role": "tool", "tool_call_id": "call_1", "content": "Sunny, 21 C"},
                    {"role": "assistant", "content": "<think>old thought</think>It is sunny."},
                    {"role": "user", "content": "And tomorrow?"}]
            if not tools and self.chance(0.5):
                msgs = [m for m in msgs if m["role"] != "tool" and "tool_calls" not in m]
        if self.chance(0.2):
            msgs.insert(0, {"role": "system", "content": self.pick(
                ["You are helpful.", "/no_think", "/think", "detailed thinking off"])})
        return msgs

    def thinking_knobs(self, body: dict, endpoint: str) -> None:
        """Zero or more thinking knobs, some with odd or bad values."""
        xargs = body.setdefault("vllm_xargs", {})
        kwargs = body.setdefault("chat_template_kwargs", {}) if endpoint == "chat" else {}
        for _ in range(self.rng.choice([0, 1, 1, 2, 3])):
            knob = self.rng.choice([
                "budget", "grace", "nemo_grace", "native", "nvext", "max_thinking",
                "reasoning_budget", "kwargs_budget", "enable_thinking", "effort",
                "low_effort", "min_thinking", "end_token_ids", "kwargs_effort",
                "internal_kwarg"])
            if knob == "budget":
                xargs["thinking_budget"] = (self.good_budget() if self.chance(0.7)
                                            else self.odd_int())
            elif knob == "grace":
                xargs["thinking_budget_grace"] = self.pick([0, 1, 16, 4097, "x"])
            elif knob == "nemo_grace":
                xargs["thinking_budget_grace_period"] = self.pick([0, 2, -1])
            elif knob == "native" and endpoint in ("chat", "completions"):
                body["thinking_token_budget"] = self.pick([1, 4, 16, -1, 0])
            elif knob == "nvext":
                body["nvext"] = ({"max_thinking_tokens": self.odd_int()} if self.chance(0.8)
                                 else self.pick(["lots", [1]]))
            elif knob == "max_thinking":
                body["max_thinking_tokens"] = self.odd_int()
            elif knob == "reasoning_budget":
                body["reasoning_budget"] = self.odd_int()
            elif knob == "kwargs_budget" and endpoint == "chat":
                kwargs["reasoning_budget"] = self.good_budget()
            elif knob == "enable_thinking" and endpoint == "chat":
                kwargs["enable_thinking"] = self.pick([True, False, 0, 1, "", "no", None])
            elif knob == "effort":
                effort = self.pick(EFFORTS + ["bogus", ""])
                if endpoint == "chat":
                    body["reasoning_effort"] = effort
                elif endpoint == "responses":
                    body["reasoning"] = {"effort": effort}
                elif endpoint == "messages":
                    body["output_config"] = {"effort": self.pick(["low", "medium", "high"])}
            elif knob == "low_effort" and endpoint == "chat":
                kwargs["low_effort"] = self.pick([True, False, "yes"])
            elif knob == "min_thinking":
                body["min_thinking_tokens"] = self.pick([4, 100])
            elif knob == "end_token_ids":
                xargs["end_token_ids"] = self.pick([[1, 2], [7]])
            elif knob == "kwargs_effort" and endpoint == "chat":
                kwargs["reasoning_effort"] = self.pick(["low", [1], {"a": 1}, 3])
            elif knob == "internal_kwarg" and endpoint == "chat":
                kwargs["vllm_nemotron_grammar_from_first_token"] = True
        if not xargs:
            body.pop("vllm_xargs")
        if endpoint == "chat" and not kwargs:
            body.pop("chat_template_kwargs")

    def sampling(self, body: dict, endpoint: str) -> None:
        """temperature, seed, n, stop, logit_bias, max tokens."""
        body["temperature"] = self.pick([0, 0, 0, 0.7, 1.0])
        if self.chance(0.3):
            body["seed"] = self.rng.randint(0, 2**31)
        max_key = {"responses": "max_output_tokens"}.get(endpoint, "max_tokens")
        body[max_key] = self.pick([1, 8, 16, 24, 32, 48])
        if endpoint in ("chat", "completions"):
            if self.chance(0.15):
                body["n"] = self.pick([2, 3])
            if self.chance(0.2):
                body["stop"] = self.pick(["\n", ["}", "</think>"], "a", ["e", "o"], "</TOOLCALL>",
                                          "</tool_call>"])
            if self.chance(0.15):
                body["logit_bias"] = {str(self.rng.randint(20, 200)): self.pick(
                    [-100, -5, 5, 100]) for _ in range(self.rng.randint(1, 3))}
            if self.chance(0.1):
                body["logprobs"] = True if endpoint == "chat" else 2
                if endpoint == "chat":
                    body["top_logprobs"] = self.pick([0, 2])
        elif endpoint == "messages" and self.chance(0.2):
            body["stop_sequences"] = self.pick([["\n"], ["}", "a"]])

    def structured(self, body: dict, endpoint: str) -> None:
        """At most one of response_format / structured_outputs / text.format."""
        kind = self.rng.choice(["none", "none", "json_object", "json_schema", "regex",
                                "choice", "json", "think_regex", "compact"])
        if kind == "none":
            return
        if endpoint == "responses":
            if kind in ("json_object", "json_schema"):
                body["text"] = {"format": {"type": "json_schema", "name": "answer",
                                           "schema": SCHEMA} if kind == "json_schema"
                                else {"type": "json_object"}}
            return
        if endpoint == "messages":
            if kind == "json_schema":
                body["output_config"] = {**body.get("output_config", {}), "format": {
                    "type": "json_schema", "schema": SCHEMA}}
            return
        if endpoint == "chat" and kind == "json_object":
            body["response_format"] = {"type": "json_object"}
        elif endpoint == "chat" and kind == "json_schema":
            body["response_format"] = {"type": "json_schema", "json_schema": {
                "name": "answer", "schema": SCHEMA}}
        elif kind == "regex":
            body["structured_outputs"] = {"regex": "(yes|no) [a-z]{2,8}"}
        elif kind == "choice":
            body["structured_outputs"] = {"choice": ["yes", "no", "maybe"]}
        elif kind == "json":
            body["structured_outputs"] = {"json": SCHEMA}
        elif kind == "think_regex":  # a grammar that allows <think> at the start
            body["structured_outputs"] = {"regex": "<think>[a-z ]*"}
        elif kind == "compact":
            body["structured_outputs"] = {"json": SCHEMA, "disable_any_whitespace": True}

    def script(self, body: dict, tools: bool) -> None:
        """Sometimes make the model say a chosen text (never beside a grammar, which would
        reject the forced tokens and make the test harness, not the server, fail)."""
        constrained = ("response_format" in body or "structured_outputs" in body
                       or "text" in body or body.get("tool_choice") not in (None, "auto", "none")
                       or "format" in body.get("output_config", {}))
        if constrained or not self.chance(0.3):
            return
        scripts = CALL_SCRIPTS.get(self.tool_parser, []) if tools else []
        text = self.pick(TEXT_SCRIPTS + scripts)
        if tools and self.chance(0.5) and scripts:
            text = self.pick(["Need a tool.</think>", ""]) + self.pick(scripts)
        body.setdefault("vllm_xargs", {})["script"] = text

    # endpoints -----------------------------------------------------------------------------
    def chat(self) -> dict:
        body: dict[str, Any] = {"model": self.model}
        tools = self.chance(0.45)
        body["messages"] = self.messages(tools)
        if tools:
            body["tools"] = self.chat_tools()
            choice = self.rng.choice(["omit", "auto", "none", "required", "named", "named"])
            if choice == "named":
                name = self.rng.choice(body["tools"][:1])["function"]["name"]
                body["tool_choice"] = {"type": "function", "function": {"name": name}}
            elif choice != "omit":
                body["tool_choice"] = choice
        self.structured(body, "chat")
        self.thinking_knobs(body, "chat")
        if self.chance(0.25):
            body["include_reasoning"] = self.pick([False, True])
        if self.chance(0.08):  # an assistant prefill that closes thinking
            body["messages"].append({"role": "assistant", "content": "<think></think>"})
            body["continue_final_message"] = True
            body["add_generation_prompt"] = False
        self.sampling(body, "chat")
        self.script(body, tools)
        return body

    def responses(self) -> dict:
        body: dict[str, Any] = {"model": self.model}
        body["input"] = (self.pick(USER_TEXTS[:4]) if self.chance(0.5) else
                         [{"role": "user", "content": self.pick(USER_TEXTS[:4])}])
        if self.chance(0.2):
            body["instructions"] = "Be brief."
        tools = self.chance(0.4)
        if tools:
            body["tools"] = [{"type": "function", **f}
                             for f in self.rng.sample(FUNCTIONS, self.rng.randint(1, 3))]
            choice = self.rng.choice(["omit", "auto", "none", "required", "named"])
            if choice == "named":
                body["tool_choice"] = {"type": "function", "name": body["tools"][0]["name"]}
            elif choice != "omit":
                body["tool_choice"] = choice
        self.structured(body, "responses")
        self.thinking_knobs(body, "responses")
        self.sampling(body, "responses")
        self.script(body, tools)
        return body

    def completions(self) -> dict:
        body: dict[str, Any] = {"model": self.model, "prompt": self.pick(
            ["Hello", "<think>\n", "The weather in Paris is", "1 2 3"])}
        self.structured(body, "completions")
        self.thinking_knobs(body, "completions")
        if self.chance(0.1):
            body["echo"] = True
        self.sampling(body, "completions")
        return body

    def anthropic(self) -> dict:
        body: dict[str, Any] = {"model": self.model, "messages": [
            {"role": "user", "content": self.pick(USER_TEXTS[:4])}]}
        if self.chance(0.2):
            body["system"] = "Be brief."
        tools = self.chance(0.4)
        if tools:
            chosen = self.rng.sample(FUNCTIONS, self.rng.randint(1, 2))
            if self.chance(0.1):
                chosen.append(ODD_SCHEMA)
            body["tools"] = [{"name": f["name"], "description": f.get("description", ""),
                              "input_schema": f["parameters"]} for f in chosen]
            choice = self.rng.choice(["omit", "auto", "any", "tool", "none"])
            if choice == "tool":
                body["tool_choice"] = {"type": "tool", "name": body["tools"][-1]["name"]}
            elif choice != "omit":
                body["tool_choice"] = {"type": choice}
        thinking = self.rng.choice(["omit", "omit", "enabled", "disabled"])
        if thinking == "enabled":
            body["thinking"] = {"type": "enabled", "budget_tokens": self.pick([1024, 1500])}
        elif thinking == "disabled":
            body["thinking"] = {"type": "disabled"}
        self.structured(body, "messages")
        self.thinking_knobs(body, "messages")
        self.sampling(body, "messages")
        # max_tokens stays small beside budget_tokens >= 1024: vLLM 0.32 serves it (0.33
        # refuses a budget not below max_tokens; the fuzzer counts that 400 as informational).
        self.script(body, tools)
        return body

    # invalid mutations ---------------------------------------------------------------------
    def break_it(self, endpoint: str, body: dict) -> list[str]:
        """Make the request invalid in one way vLLM or the plugin must refuse with a 400;
        returns the names the error may use for the broken field."""
        options: list[tuple[list[str], Any]] = [
            (["thinking_budget"], lambda b: b.setdefault("vllm_xargs", {}).update(
                thinking_budget=self.pick(["x", -7, (1 << 24) + 1, 2.5]))),
            (["thinking_budget_grace", "thinking_budget"], lambda b: b.setdefault(
                "vllm_xargs", {}).update(thinking_budget_grace=3)),  # a grace without budget
            (["thinking_budget_grace_period", "thinking_budget_grace"],
             lambda b: b.setdefault("vllm_xargs", {}).update(
                 thinking_budget=4, thinking_budget_grace=1, thinking_budget_grace_period=1)),
            (["temperature"], lambda b: b.update(temperature=-1)),
        ]
        if endpoint != "messages":
            options += [
                (["max_thinking_tokens"], lambda b: b.update(max_thinking_tokens="lots")),
                (["nvext"], lambda b: b.update(nvext=self.pick(["lots", [1]]))),
                (["reasoning_budget"], lambda b: b.update(reasoning_budget=-3)),
            ]
        if endpoint in ("chat", "completions"):
            options += [
                (["max_tokens"], lambda b: b.update(max_tokens=self.pick([0, -1, 10**9]))),
                (["logit_bias"], lambda b: b.update(logit_bias={"999999": 5})),
                (["n"], lambda b: b.update(n=0)),
                (["structured_outputs", "regex"], lambda b: b.update(
                    structured_outputs={"regex": "(unclosed"})),
            ]
        odd_schema = {"type": "odd"}
        if endpoint == "chat":
            options += [
                (["top_logprobs", "logprobs"], lambda b: b.update(logprobs=True,
                                                                  top_logprobs=50)),
                (["response_format", "json_schema", "schema"], lambda b: b.update(
                    response_format={"type": "json_schema", "json_schema": {
                        "name": "answer", "schema": odd_schema}})),
                (["tool_choice"], lambda b: b.update(tools=[{"type": "function",
                                                             "function": WEATHER}],
                                                     tool_choice={"type": "function",
                                                                  "function": {"name": "nope"}})),
                (["tool_choice", "tools"], without_tools),
                (["reasoning_effort"], lambda b: b.update(reasoning_effort="bogus")),
                (["reasoning_effort", "chat_template_kwargs"], lambda b: b.setdefault(
                    "chat_template_kwargs", {}).update(reasoning_effort=[1])),
                # vLLM: "... an empty conversation. Provide at least one message."
                (["messages", "message"], lambda b: b.update(messages=[])),
                (["thinking_token_budget"], lambda b: b.update(thinking_token_budget="x")),
            ]
        if endpoint == "messages":
            options += [
                (["budget_tokens", "thinking"], lambda b: b.update(
                    thinking={"type": "enabled", "budget_tokens": 10})),
                (["max_tokens"], lambda b: b.pop("max_tokens")),
            ]
        if endpoint == "responses":
            options += [
                # vLLM's error names the engine's max_tokens, which this field becomes
                (["max_output_tokens", "max_tokens"], lambda b: b.update(max_output_tokens=-4)),
                (["effort", "reasoning"], lambda b: b.update(reasoning={"effort": "bogus"})),
                (["text", "format", "schema"], lambda b: b.update(text={"format": {
                    "type": "json_schema", "name": "answer", "schema": odd_schema}})),
            ]
        names, mutate = self.rng.choice(options)
        mutate(body)
        return names

    def case(self, index: int) -> Case:
        endpoint = self.rng.choices(list(ENDPOINTS), weights=[5, 2, 1, 2])[0]
        body = {"chat": self.chat, "responses": self.responses, "completions": self.completions,
                "messages": self.anthropic}[endpoint]()
        if self.chance(0.45):
            body["stream"] = True
            if endpoint in ("chat", "completions") and self.chance(0.5):
                body["stream_options"] = {"include_usage": True}
        long_prompt = False
        if self.chance(0.03):  # long enough to be prefilled over several engine steps
            long_prompt = True
            filler = "The quick brown fox jumps over the lazy dog. " * 180  # ~2400 tokens
            if endpoint == "chat" or endpoint == "messages":
                body["messages"][0]["content"] = filler
            elif endpoint == "responses":
                body["input"] = filler
            else:
                body["prompt"] = filler
        invalid = self.break_it(endpoint, body) if self.chance(0.2) else []
        return Case(index, endpoint, body, invalid, long_prompt)


def generate(seed: int, count: int, tool_parser: str = "llama_nemotron_json",
             model: str = "tiny") -> list[Case]:
    """`count` cases from `seed`; the same arguments always give the same cases."""
    gen = Generator(seed, tool_parser, model)
    return [gen.case(i) for i in range(count)]
