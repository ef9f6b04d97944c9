"""Every overlay renders to a complete, consistent, schema-valid deployment of its model.

Rendered once per module. Checks: Kubernetes schemas (kubernetes-validate, strict) and the
LeaderWorkerSet against its v1 schema; the workload rules of issue 7 for every pod template;
selectors and references that resolve; and the container arguments parsed by vLLM's own
`serve` argument parser, with the parsers they name resolved through vLLM's managers and the
family flags matching the plugin's recipe for the model.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from tests.deploy.manifests import (
    IMAGE_TEMPLATE_DIR,
    OVERLAYS,
    REPO,
    one,
    pod_templates,
    render,
    require_tool,
    serves_api,
    workloads,
)

KUBERNETES_VERSION = "1.30"  # oldest release the manifests target (PDB v1, seccompProfile, ...)
LWS_SCHEMA = Path(__file__).parent / "schemas" / "leaderworkerset-v1.json"

# overlay -> model, GPUs per pod, pods per model replica, minimum startup budget in seconds
# (and the recipe's opt-in features the overlay turns on, in RECIPE_OPTIONS)
EXPECTED = {
    "nemotron-3-nano-4b": ("nvidia/NVIDIA-Nemotron-3-Nano-4B-BF16", 1, 1, 600),
    "nano-9b-v2": ("nvidia/NVIDIA-Nemotron-Nano-9B-v2", 1, 1, 600),
    "llama-nemotron-nano-4b-v1-1": ("nvidia/Llama-3.1-Nemotron-Nano-4B-v1.1", 1, 1, 600),
    "super-49b": ("nvidia/Llama-3_3-Nemotron-Super-49B-v1_5", 2, 1, 1800),
    "ultra-253b": ("nvidia/Llama-3_1-Nemotron-Ultra-253B-v1", 8, 1, 3600),
    "ultra-253b-multinode": ("nvidia/Llama-3_1-Nemotron-Ultra-253B-v1", 8, 2, 3600),
    "super-120b": ("nvidia/NVIDIA-Nemotron-3-Super-120B-A12B-BF16", 4, 1, 1800),
    "ultra-550b-nvfp4": ("nvidia/NVIDIA-Nemotron-3-Ultra-550B-A55B-NVFP4", 8, 1, 3600),
    "ultra-550b-bf16-multinode": ("nvidia/NVIDIA-Nemotron-3-Ultra-550B-A55B-BF16", 8, 3, 5400),
}
RECIPE_OPTIONS = {"super-120b": {"mtp": 0, "expert_parallel": True}}
MULTINODE = [o for o, (_, _, nodes, _) in EXPECTED.items() if nodes > 1]

# Flags that only the OpenAI front end reads; a headless worker has no use for them.
API_ONLY_FLAGS = {"enable-auto-tool-choice", "tool-call-parser", "reasoning-parser",
                  "chat-template", "headless", "node-rank", "api-key"}

# Values the LeaderWorkerSet controller puts into every pod's environment.
LWS_ENV = {"LWS_LEADER_ADDRESS": "vllm-0.vllm.nemotron", "LWS_WORKER_INDEX": "1"}


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict]]:
    return {overlay: render(overlay) for overlay in OVERLAYS}


def test_every_deployment_has_an_overlay():
    assert set(OVERLAYS) == set(EXPECTED)


# --- schemas -----------------------------------------------------------------------------

def _kubernetes_validate():
    module = pytest.importorskip("kubernetes_validate") if not _ci() else None
    if module is None:
        import kubernetes_validate as module
    return module


def _ci() -> bool:
    import os

    return bool(os.environ.get("CI"))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_builtin_objects_match_kubernetes_schemas(rendered, overlay):
    kv = _kubernetes_validate()
    builtin = [d for d in rendered[overlay] if d["kind"] != "LeaderWorkerSet"]
    assert builtin
    for doc in builtin:
        kv.validate(doc, KUBERNETES_VERSION, strict=True)


def lws_validator():
    """A validator for LeaderWorkerSet v1 whose pod templates resolve to Kubernetes' schemas."""
    import importlib.resources

    import jsonschema
    from referencing import Registry, Resource

    kv = _kubernetes_validate()
    version = [v for v in kv.utils.all_versions()
               if kv.utils.major_minor(v) == KUBERNETES_VERSION][-1]
    defs = json.loads(importlib.resources.files("kubernetes_validate").joinpath(
        f"kubernetes-json-schema/v{version}-local-strict/_definitions.json").read_text())
    schema = json.loads(LWS_SCHEMA.read_text())
    registry = Registry().with_resources([(defs["$id"], Resource.from_contents(defs)),
                                          (schema["$id"], Resource.from_contents(schema))])
    return jsonschema.Draft202012Validator(schema, registry=registry)


