"""Hardware cost side of edgenas: MACs/params, targets, latency tables and cost models.

Modules (import them directly; nothing heavy is imported here):

* :mod:`~edgenas.hardware.targets`: ``targets/*.yaml`` -> :class:`Target` (``list_targets``, ``load_target``).
* :mod:`~edgenas.hardware.tables`: per-arch CSV and per-op JSON table formats, loaders, validation.
* :mod:`~edgenas.hardware.cost`: ``get_cost_model(target, space, dataset, source=...)`` -> ``CostModel``.
* :mod:`~edgenas.hardware.fit`: non-negative per-op fits from whole-model latencies; accuracy metrics.
* :mod:`~edgenas.hardware.profile`: onnxruntime profiler for this machine (``edgenas profile``).
* :mod:`~edgenas.hardware.flops`: MACs / parameters of built models.
"""
