"""The request fuzzer (issue 24): generated requests against the CPU server, checked.

    python -m tests.fuzz.run --config json --seed 1 --count 3000
    python -m tests.fuzz.run --config qwen3 --minutes 5
    python -m tests.fuzz.run --base-url http://127.0.0.1:8000 --count 500   # a running server

Configurations (tiny Nemotron-H, Nemotron-3-Nano template, `nano_v3` reasoning parser, the
thinking-budget processor from its entry point, the test-only scripted-output processor):
`json` (`llama_nemotron_json` tools), `qwen3` (`qwen3_coder`), `compact` (`json` with
xgrammar's `disable_any_whitespace`). Prints counts by status and every finding (5xx, error
event in a stream, dropped connection, hang, crash, unnamed 4xx, broken body, stream/non-stream
mismatch) with its request, split into known failures (tests/fuzz/known.py) and new ones. A
crashed server is restarted and the run goes on. Exit status 1 when there is a new finding.
Run it under the shared engine lock on a shared machine:
`flock /tmp/vllm-engine.lock .venv/bin/python -m tests.fuzz.run ...`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import httpx

from tests.fuzz import known
from tests.fuzz.checks import Outcome, compare, send
from tests.fuzz.requests import Case, generate

BASE_ARGS = [
    "--enable-auto-tool-choice", "--reasoning-parser", "nano_v3",
    "--logits-processors", "tests.harness.scripted:ScriptedOutput",
    "--no-enable-prefix-caching",  # CPU-build Mamba bug, see tests/conftest.py
    "--max-num-seqs", "16",
]
CONFIGS = {  # name -> (tool parser, extra server arguments)
    "json": ("llama_nemotron_json", []),
    "qwen3": ("qwen3_coder", []),
    "compact": ("llama_nemotron_json", [
        "--structured-outputs-config", '{"backend": "xgrammar", "disable_any_whitespace": true}']),
}


def server_args(config: str) -> list[str]:
    parser, extra = CONFIGS[config]
    return [*BASE_ARGS, "--tool-call-parser", parser, *extra]


@dataclass
class Report:
    statuses: Counter = field(default_factory=Counter)  # status or failure label -> count
    skipped: Counter = field(default_factory=Counter)  # known skip entry -> count
    known: Counter = field(default_factory=Counter)  # known entry name -> findings
    info: Counter = field(default_factory=Counter)  # informational kinds -> count
    new: list[tuple[Outcome, str, str]] = field(default_factory=list)  # (outcome, kind, detail)
    known_examples: dict[str, tuple[Outcome, str, str]] = field(default_factory=dict)
    crashes: list[list[Case]] = field(default_factory=list)  # the requests in flight
    sent: int = 0
    seconds: float = 0.0  # spent sending (server start-up not included)
    log: TextIO | None = None  # every outcome as a JSON line, when given

    def add(self, outcome: Outcome) -> None:
        self.sent += 1
        self.statuses[outcome.label] += 1
        if self.log is not None:
            self.log.write(json.dumps({
                "path": outcome.case.path, "body": outcome.case.body, "status": outcome.label,
                "seconds": round(outcome.seconds, 2), "findings": outcome.findings,
                "reply": outcome.text[:2000]}, ensure_ascii=False) + "\n")
            self.log.flush()
        for kind, detail in outcome.findings:
            if kind in known.INFORMATIONAL:
                self.info[kind] += 1
                continue
            entry = known.classify(outcome, kind, detail)
            if entry is None:
                self.new.append((outcome, kind, detail))
            else:
                self.known[entry.name] += 1
                self.known_examples.setdefault(entry.name, (outcome, kind, detail))


def healthy(base_url: str) -> bool:
    try:
        return httpx.get(base_url + "/health", timeout=15).status_code == 200
    except httpx.HTTPError:
        return False


def run_cases(cases: list[Case], base_url: str, report: Report, *, concurrency: int = 8,
              timeout: float = 90.0, twins: bool = True,
              deadline: float | None = None) -> list[Case]:
    """Send the cases in batches of `concurrency`, check each, compare greedy twins, check the
    server's health after every batch. Returns the cases not yet sent when the server died
    (the crash is in `report.crashes`); [] when all went or the deadline passed."""
    with httpx.Client() as client, ThreadPoolExecutor(concurrency) as pool:
        def one(case: Case) -> list[Outcome]:
            outcome = send(client, base_url, case, timeout)
            if not (twins and case.deterministic):
                return [outcome]
            twin = send(client, base_url, case.streamed_twin(not case.stream), timeout)
            streamed, whole = (outcome, twin) if case.stream else (twin, outcome)
            compare(streamed, whole)
            return [streamed, whole]

        pending = []
        for case in cases:
            entry = known.skipped(case)
            if entry is not None:
                report.skipped[entry.name] += 1
            else:
                pending.append(case)
        # vLLM's CPU build crashes on a seeded request whose prefill shares a step with others
        # (known.py): seeded requests go alone, the others in parallel batches.
        batches = [[c] for c in pending if "seed" in c.body]
        rest = [c for c in pending if "seed" not in c.body]
        batches += [rest[i:i + concurrency] for i in range(0, len(rest), concurrency)]
        batches.sort(key=lambda batch: batch[0].index)
        for number, batch in enumerate(batches):
            start = time.monotonic()
            for outcomes in pool.map(one, batch):
                for outcome in outcomes:
                    report.add(outcome)
            report.seconds += time.monotonic() - start
            if not healthy(base_url):
                report.crashes.append(batch)
                return [c for later in batches[number + 1:] for c in later]
            if deadline is not None and time.monotonic() > deadline:
                break
    return []


def print_report(report: Report, out=sys.stdout) -> None:
    print(f"\nsent {report.sent} requests in {report.seconds:.0f} s; by status: " + ", ".join(
        f"{k}: {v}" for k, v in sorted(report.statuses.items())), file=out)
    for name, count in report.skipped.items():
        print(f"not sent (known: {name}): {count}", file=out)
    if report.info:
        print("informational: " + ", ".join(f"{k}: {v}" for k, v in report.info.items()),
              file=out)
    for name, count in report.known.most_common():
        outcome, kind, detail = report.known_examples[name]
        print(f"\nknown [{known.by_name(name).owner}] {name}: {count} findings; e.g. {kind} "
              f"{outcome.case.path} {known.describe(outcome.case.body)}\n    {detail[:300]}",
              file=out)
    for batch in report.crashes:
        print("\nCRASH: the server stopped being healthy after these requests:", file=out)
        for case in batch:
            print(f"    {case.path} {known.describe(case.body)}", file=out)
    print(f"\nnew findings: {len(report.new)}", file=out)
    for outcome, kind, detail in report.new:
        print(f"\n{kind.upper()} ({outcome.label}, {outcome.seconds:.1f} s) {outcome.case.path} "
              f"{known.describe(outcome.case.body)}\n    {detail[:1000]}", file=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", choices=sorted(CONFIGS), default="json")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--count", type=int, default=1000, help="requests to generate")
    parser.add_argument("--minutes", type=float, default=None,
                        help="stop after this long (generates in rounds of --count)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds per request")
    parser.add_argument("--log", type=Path, default=None,
                        help="write every request and its outcome to this file (JSON lines)")
    parser.add_argument("--base-url", default=None,
                        help="use a running server instead (e.g. http://127.0.0.1:8000)")
    args = parser.parse_args(argv)

    from tests.harness.server import OpenAIServer

    tool_parser = CONFIGS[args.config][0]
    report = Report(log=args.log.open("w") if args.log else None)
    deadline = time.monotonic() + 60 * args.minutes if args.minutes else None
    seed, cases = args.seed, generate(args.seed, args.count, tool_parser)
    server: OpenAIServer | None = None
    model = None if args.base_url else build_model()
    try:
        while cases:
            if model is not None and server is None:
                server = OpenAIServer(model, server_args(args.config))
                server.start()
                print(f"server up ({args.config})", file=sys.stderr)
            base_url = server.url("") if server is not None else args.base_url
            print(f"seed {seed}: {len(cases)} requests", file=sys.stderr)
            cases = run_cases(cases, base_url, report, concurrency=args.concurrency,
                              timeout=args.timeout, deadline=deadline)
            if cases:  # the server crashed: start a fresh one and go on
                if server is None:
                    print("the server crashed; stopping", file=sys.stderr)
                    break
                print(f"server crashed; log tail:\n{server.log_tail(3000)}", file=sys.stderr)
                server.stop()
                server = None
            elif deadline is not None and time.monotonic() < deadline:
                seed += 1
                cases = generate(seed, args.count, tool_parser)
    finally:
        if server is not None:
            server.stop()
    print_report(report)
    return 1 if report.new or report.crashes else 0


def build_model() -> Path:
    from vllm_nemotron.tiny import build_nemotron_h

    return build_nemotron_h(Path(tempfile.mkdtemp(prefix="fuzz-")) / "nemotron-h")


if __name__ == "__main__":
    sys.exit(main())

