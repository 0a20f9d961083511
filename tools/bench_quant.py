"""Quantized ONNX and LiteRT exports: accuracy on held-out real images, output parity, CPU latency.

Two cases:

* digits: scikit-learn's bundled digits (1,797 real 8x8 images, 10 classes) upscaled to 32 px RGB PNGs
  in class folders, 20 % held out (stratified, seed 0). An NB201 arch is trained on the other 80 %
  with a plain loop (SGD Nesterov, lr 0.1 cosine, batch 32, 3 epochs, weight decay 5e-4; no augmentation), then exported with edgenas'
  export functions: ONNX fp32 / fp16 / int8 and LiteRT fp32 / fp16 / int8, int8 calibrated on the
  training folder through the same loader as ``--calibration-data`` (at most 256 images). Top-1
  accuracy of every file on the held-out folder, and its difference to fp32.
* fbnet: one FBNet arch (``space.sample`` of ``default_rng(0)``) at 224 px / 1,000 classes with
  random-init weights (seed 0), exported by ``export_bundle`` (what ``edgenas export`` runs) as ONNX
  int8 (and, with ``--fbnet-litert``, LiteRT int8), calibrated on 64 digits images resized to 224 px (an .npz). No accuracy (the
  weights are untrained): output parity and top-1 agreement of int8 with fp32 on 64 held-out digits.

* conv (``--cases conv``): latency only, the conv-heavy NB201 arch ``CONV_ARCH`` (3x3 convolutions,
  random-init) at 32 px, int8 calibrated on the digits training folder through ``export_bundle``.

Latency: one thread, this machine's CPU, fp32 and int8 sessions of the same model timed in
alternation (one run of each per round, the order flipped every round) after warm-up, so load from
other processes hits both alike; the ratio is the median over rounds of fp32 time / int8 time. Wall
time and the timing thread's CPU time are both reported.

Usage: nice -n 10 python tools/bench_quant.py --out benchmarks/results/quant_cpu.json [--epochs 8] [--runs 200]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgenas import __version__  # noqa: E402

DIGITS_ARCH = "|nor_conv_1x1~0|+|skip_connect~0|nor_conv_1x1~1|+|skip_connect~0|skip_connect~1|nor_conv_1x1~2|"


def write_digits(root: Path, px: int = 32, seed: int = 0) -> tuple[Path, Path]:
    """scikit-learn's digits as ``px``-px RGB PNGs: root/train/<class>/, root/test/<class>/ (20 % held out)."""
    from PIL import Image
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    img = np.clip(d.images / 16.0 * 255.0, 0, 255).astype(np.uint8)
    idx_tr, idx_te = train_test_split(np.arange(len(img)), test_size=0.2, stratify=d.target, random_state=seed)
    for split, idx in (("train", idx_tr), ("test", idx_te)):
        for i in idx:
            folder = root / split / str(int(d.target[i]))
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img[i]).resize((px, px), Image.BILINEAR).convert("RGB").save(folder / f"{i:04d}.png")
    return root / "train", root / "test"


