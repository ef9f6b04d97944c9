"""The parser files load the way model cards use them: as plugin files, in a fresh process,
through the installed vLLM's own loaders, and alongside the installed plugin's lazy names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PARSERS = Path(__file__).resolve().parents[2] / "parsers"

SCRIPT = r"""
import sys
from vllm.reasoning import ReasoningParserManager
from vllm.tool_parsers import ToolParserManager
if sys.argv[1] == "lazy-first":
    # What the installed plugin's register() does, before the drop-in files load.
    ToolParserManager.register_lazy_module(
        "llama_nemotron_json", "vllm_nemotron.parsers.llama_nemotron_json_tool_parser",
        "LlamaNemotronJsonToolParser")
    for name in ("nano_v3", "super_v3", "ultra_v3"):
        ReasoningParserManager.register_lazy_module(
            name, "vllm_nemotron.parsers.nano_v3_reasoning_parser", "NanoV3ReasoningParser")
d = sys.argv[2]
ToolParserManager.import_tool_parser(d + "/llama_nemotron_json_tool_parser.py")
ToolParserManager.import_tool_parser(d + "/nemotron_mini_tool_parser.py")
ReasoningParserManager.import_reasoning_parser(d + "/nano_v3_reasoning_parser.py")
for name in ("llama_nemotron_json", "nemotron_mini"):
    cls = ToolParserManager.get_tool_parser(name)
    print(name, cls.__module__, cls.__name__)
for name in ("nano_v3", "super_v3", "ultra_v3", "llama_nemotron_thinking"):
    cls = ReasoningParserManager.get_reasoning_parser(name)
    print(name, cls.__module__, cls.__name__)
parser = ToolParserManager.get_tool_parser("llama_nemotron_json")(None)
info = parser.extract_tool_calls('<TOOLCALL>[{"name": "f", "arguments": {}}]</TOOLCALL>', None)
print("call", info.tool_calls[0].function.name)
"""


def run(mode: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode, str(PARSERS)],
        capture_output=True, text=True, timeout=300, cwd="/",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_drop_in_files_next_to_installed_plugin_names():
    """Files load through vLLM's plugin loaders, without double-registration errors even
    after the installed plugin's lazy names, and the file the user named is what serves."""
    out = run("lazy-first")
    assert "llama_nemotron_json llama_nemotron_json_tool_parser LlamaNemotronJsonToolParser" in out
    assert "nemotron_mini nemotron_mini_tool_parser NemotronMiniToolParser" in out
    assert "nano_v3 nano_v3_reasoning_parser NanoV3ReasoningParser" in out
    # NVIDIA's Super and Ultra command lines name `super_v3`, `ultra_v3`: the same file serves
    assert "super_v3 nano_v3_reasoning_parser NanoV3ReasoningParser" in out
    assert "ultra_v3 nano_v3_reasoning_parser NanoV3ReasoningParser" in out
    assert "llama_nemotron_thinking nano_v3_reasoning_parser" in out
    assert "call f" in out