def _lws(rendered, overlay="ultra-253b-multinode"):
    return one(rendered[overlay], "LeaderWorkerSet")


@pytest.mark.parametrize("overlay", MULTINODE)
def test_leaderworkerset_matches_its_schema(rendered, overlay):
    errors = [e.message for e in lws_validator().iter_errors(_lws(rendered, overlay))]
    assert errors == []


def _set(doc, path, value):
    *parents, last = path
    for key in parents:
        doc = doc[key]
    doc[last] = value


@pytest.mark.parametrize("path,value", [
    (("spec", "leaderWorkerTemplate", "restartPolicy"), "Always"),
    (("spec", "leaderWorkerTemplate", "size"), 0),
    (("spec", "startupPolicy"), "WhenReady"),
    (("spec", "leaderWorkerTemplate", "sise"), 2),
    (("spec", "leaderWorkerTemplate", "workerTemplate", "spec", "containers", 0, "image"), 7),
    (("spec", "leaderWorkerTemplate", "leaderTemplate", "spec", "volumes", 0, "emptyDirr"), {}),
])
def test_leaderworkerset_schema_rejects_mistakes(rendered, path, value):
    broken = copy.deepcopy(_lws(rendered))
    _set(broken, path, value)
    assert list(lws_validator().iter_errors(broken))


# --- workload rules ----------------------------------------------------------------------

def _containers(template):
    return template["spec"]["containers"]