def train(model, x: np.ndarray, y: np.ndarray, *, epochs: int, seed: int = 0, batch: int = 64, lr: float = 0.05):
    import torch

    torch.manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    steps = epochs * ((len(x) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    g = torch.Generator().manual_seed(seed)
    model.train()
    for ep in range(epochs):
        perm = torch.randperm(len(x), generator=g)
        total, correct, loss_sum = 0, 0, 0.0
        for i in range(0, len(x), batch):
            b = perm[i:i + batch]
            out = model(xt[b])
            loss = torch.nn.functional.cross_entropy(out, yt[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += len(b)
            correct += int((out.argmax(1) == yt[b]).sum())
            loss_sum += float(loss.detach()) * len(b)
        print(f"  epoch {ep + 1}/{epochs}: loss {loss_sum / total:.3f}, train acc {100 * correct / total:.1f} %",
              flush=True)
    return model.eval()


def torch_logits(model, x: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return np.concatenate([model(torch.from_numpy(x[i:i + 64])).numpy() for i in range(0, len(x), 64)])


def top1(logits: np.ndarray, y: np.ndarray) -> float:
    return float(100.0 * np.mean(logits.argmax(1) == y))


def onnx_runner(path: Path, x: np.ndarray):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    feed = {sess.get_inputs()[0].name: x}
    return lambda: sess.run(None, feed)


def litert_runner(path: Path, x: np.ndarray):
    from edgenas.export.litert import litert_interpreter, to_input

    it = litert_interpreter()(model_path=str(path), num_threads=1)
    it.allocate_tensors()
    d = it.get_input_details()[0]
    it.set_tensor(d["index"], to_input(x, d))
    return it.invoke


def paired_latency(runners: dict[str, object], *, runs: int, warmup: int) -> dict[str, object]:
    """Alternate single runs of every runner (order flipped each round); medians and per-round ratios."""
    names = list(runners)
    for _ in range(warmup):
        for n in names:
            runners[n]()
    wall = {n: [] for n in names}
    cpu = {n: [] for n in names}
    for r in range(runs):
        for n in (names if r % 2 == 0 else names[::-1]):
            c0, t0 = time.thread_time_ns(), time.perf_counter_ns()
            runners[n]()
            wall[n].append((time.perf_counter_ns() - t0) / 1e6)
            cpu[n].append((time.thread_time_ns() - c0) / 1e6)
    out: dict[str, object] = {n: {"wall_p50_ms": statistics.median(wall[n]), "cpu_p50_ms": statistics.median(cpu[n]),
                                  "wall_min_ms": min(wall[n])} for n in names}
    base = names[0]
    for n in names[1:]:
        out[f"speedup_{n}_vs_{base}"] = {
            "wall": statistics.median(a / b for a, b in zip(wall[base], wall[n])),
            "cpu": statistics.median(a / b for a, b in zip(cpu[base], cpu[n])),
        }
    return out


def digits_case(work: Path, a: argparse.Namespace) -> dict[str, object]:
    import torch

    from edgenas.export.litert import convert_litert, run_litert
    from edgenas.export.onnx import export_onnx
    from edgenas.export.quantize import convert_fp16, load_calibration, quantize_int8, run_onnx
    from edgenas.proxies.engine import load_data
    from edgenas.spaces import get_space

    train_dir, test_dir = write_digits(work / "digits")
    xtr, ytr = load_data(train_dir)
    xte, yte = load_data(test_dir)
    space = get_space("nb201")
    arch = space.parse(DIGITS_ARCH)
    torch.manual_seed(0)
    model = space.build_model(arch, "cifar10")
    t0 = time.perf_counter()
    torch.set_num_threads(a.train_threads)
    model = train(model, xtr, ytr.astype(np.int64), epochs=a.epochs, batch=a.batch, lr=a.lr)
    train_s = time.perf_counter() - t0
    d = work / "digits_export"
    d.mkdir()
    export_onnx(space, arch, "cifar10", d / "model.onnx", model=model)
    cal = load_calibration(train_dir, (3, 32, 32))
    t0 = time.perf_counter()
    quantize_int8(d / "model.onnx", d / "model.int8.onnx", cal)
    q_s = time.perf_counter() - t0
    convert_fp16(d / "model.onnx", d / "model.fp16.onnx")
    t0 = time.perf_counter()
    convert_litert(model, (1, 3, 32, 32), d / "model.tflite")
    lt_s = time.perf_counter() - t0
    convert_litert(model, (1, 3, 32, 32), d / "model.fp16.tflite", precision="fp16")
    convert_litert(model, (1, 3, 32, 32), d / "model.int8.tflite", precision="int8", calibration=cal)
    ref = torch_logits(model, xte)
    logits = {"torch fp32": ref}
    for p in ("fp32", "fp16", "int8"):
        logits[f"onnx {p}"] = run_onnx(d / ("model.onnx" if p == "fp32" else f"model.{p}.onnx"), xte)
        logits[f"litert {p}"] = run_litert(d / ("model.tflite" if p == "fp32" else f"model.{p}.tflite"), xte)
    acc = {k: top1(v, yte) for k, v in logits.items()}
    res: dict[str, object] = {
        "arch": DIGITS_ARCH, "space": "nb201", "train_images": int(len(xtr)), "test_images": int(len(xte)),
        "epochs": a.epochs, "batch": a.batch, "lr": a.lr, "train_s": train_s, "calibration": cal.describe(), "int8_quantize_s": q_s,
        "litert_convert_s": lt_s,
        "top1_pct": acc,
        "delta_vs_fp32_pp": {k: acc[k] - acc[f"{k.split()[0]} fp32"] for k in acc if not k.startswith("torch")},
        "litert_fp32_max_abs_vs_torch": float(np.max(np.abs(logits["litert fp32"] - ref))),
        "onnx_fp32_max_abs_vs_torch": float(np.max(np.abs(logits["onnx fp32"] - ref))),
        "max_abs_logit": float(np.max(np.abs(ref))),
    }
    x1 = xte[:1]
    res["latency_onnx"] = paired_latency({"fp32": onnx_runner(d / "model.onnx", x1),
                                          "int8": onnx_runner(d / "model.int8.onnx", x1)}, runs=a.runs,
                                         warmup=a.warmup)
    res["latency_litert"] = paired_latency({"fp32": litert_runner(d / "model.tflite", x1),
                                            "int8": litert_runner(d / "model.int8.tflite", x1)}, runs=a.runs,
                                           warmup=a.warmup)
    return res


def fbnet_case(work: Path, a: argparse.Namespace) -> dict[str, object]:
    from PIL import Image
    from sklearn.datasets import load_digits

    from edgenas.export.bundle import export_bundle
    from edgenas.export.litert import run_litert
    from edgenas.export.onnx import build_eval_model
    from edgenas.export.quantize import run_onnx
    from edgenas.export.sources import Candidate
    from edgenas.spaces import get_space

    space = get_space("fbnet")
    arch = space.sample(np.random.default_rng(0))
    dig = load_digits()
    rng = np.random.default_rng(1)
    pick = rng.choice(len(dig.images), size=128, replace=False)
    img = np.stack([np.asarray(Image.fromarray(np.clip(dig.images[i] / 16 * 255, 0, 255).astype(np.uint8))
                               .resize((224, 224), Image.BILINEAR).convert("RGB")) for i in pick])
    x = img.transpose(0, 3, 1, 2).astype(np.float32) / 255.0
    np.savez(work / "cal224.npz", x=x[:64])
    held = x[64:]
    out: dict[str, object] = {"arch": space.format(arch), "space": "fbnet", "dataset": "imagenet",
                              "weights": "random-init (seed 0)", "calibration_images": 64, "held_out_images": 64}
    t0 = time.perf_counter()
    r = export_bundle([Candidate(arch, 1)], space=space, dataset="imagenet", out_dir=work / "fb_onnx",
                      precision="int8", calibration_data=work / "cal224.npz")
    out["onnx_export_s"] = time.perf_counter() - t0
    m = r.manifest["models"][0]
    out["onnx_fp32_parity_vs_torch"] = m["parity"]
    out["onnx_int8_vs_fp32_calibration"] = m["vs_fp32"]
    on32, on8 = work / "fb_onnx" / m["files"]["onnx_fp32"], work / "fb_onnx" / m["files"]["onnx"]
    a32, a8 = run_onnx(on32, held), run_onnx(on8, held)
    out["onnx_int8_top1_agreement_held_out"] = float(np.mean(a32.argmax(1) == a8.argmax(1)))
    model = build_eval_model(space, arch, "imagenet", seed=0)
    ref = torch_logits(model, held)
    out["max_abs_logit"] = float(np.max(np.abs(ref)))
    if a.fbnet_litert:
        t0 = time.perf_counter()
        r = export_bundle([Candidate(arch, 1)], space=space, dataset="imagenet", out_dir=work / "fb_litert",
                          fmt="litert", precision="int8", calibration_data=work / "cal224.npz")
        out["litert_export_s"] = time.perf_counter() - t0
        m = r.manifest["models"][0]
        l32, l8 = work / "fb_litert" / m["files"]["litert_fp32"], work / "fb_litert" / m["files"]["litert"]
        b32, b8 = run_litert(l32, held), run_litert(l8, held)
        out["litert_fp32_max_abs_vs_torch"] = float(np.max(np.abs(b32 - ref)))
        out["litert_int8_top1_agreement_held_out"] = float(np.mean(b32.argmax(1) == b8.argmax(1)))
    x1 = held[:1]
    out["latency_onnx"] = paired_latency({"fp32": onnx_runner(on32, x1), "int8": onnx_runner(on8, x1)},
                                         runs=a.runs_224, warmup=a.warmup)
    if a.fbnet_litert:
        out["latency_litert"] = paired_latency({"fp32": litert_runner(l32, x1), "int8": litert_runner(l8, x1)},
                                               runs=a.runs_224, warmup=a.warmup)
    return out


CONV_ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


def conv_case(work: Path, a: argparse.Namespace) -> dict[str, object]:
    """Latency only: a conv-heavy NB201 arch (3x3 convolutions, random-init) at 32 px, int8 calibrated on
    digits images through ``export_bundle``."""
    from edgenas.export.bundle import export_bundle
    from edgenas.export.sources import Candidate
    from edgenas.spaces import get_space

    train_dir, test_dir = write_digits(work / "digits_conv")
    space = get_space("nb201")
    r = export_bundle([Candidate(space.parse(CONV_ARCH), 1)], space=space, dataset="cifar10",
                      out_dir=work / "conv_onnx", precision="int8", calibration_data=train_dir)
    m = r.manifest["models"][0]
    from edgenas.proxies.engine import load_data

    x1 = load_data(test_dir)[0][:1]
    on32, on8 = work / "conv_onnx" / m["files"]["onnx_fp32"], work / "conv_onnx" / m["files"]["onnx"]
    return {"arch": CONV_ARCH, "space": "nb201", "weights": "random-init (seed 0)", "vs_fp32": m["vs_fp32"],
            "latency_onnx": paired_latency({"fp32": onnx_runner(on32, x1), "int8": onnx_runner(on8, x1)},
                                           runs=a.runs, warmup=a.warmup)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--train-threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=150, help="timed rounds (32 px)")
    p.add_argument("--runs-224", type=int, default=40, help="timed rounds (224 px)")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--fbnet-litert", action="store_true",
                   help="also convert the 224-px FBNet arch to LiteRT (minutes of CPU on a loaded 2-core machine)")
    p.add_argument("--cases", default="digits,fbnet", help="digits, fbnet, conv (comma-separated)")
    a = p.parse_args()
    import onnxruntime

    res: dict[str, object] = {
        "edgenas_version": __version__, "command": "python tools/bench_quant.py " + " ".join(sys.argv[1:]),
        "host": platform.node(), "cpu": _cpu(), "onnxruntime": onnxruntime.__version__,
        "timing": "1 thread, fp32 and int8 alternated run by run (order flipped each round), shared machine",
    }
    try:
        import ai_edge_litert
        import litert_torch

        res["litert_torch"] = getattr(litert_torch, "__version__", "?")
        res["ai_edge_litert"] = getattr(ai_edge_litert, "__version__", "?")
    except ImportError:
        pass
    with tempfile.TemporaryDirectory(prefix="bench-quant-") as tmp:
        for case in a.cases.split(","):
            print(f"== {case}", flush=True)
            t0 = time.perf_counter()
            res[case] = {"digits": digits_case, "fbnet": fbnet_case, "conv": conv_case}[case](Path(tmp), a)
            res[case]["seconds"] = time.perf_counter() - t0
            print(json.dumps(res[case], indent=1), flush=True)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(res, indent=2) + "\n")
    _table(res)


def _cpu() -> str | None:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def _table(res: dict) -> None:
    if "digits" in res:
        d = res["digits"]
        print(f"\ndigits ({d['test_images']} held-out images), top-1 %:")
        for k, v in d["top1_pct"].items():
            delta = d["delta_vs_fp32_pp"].get(k)
            print(f"  {k:12s} {v:6.2f}" + ("" if delta is None else f"  ({delta:+.2f} pp vs fp32)"))
        for rt in ("onnx", "litert"):
            lat = d[f"latency_{rt}"]
            s = lat["speedup_int8_vs_fp32"]
            print(f"  {rt}: fp32 {lat['fp32']['wall_p50_ms']:.3f} ms, int8 {lat['int8']['wall_p50_ms']:.3f} ms, "
                  f"int8 speed-up {s['wall']:.2f}x (wall) {s['cpu']:.2f}x (thread CPU)")
    if "fbnet" in res:
        f = res["fbnet"]
        print(f"\nfbnet 224 px ({f['arch']}):")
        for rt in ("onnx", "litert"):
            if f"latency_{rt}" in f:
                lat = f[f"latency_{rt}"]
                s = lat["speedup_int8_vs_fp32"]
                print(f"  {rt}: fp32 {lat['fp32']['wall_p50_ms']:.2f} ms, int8 {lat['int8']['wall_p50_ms']:.2f} ms, "
                      f"int8 speed-up {s['wall']:.2f}x (wall) {s['cpu']:.2f}x (thread CPU)")


    if "conv" in res:
        lat = res["conv"]["latency_onnx"]
        s = lat["speedup_int8_vs_fp32"]
        print(f"\nconv-heavy NB201 32 px: onnx fp32 {lat['fp32']['cpu_p50_ms']:.3f} ms, int8 "
              f"{lat['int8']['cpu_p50_ms']:.3f} ms (thread CPU), int8 speed-up {s['wall']:.2f}x (wall) "
              f"{s['cpu']:.2f}x (thread CPU)")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
