"""Cost models of edgenas: what an arch costs on a target, from tables measured elsewhere.

Modules (import them directly; nothing heavy is imported here):

* :mod:`~edgenas.hardware.targets`: ``targets/*.yaml`` -> :class:`Target` (``list_targets``, ``load_target``).
* :mod:`~edgenas.hardware.tables`: per-arch CSV and per-op JSON table formats, loaders, validation.
* :mod:`~edgenas.hardware.cost`: ``get_cost_model(target, space, dataset, source=...)`` -> ``CostModel``.
* :mod:`~edgenas.hardware.fit`: non-negative per-op fits from whole-model latencies; accuracy metrics.
* :mod:`~edgenas.hardware.fewshot`: a user target fitted from a few timed archs (``edgenas fit``).
* :mod:`~edgenas.hardware.kernels`: the onnxruntime kernels an arch runs (features of the kernel model).
* :mod:`~edgenas.hardware.flops`: MACs / parameters of built models; :mod:`~edgenas.hardware.size`:
  the same measures added up per token change over a space.

Taking the timings these models are fitted on is :mod:`edgenas.timing`'s job; nothing here runs a
model on a device.
"""
