"""The tiny Nemotron-3 MoE checkpoints that the CPU and GPU MoE tests share."""

from __future__ import annotations

from pathlib import Path

from vllm_nemotron.tiny import build_nemotron3_nano_moe, build_nemotron3_super


def build_nemotron3_checkpoints(root: Path) -> dict[str, Path]:
    """Nano-30B-A3B's layout, Super-120B-A12B's (latent MoE, MTP), and a draftable Super."""
    return {
        "nano": build_nemotron3_nano_moe(root / "nano", template=None),
        "super": build_nemotron3_super(root / "super", template=None),
        "super-draftable": build_nemotron3_super(root / "super-draftable", template=None,
                                                 draftable=True),
    }
