"""Write the tiny LiteRT test models in tests/data (needs the edgenas[litert] extra; ~1 min).

tiny_fp32.tflite / tiny_int8.tflite: conv 3->4 (3x3) + ReLU + global average pool + linear 4->3 on a
(1, 3, 8, 8) input, weights from torch.manual_seed(0); int8 calibrated on 32 uniform [0, 1) inputs of
default_rng(0). tiny_litert.json: a fixed input (default_rng(1), uniform [0, 1)) and torch's output on it,
so the runner tests check numbers without torch or the converter.

Usage: python tools/make_litert_fixtures.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgenas.export.litert import convert_litert  # noqa: E402
from edgenas.export.quantize import CalibrationSet  # noqa: E402


class Tiny(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.fc = torch.nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.conv(x)).mean(dim=(2, 3)))


def main() -> None:
    data = ROOT / "tests" / "data"
    torch.manual_seed(0)
    model = Tiny().eval()
    cal = np.random.default_rng(0).random((32, 3, 8, 8)).astype(np.float32)
    convert_litert(model, (1, 3, 8, 8), data / "tiny_fp32.tflite")
    convert_litert(model, (1, 3, 8, 8), data / "tiny_int8.tflite", precision="int8",
                   calibration=CalibrationSet(cal, "uniform [0, 1), default_rng(0)", 32, "-"))
    x = np.random.default_rng(1).random((1, 3, 8, 8)).astype(np.float32)
    with torch.no_grad():
        y = model(torch.from_numpy(x)).numpy()
    (data / "tiny_litert.json").write_text(json.dumps({"input": x.ravel().tolist(), "shape": [1, 3, 8, 8],
                                                       "torch_output": y.ravel().tolist()}) + "\n")


if __name__ == "__main__":
    main()
