"""checkov finds nothing in the manifests and the Dockerfile, and every suppression says why.

checkov does not look inside custom resources, so each LeaderWorkerSet pod template is also
scanned as a Pod carrying the set's and the template's annotations. checkov's pins clash with
vLLM's, so it lives in its own environment: `$CHECKOV`, `checkov` on PATH, or
`.venv-checkov/bin/checkov` in the repository.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest
import yaml

from tests.deploy.manifests import DEPLOY, OVERLAYS, REPO, pod_templates, render, require_tool

SKIP_ANNOTATION = re.compile(r"^checkov\.io/skip\d+$")


def checkov() -> str:
    local = REPO / ".venv-checkov" / "bin" / "checkov"
    found = os.environ.get("CHECKOV") or shutil.which("checkov") or (
        str(local) if local.exists() else None)
    return require_tool(found, "checkov", "python3 -m venv .venv-checkov && "
                        ".venv-checkov/bin/pip install checkov==3.3.30")


def as_pods(doc: dict) -> list[dict]:
    """A LeaderWorkerSet's pod templates as Pods, so checkov's pod checks apply to them."""
    if doc["kind"] != "LeaderWorkerSet":
        return []
    pods = []
    for role, template in pod_templates(doc):
        annotations = {**doc["metadata"].get("annotations", {}),
                       **template.get("metadata", {}).get("annotations", {})}
        pods.append({"apiVersion": "v1", "kind": "Pod",
                     "metadata": {"name": f"{doc['metadata']['name']}-{role}",
                                  "namespace": doc["metadata"].get("namespace"),
                                  "labels": template["metadata"].get("labels", {}),
                                  "annotations": annotations},
                     "spec": template["spec"]})
    return pods


def run_checkov(args: list[str]) -> dict:
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE"}
    proc = subprocess.run([checkov(), *args, "--output", "json", "--quiet", "--compact",
                           "--skip-download"], capture_output=True, text=True, timeout=300,
                          env=env)
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    reports = json.loads(proc.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    return {r["check_type"]: {**r["results"], **r["summary"]} for r in reports}


def _describe(failed: list[dict]) -> list[str]:
    return [f"{f['check_id']} {f['resource']}: {f['check_name']}" for f in failed]


@pytest.fixture(scope="module")
def manifests_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("rendered")
    for overlay in OVERLAYS:
        docs = render(overlay)
        docs += [pod for doc in docs for pod in as_pods(doc)]
        (out / f"{overlay}.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return out


def test_kubernetes_manifests_have_no_findings(manifests_dir):
    results = run_checkov(["--directory", str(manifests_dir), "--framework", "kubernetes"])
    kube = results["kubernetes"]
    assert _describe(kube["failed_checks"]) == []
    # it really scanned every overlay: Deployments, Services, ... and the LWS pods
    assert kube["resource_count"] >= 6 * len(OVERLAYS) and kube["passed"] > 100


def test_dockerfile_has_no_findings():
    results = run_checkov(["--file", str(DEPLOY / "docker" / "Dockerfile"),
                           "--framework", "dockerfile"])
    assert _describe(results["dockerfile"]["failed_checks"]) == []
    assert results["dockerfile"]["passed"] > 0


def test_every_suppression_names_a_check_and_a_reason():
    skips = []
    for overlay in OVERLAYS:
        for doc in render(overlay):
            holders = [doc, *[t for _, t in pod_templates(doc)]]
            for holder in holders:
                for key, value in holder.get("metadata", {}).get("annotations", {}).items():
                    if SKIP_ANNOTATION.match(key):
                        skips.append(value)
    assert skips
    for value in skips:
        check, _, reason = value.partition("=")
        assert re.fullmatch(r"CKV2?_K8S_\d+", check), value
        assert len(reason.split()) >= 5, f"suppression without a reason: {value}"