def _cases(rendered):
    for overlay in OVERLAYS:
        for workload in workloads(rendered[overlay]):
            for role, template in pod_templates(workload):
                yield overlay, role, template


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_objects_every_deployment_needs(rendered, overlay):
    kinds = sorted(d["kind"] for d in rendered[overlay])
    workload = "LeaderWorkerSet" if EXPECTED[overlay][2] > 1 else "Deployment"
    assert kinds == sorted(["ServiceAccount", "Service", "PersistentVolumeClaim",
                            "PodDisruptionBudget", "NetworkPolicy", workload])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pod_templates_follow_the_rules(rendered, overlay):
    model, gpus, nodes, startup_s = EXPECTED[overlay]
    docs = rendered[overlay]
    pvc_names = {d["metadata"]["name"] for d in docs if d["kind"] == "PersistentVolumeClaim"}
    sa_names = {d["metadata"]["name"] for d in docs if d["kind"] == "ServiceAccount"}
    templates = [(role, t) for w in workloads(docs) for role, t in pod_templates(w)]
    assert len(templates) == (2 if nodes > 1 else 1)
    for role, template in templates:
        spec = template["spec"]
        where = f"{overlay} {role}"
        pod_sc = spec["securityContext"]
        assert pod_sc["runAsNonRoot"] is True and pod_sc["runAsUser"] >= 10000, where
        assert pod_sc["seccompProfile"]["type"] == "RuntimeDefault", where
        assert spec["automountServiceAccountToken"] is False, where
        assert spec["serviceAccountName"] in sa_names, where
        volumes = {v["name"]: v for v in spec["volumes"]}
        [container] = _containers(template)
        sc = container["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
        assert sc["capabilities"]["drop"] == ["ALL"], where
        res = container["resources"]
        assert res["requests"]["nvidia.com/gpu"] == res["limits"]["nvidia.com/gpu"] == str(gpus)
        assert {"cpu", "memory"} <= set(res["requests"]) and {"cpu", "memory"} <= set(res["limits"])
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        assert volumes[mounts["/dev/shm"]]["emptyDir"]["medium"] == "Memory", where
        cache = volumes[mounts["/models"]]["persistentVolumeClaim"]["claimName"]
        assert cache in pvc_names, f"{where}: model cache {cache} is not in the overlay"
        for path in ("/tmp", "/home/vllm"):  # writable places on a read-only root
            assert "emptyDir" in volumes[mounts[path]], where
        env = {e["name"]: e for e in container.get("env", [])}
        assert env["HF_HOME"]["value"].startswith("/models/"), where
        token_file = Path(env["HF_TOKEN_PATH"]["value"])
        assert volumes[mounts[str(token_file.parent)]]["secret"]["optional"] is True, where
        if serves_api(role):
            assert "secretKeyRef" in env["VLLM_API_KEY"]["valueFrom"], where
            probes = {p: container[p] for p in ("startupProbe", "readinessProbe", "livenessProbe")}
            for name, probe in probes.items():
                assert probe["httpGet"]["path"] == "/health", f"{where} {name}"
            startup = probes["startupProbe"]
            assert startup["periodSeconds"] * startup["failureThreshold"] >= startup_s, where
            annotations = template["metadata"]["annotations"]
            port = next(p for p in container["ports"] if p["name"] == "http")["containerPort"]
            assert annotations["prometheus.io/scrape"] == "true", where
            assert annotations["prometheus.io/path"] == "/metrics", where
            assert annotations["prometheus.io/port"] == str(port), where


def _selects(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _pod_labels(role, template):
    labels = dict(template["metadata"].get("labels", {}))
    if role in ("leader", "worker"):  # set on the pods by the LeaderWorkerSet controller
        labels["leaderworkerset.sigs.k8s.io/worker-index"] = "0" if role == "leader" else "1"
    return labels


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_service_pdb_and_network_policy_select_the_serving_pods(rendered, overlay):
    docs = rendered[overlay]
    pods = [(role, _pod_labels(role, t)) for w in workloads(docs) for role, t in pod_templates(w)]
    service = one(docs, "Service")
    selected = {role for role, labels in pods if _selects(service["spec"]["selector"], labels)}
    assert selected == {role for role, _ in pods if serves_api(role)}
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    for kind in ("PodDisruptionBudget", "NetworkPolicy"):
        doc = one(docs, kind)
        selector = doc["spec"].get("selector", doc["spec"].get("podSelector"))["matchLabels"]
        assert all(_selects(selector, labels) for _, labels in pods), f"{overlay} {kind}"
    for other in OVERLAYS:  # overlays side by side in one namespace never select each other
        if other != overlay:
            assert not _selects(service["spec"]["selector"],
                                _pod_labels(*pod_templates(workloads(rendered[other])[0])[0]))


def test_workloads_have_unique_names_across_overlays(rendered):
    names = [(d["kind"], d["metadata"]["name"]) for docs in rendered.values() for d in docs]
    assert len(names) == len(set(names))


# --- the vLLM command ----------------------------------------------------------------------

def _expand(arg: str) -> str:
    return re.sub(r"\$\((\w+)\)", lambda m: LWS_ENV[m.group(1)], arg)


def _local_template(arg: str) -> str:
    """The image links the package's chat templates to IMAGE_TEMPLATE_DIR: map to the repo."""
    return arg.replace(IMAGE_TEMPLATE_DIR, str(REPO / "chat_templates"))


def parse_serve_args(args: list[str]):
    """The namespace `vllm serve` builds from these arguments (vLLM's own parser)."""
    from vllm_nemotron.serving.preflight import vllm_cli_args, vllm_parser

    namespace = vllm_parser().parse_args([_local_template(_expand(a)) for a in args])
    vllm_cli_args().validate_parsed_serve_args(namespace)
    return namespace


def _vllm_args(container) -> list[str]:
    """Container args as `vllm serve` sees them: `vllm-nemotron serve` passes them through."""
    command = container.get("command")
    assert command in (None, ["vllm", "serve"]), command
    return container["args"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_vllm_accepts_the_arguments_and_they_fill_the_gpus(rendered, overlay):
    model, gpus, nodes, _ = EXPECTED[overlay]
    for role, template in [rt for w in workloads(rendered[overlay]) for rt in pod_templates(w)]:
        args = parse_serve_args(_vllm_args(_containers(template)[0]))
        assert args.model_tag == model, role
        world = args.tensor_parallel_size * args.pipeline_parallel_size
        assert args.nnodes == nodes and world == gpus * nodes, f"{overlay} {role}: {world} ranks"
        if nodes > 1:
            assert args.master_addr == LWS_ENV["LWS_LEADER_ADDRESS"]
            assert args.headless == (role == "worker")
            assert args.node_rank == (0 if role == "leader" else 1)


def _flag(arg: str) -> str | None:
    return arg[2:].split("=", 1)[0] if arg.startswith("--") else None


@pytest.mark.parametrize("overlay", MULTINODE)
def test_multinode_workers_run_the_leaders_engine(rendered, overlay):
    """Engine flags on the workers equal the leader's; API-only flags stay on the leader."""
    lws = _lws(rendered, overlay)["spec"]["leaderWorkerTemplate"]
    assert lws["size"] == EXPECTED[overlay][2]
    leader, worker = (_containers(lws[t])[0]["args"] for t in ("leaderTemplate", "workerTemplate"))
    engine = [a for a in leader if _flag(a) not in API_ONLY_FLAGS]
    assert [a for a in worker if _flag(a) not in API_ONLY_FLAGS] == engine


def _resolve_parsers(args):
    from vllm.reasoning import ReasoningParserManager
    from vllm.tool_parsers import ToolParserManager

    import vllm_nemotron

    vllm_nemotron.register()
    if args.tool_call_parser:
        ToolParserManager.get_tool_parser(args.tool_call_parser)
    if args.reasoning_parser:
        ReasoningParserManager.get_reasoning_parser(args.reasoning_parser)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_arguments_match_the_plugin_recipe(rendered, overlay, tmp_path, monkeypatch):
    """Parsers, chat template, Mamba and KV cache dtypes, MTP, expert parallelism and TP x PP
    are what `vllm-nemotron recipe` prints for the model on the overlay's GPUs (80 GiB each,
    as the cards plan them), with the opt-in features the overlay turns on."""
    from vllm_nemotron.serving.planning import Target
    from vllm_nemotron.serving.recipes import make_recipe

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))  # nothing cached, as on a fresh runner
    model, gpus, nodes, _ = EXPECTED[overlay]
    recipe = make_recipe(model, target=Target.given(gpus, 80, nodes),
                         **RECIPE_OPTIONS.get(overlay, {}))
    expected = parse_serve_args(recipe.args)
    for role, template in [rt for w in workloads(rendered[overlay]) for rt in pod_templates(w)]:
        args = parse_serve_args(_vllm_args(_containers(template)[0]))
        where = f"{overlay} {role}"
        assert args.tensor_parallel_size == expected.tensor_parallel_size, where
        assert args.pipeline_parallel_size == expected.pipeline_parallel_size, where
        assert args.mamba_ssm_cache_dtype == expected.mamba_ssm_cache_dtype, where
        assert args.kv_cache_dtype == expected.kv_cache_dtype, where
        assert args.speculative_config == expected.speculative_config, where
        assert args.enable_expert_parallel == expected.enable_expert_parallel, where
        assert args.max_model_len <= expected.max_model_len, where
        if not serves_api(role):
            continue
        assert args.tool_call_parser == expected.tool_call_parser, where
        assert args.enable_auto_tool_choice == expected.enable_auto_tool_choice, where
        assert args.reasoning_parser == expected.reasoning_parser, where
        # The image links the package's templates; the checkpoint's own is kept where the
        # recipe keeps it (no --chat-template).
        assert (Path(args.chat_template).name if args.chat_template else None) == \
            (Path(expected.chat_template).name if expected.chat_template else None), where
        if args.chat_template:
            assert Path(args.chat_template).is_file()
        _resolve_parsers(args)


def test_gpu_tests_and_kustomize_are_available_in_ci():
    """Under CI the rendering tool must exist (the other tests would otherwise skip)."""
    import shutil

    require_tool(shutil.which("kubectl") or shutil.which("kustomize"), "kubectl or kustomize",
                 "kubectl >= 1.27")
