"""Which chat template a recipe serves with: the checkpoint's own, or one of ours, and why.

A checkpoint's own template is the one the model was trained with, so it is kept unless the
model card tells users to serve a separate one, the template lacks something the family's
recipe relies on (tool definitions, tool-call turns, a thinking switch), or the user asks for
ours (`--chat-template-from-plugin`). docs/templates.md has each family's official format.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import vllm_nemotron.chat_templates as chat_templates
from vllm_nemotron.serving.checkpoint import Checkpoint
from vllm_nemotron.serving.families import Family

# Chat-template kwargs a template may read (it reads one when the variable is not set inside).
KWARGS = ("tools", "enable_thinking", "truncate_history_thinking")
# Message fields and in-text switches, found by their text.
MARKERS = {
    "tool_calls": "tool_calls",
    "reasoning_content": "reasoning_content",
    "/think": "/think",
    "detailed thinking": "detailed thinking",
}
FEATURES = (*KWARGS, *MARKERS)


class TemplateError(ValueError):
    """No template can serve the family as asked; the message says what to pass instead."""


@dataclass(frozen=True)
class TemplateChoice:
    """`path` is the --chat-template to pass; None keeps the checkpoint's own (`missing`: there
    is none, so the user must pass --chat-template)."""

    path: str | None
    reason: str
    missing: bool = False


def _kwargs_read(text: str) -> set[str]:
    """The KWARGS the template reads from its caller (not ones it assigns itself)."""
    import jinja2
    from jinja2 import meta

    try:
        env = jinja2.Environment(extensions=["jinja2.ext.loopcontrols"])
        return set(KWARGS) & meta.find_undeclared_variables(env.parse(text))
    except jinja2.TemplateSyntaxError:  # an extension tag we do not know: judge by the text
        return {k for k in KWARGS if re.search(rf"\b{k}\b", text)}


def template_features(text: str) -> list[str]:
    """What a chat template supports, in FEATURES order."""
    found = _kwargs_read(text) | {name for name, marker in MARKERS.items() if marker in text}
    return [f for f in FEATURES if f in found]


def _ours(family: Family, why: str) -> TemplateChoice:
    assert family.chat_template is not None
    return TemplateChoice(chat_templates.path(family.chat_template),
                          f"vllm-nemotron's {family.chat_template}: {why}")


def choose_template(family: Family, ckpt: Checkpoint, from_plugin: bool = False) -> TemplateChoice:
    """The template for `ckpt` served as `family`, and the reason, for the recipe to print."""
    if from_plugin:
        if family.chat_template is None:
            raise TemplateError(
                f"{family.name} has no chat template in vllm-nemotron: its checkpoints' own "
                f"template has everything the recipe needs. Drop --chat-template-from-plugin, "
                f"or pass --chat-template FILE.")
        return _ours(family, "asked for with --chat-template-from-plugin")
    if family.card_template:
        return _ours(family, family.card_template)
    if ckpt.chat_template is not None:
        features = template_features(ckpt.chat_template)
        missing = [need for need in family.template_needs if need not in features]
        supports = f"supports {', '.join(features) or 'none of ' + ', '.join(FEATURES)}"
        if missing and family.chat_template is not None:
            return _ours(family, f"the checkpoint's template ({ckpt.chat_template_source}) "
                                 f"lacks {', '.join(missing)}, which this recipe needs; "
                                 f"it {supports}")
        lacking = f"; it lacks {', '.join(missing)}" if missing else ""
        return TemplateChoice(None, f"the checkpoint's own, read from "
                                    f"{ckpt.chat_template_source}: it {supports}{lacking}")
    if ckpt.location == "directory":
        if family.chat_template is None:
            return TemplateChoice(None, f"none: the checkpoint directory ships no chat template "
                                        f"and vllm-nemotron has none for {family.name}; pass "
                                        f"--chat-template FILE", missing=True)
        return _ours(family, "the checkpoint directory ships no chat template")
    if family.own_template_lacks and family.chat_template is not None:
        return _ours(family, family.own_template_note)
    where = "not in the local Hugging Face cache" if ckpt.location is None else \
        "its template is not in the local Hugging Face cache yet"
    note = f" {family.own_template_note}." if family.own_template_note else ""
    return TemplateChoice(None, f"the checkpoint's own: vLLM will use the template the checkpoint "
                                f"ships ({where}, so not read here).{note}")
