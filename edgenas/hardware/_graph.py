"""Which layers a runtime actually executes, for cost models.

Compilers (TensorRT, TFLite) drop ops whose output cannot reach the network output; which ops
those are is the space's knowledge (``SearchSpace.compiled_layers``). This module decides, per
runtime, whether to model latency on the compiled layers and with which extra keys.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from ..spaces import SearchSpace

__all__ = ["COMPILED_RUNTIMES", "READS_RUNTIMES", "cost_layers", "keys_node_reads", "prunes_dead_layers"]

#: runtimes that compile the graph and remove unused layers (PyTorch eager and ORT do not see zeros)
COMPILED_RUNTIMES = ("tensorrt", "tflite", "tflite-edgetpu")


def prunes_dead_layers(runtime: str) -> bool:
    """Whether latency on ``runtime`` should be modelled on live layers only.

    Measured on HELP's PyTorch GPUs/CPUs: pruning there lowers the share within +-10 % from ~99 %
    to ~77 % (1080 Ti, k = 200), while on HW-NAS-Bench's TensorRT TX2 it raises it from ~62 % to ~89 %.
    """
    return runtime in COMPILED_RUNTIMES


#: runtimes where what a node costs depends on what reads it (see ``cost_layers(reads=True)``)
READS_RUNTIMES = ("tensorrt", "tflite-edgetpu")


def keys_node_reads(runtime: str) -> bool:
    """Whether latency on ``runtime`` should be modelled with ``cost_layers(reads=True)``.

    Measured with tools/bench_latency.py (k = 200 fitted archs): TensorRT TX2 88 -> 97 % within
    +-10 %, Edge TPU 94 -> 96 %; TFLite CPUs (raspi4, pixel3) get worse (66 -> 64 %), so not there.
    """
    return runtime in READS_RUNTIMES


def cost_layers(space: SearchSpace, arch: Any, dataset: str, *, prune: bool = True, node_ops: bool = False,
                reads: bool = False) -> list[Any]:
    """The layers a cost model sums: ``space.compiled_layers`` when the runtime removes dead code
    (``prune``), else ``space.layers``."""
    if not prune:
        return space.layers(arch, dataset)
    return space.compiled_layers(arch, dataset, node_ops=node_ops, reads=reads)
