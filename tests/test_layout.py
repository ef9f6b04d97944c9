"""The repository's top level shows parsers/ and chat_templates/, and the package ships them.

Each file lives in one place: the top-level folders are the package's `vllm_nemotron.parsers`
and `vllm_nemotron.chat_templates` (pyproject `package-dir`), never a second copy, and no code
imports them under a second module name (one file, two modules, two parser registries).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHIPPED = {"parsers": "vllm_nemotron.parsers", "chat_templates": "vllm_nemotron.chat_templates"}


def test_top_level_folders_are_the_only_copy():
    for folder in SHIPPED:
        assert (REPO / folder / "__init__.py").is_file()
        assert not (REPO / "vllm_nemotron" / folder).exists(), f"a second {folder}/ in the package"


def test_package_modules_are_the_top_level_files():
    code = (
        "import importlib, sys\n"
        f"for top, name in {SHIPPED!r}.items():\n"
        "    print(importlib.import_module(name).__file__)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('parsers', 'chat_templates')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/",
                         check=True).stdout.splitlines()
    assert [Path(f).parent for f in out[:2]] == [REPO / "parsers", REPO / "chat_templates"]
    assert out[2] == "[]"


def test_nothing_imports_them_under_a_second_name():
    pattern = re.compile(r"^\s*(from|import)\s+(parsers|chat_templates)\b", re.MULTILINE)
    sources = [p for folder in ("vllm_nemotron", "parsers", "chat_templates", "tests",
                                "benchmarks", "examples") for p in (REPO / folder).rglob("*.py")]
    offenders = [str(p.relative_to(REPO)) for p in sources if pattern.search(p.read_text())]
    assert offenders == []


def test_wheel_ships_parsers_and_templates(tmp_path):
    # Built from a copy: setuptools leaves a build/ folder next to the sources it builds.
    source = tmp_path / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".*", "build", "*.egg-info", "__pycache__", "tests", "benchmarks", "deploy", "docs"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(source)], check=True, capture_output=True)
    [wheel] = tmp_path.glob("vllm_nemotron-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in SHIPPED:
        expected = {f"vllm_nemotron/{folder}/{p.name}" for p in (REPO / folder).iterdir()
                    if p.suffix in (".py", ".jinja")}
        assert expected and expected <= names
    assert not any(n.startswith(("parsers/", "chat_templates/")) for n in names)


def test_every_file_on_the_plugin_server_runs_with_the_others():
    """tests/conftest.py's SHARED_SERVERS sends the files that use the session's plugin server
    to one worker, so it starts once; a file missing there would start a second one."""
    from tests.conftest import SHARED_SERVERS

    users = {path.relative_to(REPO).as_posix() for path in (REPO / "tests").rglob("test_*.py")
             if re.search(r"def \w+\([^)]*\bplugin_server\b", path.read_text())}
    assert users == set(SHARED_SERVERS["plugin_server"])
