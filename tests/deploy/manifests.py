"""Render the kustomize overlays and find what the tests check in them.

Rendering uses `kubectl kustomize` (kustomize v5 is built into kubectl >= 1.27) or a standalone
`kustomize`. Without either, the tests are skipped locally and fail under CI (CI=true), so a CI
machine that lacks the tool cannot pass silently.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
OVERLAYS_DIR = DEPLOY / "kubernetes" / "overlays"
OVERLAYS = sorted(p.name for p in OVERLAYS_DIR.iterdir() if (p / "kustomization.yaml").is_file())

# Where the image links the package's chat templates (deploy/docker/Dockerfile).
IMAGE_TEMPLATE_DIR = "/opt/vllm-nemotron/chat_templates"


def require_tool(found, what: str, install: str):
    """Skip without the tool, except under CI, where a missing tool is a failure."""
    if found:
        return found
    message = f"{what} not found; install: {install}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def kustomize_command() -> list[str]:
    if kubectl := shutil.which("kubectl"):
        return [kubectl, "kustomize"]
    if kustomize := shutil.which("kustomize"):
        return [kustomize, "build"]
    return require_tool(None, "kubectl or kustomize", "kubectl >= 1.27 (kustomize v5 built in)")


def render(overlay: str) -> list[dict]:
    """The overlay's objects, as `kubectl apply -k` would send them."""
    out = subprocess.run([*kustomize_command(), str(OVERLAYS_DIR / overlay)],
                         check=True, capture_output=True, text=True, timeout=60).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def pod_templates(doc: dict) -> list[tuple[str, dict]]:
    """(role, pod template) of a workload: 'server' for a Deployment, leader/worker for an LWS."""
    if doc["kind"] == "Deployment":
        return [("server", doc["spec"]["template"])]
    if doc["kind"] == "LeaderWorkerSet":
        lwt = doc["spec"]["leaderWorkerTemplate"]
        return [("leader", lwt["leaderTemplate"]), ("worker", lwt["workerTemplate"])]
    return []


def workloads(docs: list[dict]) -> list[dict]:
    return [d for d in docs if pod_templates(d)]


def one(docs: list[dict], kind: str) -> dict:
    found = [d for d in docs if d["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def serves_api(role: str) -> bool:
    """Pods that run the OpenAI server (a headless worker does not)."""
    return role in ("server", "leader")
