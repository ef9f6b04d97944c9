"""Run deploy/smoke.py's checks on a tiny random model by scripting what it says.

The tiny model has random weights, so each check's request carries the text a working model
would produce (`tests.harness.scripted:ScriptedOutput` forces it) and the check then sees the
server's parsers, template and API do their part. The checks themselves are unchanged.
"""

from __future__ import annotations

import importlib.util

from tests.deploy.manifests import DEPLOY

# What a working model says for each check; the server must parse it into the API's fields.
SCRIPTS = {
    "chat": "Hello there, it is nice to meet you.",
    "tool_call": '<TOOLCALL>[{"name": "get_weather", "arguments": {"city": "Paris"}}]</TOOLCALL>',
    "reasoning": "17 * 23 = 17 * 20 + 17 * 3 = 340 + 51 = 391.\n</think>\n\n391",
}


def load_smoke():
    spec = importlib.util.spec_from_file_location("smoke", DEPLOY / "smoke.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _ScriptedCompletions:
    def __init__(self, create, script: str):
        self._create, self._script = create, script

    def create(self, **kwargs):
        body = dict(kwargs.pop("extra_body", None) or {})
        body["vllm_xargs"] = {**body.get("vllm_xargs", {}), "script": self._script}
        return self._create(extra_body=body, **kwargs)


class _Chat:
    def __init__(self, completions):
        self.completions = completions


class ScriptedClient:
    """An `openai.OpenAI` whose chat requests all make the model say `script`."""

    def __init__(self, client, script: str):
        self._client = client
        self.chat = _Chat(_ScriptedCompletions(client.chat.completions.create, script))

    def __getattr__(self, name):
        return getattr(self._client, name)
