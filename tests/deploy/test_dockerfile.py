"""The image's contract, read from the Dockerfile (no Docker engine runs on CI machines).

What the manifests rely on: a pinned vLLM 0.32/0.33 base, the plugin installed from a wheel
built from this repository, user 10001, /health checked, `vllm-nemotron serve` as entrypoint
(a console script the package really declares), templates linked where the manifests look.
"""

from __future__ import annotations

import re
import tomllib

from tests.deploy.manifests import DEPLOY, IMAGE_TEMPLATE_DIR, REPO

DOCKERFILE = (DEPLOY / "docker" / "Dockerfile").read_text()
INSTRUCTIONS = [line.strip() for line in re.sub(r"\\\n", " ", DOCKERFILE).splitlines()
                if line.strip() and not line.lstrip().startswith("#")]


def _all(keyword: str) -> list[str]:
    return [i.split(None, 1)[1] for i in INSTRUCTIONS if i.split(None, 1)[0].upper() == keyword]


def test_base_image_is_a_pinned_vllm_release_the_plugin_supports():
    images = [f.split()[0] for f in _all("FROM") if "/" in f.split()[0]]
    assert images, "no registry image in FROM"
    for image in images:
        match = re.fullmatch(r"vllm/vllm-openai:v0\.(\d+)\.\d+(@sha256:[0-9a-f]{64})?", image)
        assert match and 32 <= int(match.group(1)) <= 33, image


def test_plugin_is_installed_from_a_wheel_built_here():
    runs = " ".join(_all("RUN"))
    assert "pip wheel" in runs and re.search(r"pip install .*vllm_nemotron-\*\.whl", runs)
    copied = {c.split()[0].rstrip("/") for c in _all("COPY") if not c.startswith("--from")}
    sources = {"vllm_nemotron", "parsers", "chat_templates"}
    assert sources | {"pyproject.toml"} <= copied
    ignore = (DEPLOY / "docker" / "Dockerfile.dockerignore").read_text().split()
    assert {f"!{s}/" for s in sources} <= set(ignore)


def test_runs_unprivileged_with_a_health_check():
    assert _all("USER") == ["10001:10001"]
    [health] = _all("HEALTHCHECK")
    assert "/health" in health and "--start-period" in health


def test_entrypoint_is_the_plugins_serve_command():
    [entrypoint] = _all("ENTRYPOINT")
    assert entrypoint == '["vllm-nemotron", "serve"]'
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["vllm-nemotron"] == "vllm_nemotron.cli:main"


def test_chat_templates_are_linked_where_the_manifests_point():
    runs = " ".join(_all("RUN"))
    assert "ln -s" in runs and IMAGE_TEMPLATE_DIR in runs
    assert "vllm_nemotron.chat_templates" in runs
