"""Our goldens against NVIDIA's own templates, rendered on the same conversations.

NVIDIA's template files are not in this repository (they are the model publishers' text). Put
local copies in a directory, named as in golden/formats.json (e.g. the `chat_template` of
tokenizer_config.json saved as NVIDIA-Nemotron-3-Nano-30B-A3B-BF16.jinja), and run:

    NEMOTRON_REFERENCE_TEMPLATES=/that/dir pytest tests/serving/test_official_formats.py

Every conversation formats.json does not list under "differs" must render exactly as NVIDIA's
template renders it, and every listed one must really differ. Without the directory the test
is skipped (docs/templates.md records where it last ran).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.serving.conversations import CONVERSATIONS
from tests.serving.test_templates import GOLDEN, render
from vllm_nemotron.tiny import save_tokenizer

FORMATS = {k: v for k, v in json.loads((GOLDEN / "formats.json").read_text()).items()
           if not k.startswith("_")}
REFERENCES = os.environ.get("NEMOTRON_REFERENCE_TEMPLATES")


def _reference_for(template: str, conversation: str) -> str:
    """The reference file that covers this conversation (by whether it offers tools)."""
    has_tools = bool(CONVERSATIONS[conversation].get("tools"))
    for ref in FORMATS[template]["references"]:
        if ref["when"] == "always" or ref["when"] == ("tools" if has_tools else "no tools"):
            return ref["file"]
    raise AssertionError(f"{template}: no reference covers {conversation}")


@pytest.mark.skipif(not REFERENCES, reason="set NEMOTRON_REFERENCE_TEMPLATES to a directory "
                                           "of NVIDIA's template files")
@pytest.mark.parametrize("conversation", sorted(CONVERSATIONS))
@pytest.mark.parametrize("template", sorted(FORMATS))
def test_golden_is_nvidias_rendering(tmp_path, template, conversation):
    from transformers import AutoTokenizer

    reference = Path(REFERENCES or "") / _reference_for(template, conversation)
    save_tokenizer(tmp_path, reference.read_text(), bos_token="<|begin_of_text|>")
    tokenizer = AutoTokenizer.from_pretrained(str(tmp_path))
    golden = (GOLDEN / f"{template}__{conversation}.txt").read_text()
    try:
        official = render(tokenizer, CONVERSATIONS[conversation])
    except Exception as exc:  # NVIDIA's template cannot render this input at all
        official = f"<{type(exc).__name__}: {exc}>"
    differs = FORMATS[template]["differs"]
    if conversation in differs:
        assert golden != official, f"listed as differing, but equal: {differs[conversation]}"
    else:
        assert golden == official
