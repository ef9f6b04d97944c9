"""How many GPUs a checkpoint needs, and the tensor/pipeline parallel sizes that spread it.

People plan deployments from laptops and CI runners, so the plan is for a target, not only for
this machine: the GPUs named with --gpus/--gpu-memory-gib/--nodes, else the CUDA GPUs present,
else the hardware the model cards are written for (80 GB GPUs, 8 per node). A model that does
not fit the target is an error with the numbers, never a tensor-parallel size that cannot load.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

GiB = 2**30
# The cards' reference GPU: H100/A100 80GB (Ultra-253B: 8 x 80 GB; Super-49B: 2 x 80 GB in bf16).
REFERENCE_GPU_GIB = 80
GPUS_PER_NODE = 8
# Share of one GPU's memory the weights and one full-length sequence's cache may take; the rest
# is room for more sequences' cache, activations and CUDA graphs.
WEIGHT_SHARE_OF_GPU = 0.8


class DoesNotFitError(ValueError):
    """The weights cannot be spread over the target; the message gives the numbers."""


@dataclass(frozen=True)
class Target:
    """Where the model will run. gpus: per node, None for "as many as needed"; 0: CPU build."""

    gpus: int | None
    gpu_memory_bytes: int
    source: str
    nodes: int = 1

    @property
    def cpu(self) -> bool:
        return self.gpus == 0

    @classmethod
    def cpu_build(cls) -> Target:
        return cls(0, 0, "no CUDA GPU here: this machine's CPU (vLLM CPU build)")

    @classmethod
    def reference(cls) -> Target:
        return cls(None, REFERENCE_GPU_GIB * GiB,
                   f"no CUDA here and no --gpus/--gpu-memory-gib: planned for the cards' "
                   f"reference hardware, {REFERENCE_GPU_GIB} GiB GPUs, {GPUS_PER_NODE} per node")

    @classmethod
    def present(cls) -> Target | None:
        """The CUDA GPUs of this machine (memory of the smallest), or None without CUDA."""
        try:
            import torch

            if not torch.cuda.is_available():
                return None
            count = torch.cuda.device_count()
            memory = min(torch.cuda.get_device_properties(i).total_memory for i in range(count))
        except Exception:  # no CUDA runtime, broken driver: treat as no GPU
            return None
        return cls(count, memory, f"the {count} CUDA GPU(s) of this machine")

    @classmethod
    def given(cls, gpus: int | None, gpu_memory_gib: float | None, nodes: int = 1) -> Target:
        """The target named on the command line; what is not named comes from this machine."""
        here = cls.present()
        if gpu_memory_gib is None:
            memory = here.gpu_memory_bytes if here else REFERENCE_GPU_GIB * GiB
        else:
            memory = int(gpu_memory_gib * GiB)
        count = gpus if gpus is not None else (here.gpus if here else None)
        shown = f"{count} x " if count else ""
        where = f"{nodes} nodes of " if nodes > 1 else ""
        return cls(count, memory, f"{where}{shown}{memory / GiB:g} GiB GPUs (as given)", nodes)

    def describe(self) -> str:
        per_node = f"{self.gpus} x " if self.gpus else ""
        nodes = f"{self.nodes} nodes of " if self.nodes > 1 else ""
        return f"{nodes}{per_node}{self.gpu_memory_bytes / GiB:g} GiB GPU(s)"


@dataclass(frozen=True)
class Footprint:
    """What must fit on the GPUs: the weights and the cache of one sequence of the recipe's
    context length (KV of the attention layers, Mamba state), each with how it was found."""

    weight_bytes: int | None
    weights_from: str
    cache_bytes: int = 0
    cache_from: str = ""

    @property
    def total(self) -> int:
        return (self.weight_bytes or 0) + self.cache_bytes

    def describe(self) -> str:
        text = f"weights {self.weight_bytes / GiB:.1f} GiB ({self.weights_from})" \
            if self.weight_bytes is not None else "weights unknown"
        if self.cache_from:
            text += f" + cache {self.cache_bytes / GiB:.1f} GiB ({self.cache_from})"
        return text


@dataclass(frozen=True)
class Plan:
    tensor_parallel: int
    pipeline_parallel: int
    reason: str
    expert_parallel: bool = False

    def args(self) -> list[str]:
        out = []
        if self.tensor_parallel > 1:
            out += ["--tensor-parallel-size", str(self.tensor_parallel)]
        if self.pipeline_parallel > 1:
            out += ["--pipeline-parallel-size", str(self.pipeline_parallel)]
        if self.expert_parallel:
            out += ["--enable-expert-parallel"]
        return out


def params_from_name(name: str) -> float | None:
    """Parameters from a hub name like '...-49B-...' or '...-120B-A12B-...' (the total)."""
    match = re.search(r"(\d+(?:\.\d+)?)B(?![a-z])", name, re.IGNORECASE)
    return float(match.group(1)) * 1e9 if match else None


def _largest_dividing(limit: int, divisors: tuple[int | None, ...]) -> int:
    """The largest power of two <= limit that divides every known divisor (heads, groups)."""
    tp = 1 << (max(1, limit).bit_length() - 1)
    while tp > 1 and any(d and d % tp for d in divisors):
        tp //= 2
    return tp


def plan_parallelism(need: Footprint, target: Target, divisors: tuple[int | None, ...] = (),
                     experts: int | None = None, expert_parallel: bool = False) -> Plan:
    """TP x PP for `target`: the fewest GPUs that hold the footprint (within a node, TP; across
    nodes, PP). `divisors` are counts TP must divide (attention heads, Mamba groups). With
    `expert_parallel`, each MoE layer's `experts` are spread over the TP ranks instead of each
    expert being sliced (vLLM's --enable-expert-parallel: EP size = TP)."""
    if target.cpu:
        return Plan(1, 1, f"{target.source}: tensor parallel 1")
    if need.weight_bytes is None:
        return Plan(1, 1, f"weight size unknown (no local weights, no size in the name): "
                          f"no parallelism planned for {target.describe()}; pass "
                          f"--tensor-parallel-size yourself", expert_parallel)
    per_gpu = WEIGHT_SHARE_OF_GPU * target.gpu_memory_bytes
    count = max(1, math.ceil(need.total / per_gpu))
    sizes = f"{need.describe()} need {count} GPU{'s' if count > 1 else ''} " \
            f"of {target.gpu_memory_bytes / GiB:g} GiB"
    per_node = target.gpus or GPUS_PER_NODE
    if target.nodes > 1:  # a multi-node target: TP inside each node, one pipeline stage per node
        tp = _largest_dividing(per_node, divisors)
        pp = target.nodes
    else:
        tp = _largest_dividing(min(1 << (count - 1).bit_length(), per_node), divisors)
        pp = math.ceil(count / tp)
    available = None if target.gpus is None else target.gpus * target.nodes
    if tp * pp < count or (available is not None and tp * pp > available):
        raise DoesNotFitError(_does_not_fit(need, count, target, divisors))
    where = f"{math.ceil(tp * pp / GPUS_PER_NODE)} nodes of {GPUS_PER_NODE} GPUs: " \
        if target.gpus is None and tp * pp > GPUS_PER_NODE else ""
    layout = f"tensor parallel {tp}" + (f" x pipeline parallel {pp}" if pp > 1 else "")
    if expert_parallel:
        layout += f", expert parallel {tp}"
        if experts:
            layout += f" ({experts // tp} of each MoE layer's {experts} experts per GPU)"
    return Plan(tp, pp, f"{target.source}: {sizes}: {where}{layout}", expert_parallel)


def _does_not_fit(need: Footprint, count: int, target: Target,
                  divisors: tuple[int | None, ...]) -> str:
    message = (f"does not fit {target.describe()}: {need.describe()} need {count} GPUs of "
               f"{target.gpu_memory_bytes / GiB:g} GiB (at most "
               f"{WEIGHT_SHARE_OF_GPU:.0%} of each for weights and one sequence's cache)")
    if target.gpu_memory_bytes != REFERENCE_GPU_GIB * GiB or target.gpus is not None:
        reference = plan_parallelism(need, Target.reference(), divisors)
        nodes = math.ceil(reference.tensor_parallel * reference.pipeline_parallel / GPUS_PER_NODE)
        message += (f"; on {REFERENCE_GPU_GIB} GiB GPUs: tensor parallel "
                    f"{reference.tensor_parallel}"
                    + (f" x pipeline parallel {reference.pipeline_parallel}"
                       if reference.pipeline_parallel > 1 else "")
                    + f" (plan it with --gpus {min(reference.tensor_parallel, GPUS_PER_NODE)} "
                      f"--gpu-memory-gib {REFERENCE_GPU_GIB}"
                    + (f" --nodes {nodes}" if nodes > 1 else "") + ")")
    return message
