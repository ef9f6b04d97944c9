"""Decode with one vLLM engine in a process of its own (`decode`), for the GPU tests and the
CPU tests' offline engines: the tokens, the model class that ran (and its drafter's), a digest
of each of its parameters, each MLP's activation, and the speculative-decoding counters.

With `plugin=False` the process runs with VLLM_PLUGINS="": in-tree vLLM. A process per engine
also hands the GPU memory back between runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.harness.server import REPO_ROOT


def decode(model, *, plugin: bool, max_tokens: int = 12, env: dict | None = None,
           prompts: list[list[int]] | None = None, **engine) -> dict:
    """Greedy tokens and the loaded model's state from a fresh process (see `main`)."""
    env = {**os.environ, **(env or {}), "VLLM_ALLOW_INSECURE_SERIALIZATION": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT),
                                                       os.environ.get("PYTHONPATH")]))}
    if not plugin:
        env["VLLM_PLUGINS"] = ""
    request = {"model": str(model), "max_tokens": max_tokens, "engine": engine,
               **({"prompts": prompts} if prompts is not None else {})}
    proc = subprocess.run([sys.executable, "-m", "tests.gpu.decode", json.dumps(request)],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    line = next(x for x in reversed(proc.stdout.splitlines()) if x.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def model_state(worker) -> dict:
    """Runs in the vLLM worker: what the loaded target model is, parameter by parameter."""
    import hashlib

    import torch

    model = worker.model_runner.get_model()
    drafter = getattr(worker.model_runner, "drafter", None)
    params = {}
    for name, p in model.named_parameters():
        data = p.detach().contiguous().cpu().reshape(-1).view(torch.uint8).numpy().tobytes()
        params[name] = [list(p.shape), str(p.dtype), hashlib.sha256(data).hexdigest()]
    return {
        "model_class": f"{type(model).__module__}:{type(model).__name__}",
        "draft_class": None if drafter is None else
        f"{type(drafter.model).__module__}:{type(drafter.model).__name__}",
        "params": params,
        "activations": {name: type(m.act_fn).__name__ for name, m in model.named_modules()
                        if hasattr(m, "act_fn")},
    }


def main(request: dict) -> dict:
    """In the child: run the engine, then print `RESULT {json}` as the last line. On a CPU its
    engine processes, if any, are forked from this one (tests/harness/forked_engine.py)."""
    from tests.gpu.decode import model_state as shipped  # by module name, not as __main__'s
    from tests.harness.forked_engine import fork_engine_processes
    from tests.models.engine import PROMPTS, engine, greedy, spec_decode_counters

    fork_engine_processes()
    with engine(request["model"], disable_log_stats=False, **request.get("engine", {})) as llm:
        tokens = greedy(llm, request.get("prompts", PROMPTS), max_tokens=request["max_tokens"])
        state = llm.collective_rpc(shipped)[0]  # the first worker's (the only one at TP=PP=1)
        return {"tokens": tokens, "spec_decode": spec_decode_counters(llm), **state}


if __name__ == "__main__":
    print("RESULT " + json.dumps(main(json.loads(sys.argv[1]))))
