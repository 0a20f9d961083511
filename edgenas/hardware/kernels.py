"""Kernel detection for onnxruntime on CPU: which fused kernels a network really runs.

Why: on this project's 2-core host a per-op table (each op timed alone or in a chain, scaled per
op type) predicted only ~70 % of 200 held-out NB201 archs within +-10 % even with drift-free
paired timings (retest 1.8 % median), and a per-key fit on the same measurements did no better.
The cause is onnxruntime's graph optimizer: with ``ORT_ENABLE_ALL`` it converts convolutions to
the blocked NCHWc layout, folds a following ReLU into the conv (``activation``) and an ``Add``
into it (a ``Sum`` input), and inserts ``ReorderInput`` / ``ReorderOutput`` wherever a tensor
crosses between NCHWc kernels and plain ones (``Mul`` of a ``none`` edge, an unfused ``Add``,
a ReLU that cannot be folded because the raw value is used too). How many of each an arch gets
depends on how its ops are wired, not on how many of each op it has. Counting the kernels of the
*optimized* graph (the idea of nn-Meter's kernel detection, here read straight from
onnxruntime) and fitting one cost per kernel type (NNLS on the calibration archs) predicted
98.5 % of the same 200 archs within +-10 % (MAPE 2.3 %, Kendall tau 0.95).

The optimized graph depends on the onnxruntime version and the CPU (NCHWc block size), so kernel
counts are computed on the machine that predicts, and tables record both.
"""

from __future__ import annotations

import io
import logging
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import device_runner
from .._imports import require

if TYPE_CHECKING:  # pragma: no cover
    from ..spaces import SearchSpace

__all__ = ["arch_kernels", "export_onnx_bytes", "kernel_counts", "kernel_key", "space_kernel_counts"]

log = logging.getLogger(__name__)


def kernel_key(node: Any, weight_shapes: dict[str, tuple[int, ...]] | None = None) -> str:
    """Kernel type of one node (an ``onnx.NodeProto``) of an optimized ONNX graph.

    Convolutions are keyed by kernel size, stride, groups, weight channels (out x in per group,
    as onnxruntime stores them, NCHWc-padded), fused activation and fused sum
    (``Conv-k3x3-s1-g1-c16x16+Relu+sum``); every other node by its op type (``ReorderInput``,
    ``Add``). Element-wise kernels carry no shape: their cost is small and fitted jointly. The key
    itself is :func:`edgenas.device_runner.kernel_key`, which the device runner applies on devices.
    """
    import onnx

    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    return device_runner.kernel_key(node.op_type, attrs, list(node.input), weight_shapes)


def kernel_counts(onnx_model: bytes | str | Path, *, threads: int = 1) -> Counter:
    """Counts of kernel types (:func:`kernel_key`) after onnxruntime's CPU graph optimizations
    (``ORT_ENABLE_ALL``, CPU execution provider), i.e. what a session on this machine runs.

    The same function as the device runner's ``--kernels`` (no ``onnx`` package needed), so counts
    made here and counts a device reports are comparable key for key.
    """
    ort = require("onnxruntime", purpose="kernel detection (cpu latency tables)")
    src = onnx_model if isinstance(onnx_model, bytes) else str(onnx_model)
    return Counter(device_runner.optimized_kernel_counts(ort, src, threads))


def export_onnx_bytes(module: Any, input_shape: tuple[int, ...], opset: int = 17) -> bytes:
    """ONNX (TorchScript exporter, eval mode; opset 17 by default) of ``module`` as bytes, as the profiler exports.

    Runs torch single-threaded: the trace is tiny and extra threads only contend.
    """
    import torch

    module.eval()
    buf = io.BytesIO()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, (torch.zeros(input_shape),), buf, dynamo=False, opset_version=opset,
                              input_names=["x"], output_names=["y"])
    finally:
        torch.set_num_threads(threads)
    return buf.getvalue()


def arch_kernels(space: SearchSpace, arch: Any, dataset: str, *, threads: int = 1) -> Counter:
    """Kernel counts of ``arch`` built for ``dataset`` at batch 1.

    Uses ``space.onnx_bytes`` when the space writes its ONNX graph directly (NB201: ~0.024 s per
    arch on a quiet machine, onnxruntime's own optimization included), else exports
    ``space.build_model`` with torch (~0.35 s per NB201 arch).
    """
    if hasattr(space, "onnx_bytes"):
        return kernel_counts(space.onnx_bytes(arch, dataset), threads=threads)
    shape = (1, *space.dataset(dataset).input_shape)
    return kernel_counts(export_onnx_bytes(space.build_model(arch, dataset), shape), threads=threads)


def _counts_at(space_name: str, dataset: str, positions: Sequence[int], threads: int) -> list[dict[str, int]]:
    # worker entry point: rebuilds the space by name (spaces are cheap, picklable or not)
    from ..spaces import get_space

    space = get_space(space_name)
    arch_at = _arch_at(space)
    return [dict(arch_kernels(space, arch_at(i), dataset, threads=threads)) for i in positions]


def _arch_at(space: SearchSpace) -> Callable[[int], Any]:
    """position -> arch in :func:`edgenas.hardware.space_order.space_order` (benchmark index, else token rank)."""
    from .space_order import ORDER_INDEX, arch_at_rank, space_order

    if space_order(space) == ORDER_INDEX:
        return space.from_index
    return lambda i: arch_at_rank(space, i)


def space_kernel_counts(space: SearchSpace, dataset: str, indices: Sequence[int] | None = None, *, workers: int = 1,
                        threads: int = 1, chunk: int = 250,
                        progress: Callable[[int, int], None] | None = None) -> list[Counter]:
    """Kernel counts of archs given by position (default: all), in that order. Positions are the
    space's benchmark index (NB201), or for a space with arch strings only the token rank
    (:func:`edgenas.hardware.tables.arch_rank`; the macro spaces).

    Why: a search prices every member of every isomorphism class it meets (NB201: 36 archs for the
    class of a random draw), at ~0.04 s of kernel detection each (~0.3 s where the ONNX graph comes
    from a torch export); counting the whole space once (15,625 NB201 archs: minutes, once per
    profiled table) makes pricing a lookup. ``workers`` > 1 runs chunks in that many spawned
    processes (onnxruntime's optimizer is single-threaded).
    """
    idx = list(range(int(space.size)) if indices is None else indices)
    chunks = [idx[i:i + chunk] for i in range(0, len(idx), chunk)]
    out: list[Counter] = []
    if workers <= 1 or len(chunks) <= 1:
        for c in chunks:
            out.extend(Counter(d) for d in _counts_at(space.name, dataset, c, threads))
            if progress:
                progress(len(out), len(idx))
        return out
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        futures = [pool.submit(_counts_at, space.name, dataset, c, threads) for c in chunks]
        for f in futures:  # in submission order: the result stays in position order
            out.extend(Counter(d) for d in f.result())
            if progress:
                progress(len(out), len(idx))
    return out
