"""One engine per process for the benchmarks: the environment it runs in, and its result line.

A benchmark script re-runs itself with `--child ...`; the child prints one `RESULT {json}` line
(`report`), the parent reads it back (`run_child`). Engines run in-process in the child
(no engine-core subprocess), so each measures one engine on an otherwise idle interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULT = "RESULT "


def child_env(*first_on_path: str | Path, **extra: str) -> dict[str, str]:
    paths = [*map(str, first_on_path), str(REPO), os.environ.get("PYTHONPATH")]
    return dict(os.environ, VLLM_ENABLE_V1_MULTIPROCESSING="0",
                VLLM_CPU_KVCACHE_SPACE=os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1"),
                PYTHONPATH=os.pathsep.join(p for p in paths if p), **extra)


def report(result: dict) -> None:
    print(RESULT + json.dumps(result), flush=True)


def run_child(command: list[str], env: dict[str, str], what: str) -> dict:
    out = subprocess.run(command, env=env, capture_output=True, text=True)
    line = [text for text in out.stdout.splitlines() if text.startswith(RESULT)]
    if out.returncode or not line:
        sys.exit(f"{what} failed:\n{out.stderr[-3000:]}")
    return json.loads(line[-1][len(RESULT):])
