"""Export architectures to deployable files (ONNX, TensorRT, PyTorch) and validate them.

Submodules import torch / onnx / onnxruntime / tensorrt lazily, inside functions.
"""

from __future__ import annotations
