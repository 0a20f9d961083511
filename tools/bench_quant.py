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

* fbnet224 (``--cases fbnet224 --work DIR``): a *trained* FBNet pick at 224 px, every step the CLI a user
  types: tools/bench_digits.py's digits split written as 224-px gray PNGs (1,438 train / 359 held out),
  ``edgenas search --space fbnet --data train --resolution 224 --max-macs-m M``, ``edgenas train`` (batch 32,
  no flips), ``edgenas export`` as ONNX int8 and fp16 and LiteRT int8 (when the litert extra is installed),
  int8 calibrated on the training folder (``--calibration-data``), then ``edgenas validate --data test`` on
  each export. Reported: top-1 of every file, its difference to fp32, LiteRT / ONNX fp32 vs torch on the
  held-out logits, paired int8 / fp32 latency. ``--variants`` also quantizes the trained fp32 ONNX with
  other onnxruntime settings (:data:`INT8_VARIANTS`) and reports held-out top-1 and paired speed-up of each.
  DIR keeps the data, run and exports: a rerun resumes after the last finished step.
* conv (``--cases conv``): latency only, the conv-heavy NB201 arch ``CONV_ARCH`` (3x3 convolutions,
  random-init) at 32 px, int8 calibrated on the digits training folder through ``export_bundle``.

Latency: one thread, this machine's CPU, fp32 and int8 sessions of the same model timed in
alternation (one run of each per round, the order flipped every round) after warm-up, so load from
other processes hits both alike; the ratio is the median over rounds of fp32 time / int8 time. Wall
time and the timing thread's CPU time are both reported.

Usage: nice -n 10 python tools/bench_quant.py --out benchmarks/results/quant_cpu.json [--epochs 8] [--runs 200]
       nice -n 10 python tools/bench_quant.py --cases fbnet224 --work runs/quant224 --variants \
           --out benchmarks/results/quant_fbnet224.json
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


def onnx_session(path: Path, level=None, config: dict[str, str] | None = None, profile_prefix: str | None = None):
    """A 1-thread onnxruntime CPU session (ORT_ENABLE_ALL unless ``level``; ``config``: session config entries)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL if level is None else level
    for k, v in (config or {}).items():
        so.add_session_config_entry(k, v)
    if profile_prefix is not None:
        so.enable_profiling = True
        so.profile_file_prefix = profile_prefix
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def onnx_runner(path: Path, x: np.ndarray, level=None, config: dict[str, str] | None = None):
    sess = onnx_session(path, level, config)
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


def _cli(cmd: list[str], log: Path) -> float:
    """Run ``python -m edgenas CMD`` (this checkout's code), output appended to ``log``; wall seconds."""
    import subprocess

    full = [sys.executable, "-m", "edgenas", *cmd]
    t0 = time.perf_counter()
    with open(log, "ab") as f:
        f.write(("\n$ edgenas " + " ".join(cmd) + "\n").encode())
        f.flush()
        subprocess.run(full, check=True, stdout=f, stderr=subprocess.STDOUT,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    return time.perf_counter() - t0


def fbnet224_case(work: Path, a: argparse.Namespace) -> dict[str, object]:
    """A trained FBNet pick at 224 px on the digits task, through the CLI a user types (resumable in --work)."""
    import importlib.util

    from edgenas.export.accuracy import load_eval_images
    from edgenas.export.litert import run_litert
    from edgenas.export.quantize import run_onnx
    from edgenas.train.model_io import load_model

    work = a.work if a.work is not None else work
    work.mkdir(parents=True, exist_ok=True)
    log = work / "commands.log"
    state_path = work / "steps.json"  # finished steps and their wall times: a rerun continues where it stopped
    state = json.loads(state_path.read_text()) if state_path.is_file() else {}
    state.setdefault("load_before", list(os.getloadavg()))
    digits = work / "digits"
    if "data" not in state:
        sys.path.insert(0, str(ROOT / "tools"))
        from bench_digits import write_digits as write_digits_task

        state["data"] = write_digits_task(digits, size=224, seed=0)  # the digits task's split, at 224 px
        state_path.write_text(json.dumps(state))
    has_litert = all(importlib.util.find_spec(m) is not None for m in ("litert_torch", "ai_edge_litert"))
    train_dir, test_dir, run = digits / "train", digits / "test", work / "run"
    cal = ["--calibration-data", str(train_dir)]
    steps: dict[str, list[str]] = {
        "search": ["search", "--space", "fbnet", "--data", str(train_dir), "--resolution", "224",
                   "--max-macs-m", str(a.fbnet_max_macs_m), "--evaluations", str(a.fbnet_evaluations), "--seed", "0",
                   "--out", str(run)],
        "train": ["train", str(run), "--epochs", str(a.fbnet_epochs), "--batch-size", "32", "--lr", str(a.fbnet_lr),
                  "--warmup-epochs", "0.5", "--crop-scale", str(a.fbnet_crop_scale), "--no-flip", "--seed", "0",
                  "--threads", str(a.train_threads)],
        "export_onnx_int8": ["export", str(run), "--precision", "int8", *cal, "--out", str(work / "onnx_int8")],
        "export_onnx_fp16": ["export", str(run), "--precision", "fp16", "--out", str(work / "onnx_fp16")],
        "validate_onnx_int8": ["validate", str(work / "onnx_int8"), "--data", str(test_dir), "--target", "cpu",
                               "--runs", "20"],
        "validate_onnx_fp16": ["validate", str(work / "onnx_fp16"), "--data", str(test_dir), "--target", "cpu",
                               "--runs", "20"],
    }
    if has_litert:
        steps["export_litert_int8"] = ["export", str(run), "--format", "litert", "--precision", "int8", *cal,
                                       "--out", str(work / "litert_int8")]
        steps["validate_litert_int8"] = ["validate", str(work / "litert_int8"), "--data", str(test_dir), "--target",
                                         "cpu", "--runs", "20"]
    for name, cmd in steps.items():
        if name not in state:
            if name == "search" and run.exists():
                import shutil

                shutil.rmtree(run)  # an unfinished search is timed again from the start
            print(f"  {name}: edgenas {' '.join(cmd)}", flush=True)
            state[name] = _cli(cmd, log)
            state.setdefault("load_after", {})[name] = list(os.getloadavg())  # the machine may be shared
            state_path.write_text(json.dumps(state))
    pareto = json.loads((run / "pareto.json").read_text())
    train_doc = json.loads(next((run / "train").glob("*/train.json")).read_text())
    out: dict[str, object] = {
        "data": {"source": "sklearn.datasets.load_digits, tools/bench_digits.py's split (seed 0) at 224 px, gray",
                 **state["data"]},
        "task": pareto["task"], "pick": pareto["pick"]["arch"], "pick_macs_m": pareto["pick"]["macs_m"],
        "commands": ["edgenas " + " ".join(c) for c in steps.values()],
        "wall_s": {k: round(state[k], 1) for k in steps},
        "train": {k: train_doc.get(k) for k in ("epochs", "val_accuracy", "best_val_accuracy", "seconds", "split",
                                                "recipe")},
        "load_average_before": state["load_before"], "load_average_after_step": state.get("load_after", {}),
        "litert": has_litert,
    }
    rows = []
    for folder in ("onnx_int8", "onnx_fp16", "litert_int8"):
        vpath = work / folder / "validation.json"
        if vpath.is_file():
            rows += [dict(r, export=folder) for r in json.loads(vpath.read_text())["accuracy"]]
    out["accuracy"] = rows
    top: dict[str, float] = {}
    for r in rows:
        top[f"{r['format']} {r['precision']}"] = r["top1_pct"]
    out["top1_pct"] = top
    out["delta_vs_fp32_pp"] = {k: v - top[f"{k.split()[0]} fp32"] for k, v in top.items()
                               if not k.startswith("torch") and f"{k.split()[0]} fp32" in top}
    man = json.loads((work / "onnx_int8" / "export.json").read_text())["models"][0]
    sub = work / "onnx_int8" / man["dir"]
    on32, on8 = work / "onnx_int8" / man["files"]["onnx_fp32"], work / "onnx_int8" / man["files"]["onnx"]
    model = load_model(sub)
    task = pareto["task"]
    x, y = load_eval_images(test_dir, input_shape=(task["channels"], task["input_size"], task["input_size"]),
                            num_classes=task["num_classes"], classes=json.loads((sub / "model.json").read_text())
                            .get("classes"))
    ref = torch_logits(model, x)
    out["max_abs_logit"] = float(np.max(np.abs(ref)))
    out["onnx_fp32_max_abs_vs_torch"] = float(np.max(np.abs(run_onnx(on32, x) - ref)))
    out["onnx_int8_calibration"] = man.get("calibration") or json.loads(
        (work / "onnx_int8" / "export.json").read_text()).get("calibration")
    x1 = x[:1]
    out["latency_onnx"] = paired_latency({"fp32": onnx_runner(on32, x1), "int8": onnx_runner(on8, x1)},
                                         runs=a.runs_224, warmup=a.warmup)
    if has_litert and (work / "litert_int8" / "export.json").is_file():
        lm = json.loads((work / "litert_int8" / "export.json").read_text())["models"][0]
        l32, l8 = work / "litert_int8" / lm["files"]["litert_fp32"], work / "litert_int8" / lm["files"]["litert"]
        out["litert_fp32_max_abs_vs_torch"] = float(np.max(np.abs(run_litert(l32, x) - ref)))
        out["latency_litert"] = paired_latency({"fp32": litert_runner(l32, x1), "int8": litert_runner(l8, x1)},
                                               runs=a.runs_224, warmup=a.warmup)
    out["onnx_profile"] = conv_time_by_kind(on32, on8, x1, runs=a.runs_224)
    if a.variants:
        out["int8_variants"] = int8_variants(on32, train_dir, x, y, a)
    out["load_average_after"] = list(os.getloadavg())
    return out


#: onnxruntime int8 settings compared on the trained pick (``--variants``): changes to the default export
#: (QDQ, per-channel int8 weights, uint8 activations, MinMax; timed at ORT_ENABLE_ALL like the fp32 model).
#: ``exclude``: convolutions left fp32 (``stem``: the first, 1 input channel; ``depthwise``); ``level``: the
#: int8 session's graph optimization level (EXTENDED skips the layout transforms, among them the NHWC one that
#: wraps channel shuffles in transposes); ``config``: onnxruntime session config entries.
INT8_VARIANTS: dict[str, dict[str, object]] = {
    "default (QDQ, per-channel, u8 act)": {},
    "per-tensor weights": {"per_channel": False},
    "reduce_range (7-bit weights)": {"reduce_range": True},
    "QOperator format": {"quant_format": "QOperator"},
    "int8 activations (s8/s8)": {"activation_type": "QInt8"},
    "s8/s8, session.qdqisint8allowed=1": {"activation_type": "QInt8", "config": {"session.qdqisint8allowed": "1"}},
    "depthwise convs left fp32": {"exclude": "depthwise"},
    "stem conv left fp32": {"exclude": "stem"},
    "default, ORT_ENABLE_EXTENDED": {"level": "extended"},
    "per-tensor, ORT_ENABLE_EXTENDED": {"per_channel": False, "level": "extended"},
    "stem fp32, ORT_ENABLE_EXTENDED": {"exclude": "stem", "level": "extended"},
    "dynamic (ConvInteger)": {"dynamic": True},
}


def int8_variants(fp32: Path, train_dir: Path, x: np.ndarray, y: np.ndarray, a: argparse.Namespace) -> dict:
    """Each :data:`INT8_VARIANTS` setting: held-out top-1, and its latency paired with the fp32 model's."""
    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import (CalibrationMethod, QuantFormat, QuantType, quantize_dynamic,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from edgenas.export.quantize import _batches, _input_spec, _reader, load_calibration

    name, shape = _input_spec(fp32)
    cal = load_calibration(train_dir, shape[1:])
    res: dict[str, object] = {"fp32_top1_pct": top1(_outputs(onnx_session(fp32), x), y)}
    with tempfile.TemporaryDirectory(prefix="bench-quant-var-") as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
        proto = onnx.load(str(pre))
        convs = [n for n in proto.graph.node if n.op_type == "Conv"]
        groups = {"stem": [convs[0].name], "depthwise": [n.name for n in convs if any(
            at.name == "group" and at.i > 1 and at.i == _in_channels(proto, n) for at in n.attribute)]}
        for label, v in INT8_VARIANTS.items():
            path = Path(tmp) / f"v{len(res)}.onnx"
            if v.get("dynamic"):
                quantize_dynamic(str(pre), str(path), weight_type=QuantType.QUInt8, op_types_to_quantize=["Conv"])
            else:
                quantize_static(
                    str(pre), str(path), _reader([{name: b} for b in _batches(cal.images, shape[0])]),
                    quant_format=QuantFormat.QOperator if v.get("quant_format") == "QOperator" else QuantFormat.QDQ,
                    per_channel=bool(v.get("per_channel", True)), reduce_range=bool(v.get("reduce_range", False)),
                    activation_type=QuantType.QInt8 if v.get("activation_type") == "QInt8" else QuantType.QUInt8,
                    weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax,
                    nodes_to_exclude=groups[str(v["exclude"])] if "exclude" in v else None)
            level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED if v.get("level") == "extended" else None
            config = v.get("config") or {}
            try:
                sess = onnx_session(path, level=level, config=config)
                acc = top1(_outputs(sess, x), y)  # on the session that is timed, settings and all
            except Exception as exc:  # noqa: BLE001 - a setting onnxruntime cannot run is a result too
                res[label] = {"error": str(exc).splitlines()[0][:200]}
                continue
            lat = paired_latency({"fp32": onnx_runner(fp32, x[:1]),
                                  "int8": onnx_runner(path, x[:1], level=level, config=config)},
                                 runs=a.runs_224, warmup=a.warmup)
            res[label] = {"top1_pct": acc, "delta_vs_fp32_pp": acc - res["fp32_top1_pct"], "latency": lat,
                          "size_bytes": path.stat().st_size}
            print(f"  {label}: top-1 {acc:.2f} %, int8 speed-up {lat['speedup_int8_vs_fp32']['cpu']:.2f}x (CPU)",
                  flush=True)
        res["depthwise_convs"] = len(groups["depthwise"])
        res["convs"] = len(convs)
    return res


def _outputs(sess, x: np.ndarray) -> np.ndarray:
    """Outputs of a batch-1 onnxruntime session on ``x`` (N, C, H, W), one image at a time."""
    feed = sess.get_inputs()[0].name
    return np.concatenate([sess.run(None, {feed: x[i:i + 1]})[0] for i in range(len(x))])


def conv_time_by_kind(fp32: Path, int8: Path, x1: np.ndarray, *, runs: int) -> dict[str, object]:
    """onnxruntime's own profile of the fp32 and int8 models (1 thread, ORT_ENABLE_ALL): kernel ms per run of
    the convolutions by kind (stem, depthwise, 1x1 incl. grouped) and of every other op type.

    The two graphs hold the same convolutions in the same order (the int8 graph's weights are prepacked, so
    its shapes are read from the fp32 one); they are matched by position."""
    import collections

    def profile(path: Path) -> tuple[list[tuple[float, str]], dict[str, float]]:
        sess = onnx_session(path, profile_prefix=str(Path(tempfile.gettempdir()) / f"edgenas-prof-{path.stem}"))
        feed = {sess.get_inputs()[0].name: x1}
        for _ in range(runs + 1):
            sess.run(None, feed)
        prof = Path(sess.end_profiling())
        events = json.loads(prof.read_text())
        prof.unlink()
        run1 = next(e for e in events if e.get("name") == "model_run")  # the first run (allocations) is left out
        events = [e for e in events if e.get("ts", 0) > run1["ts"] + run1["dur"]]
        convs: dict[str, list] = {}
        other: collections.Counter = collections.Counter()
        for e in events:
            if e.get("cat") != "Node" or not e["name"].endswith("_kernel_time"):
                continue
            op = e["args"]["op_name"]
            if "Conv" in op:
                shapes = [next(iter(d.values())) for d in e["args"]["input_type_shape"]]
                w = next((s for s in shapes[1:] if len(s) == 4), None)
                kind = None if w is None else "stem" if not convs else \
                    "depthwise" if w[1] == 1 and shapes[0][1] == w[0] else "1x1" if w[2] == 1 else "kxk"
                c = convs.setdefault(e["name"], [0.0, kind])
                c[0] += e["dur"] / 1000 / runs
            else:
                other[op] += e["dur"] / 1000 / runs
        return list(map(tuple, convs.values())), dict(other)

    c32, o32 = profile(fp32)
    c8, o8 = profile(int8)
    if len(c32) != len(c8):
        return {"error": f"{len(c32)} fp32 and {len(c8)} int8 convolutions after optimization; not matched"}
    by_kind: dict[str, dict[str, float]] = {}
    for (t32, kind), (t8, _) in zip(c32, c8):
        k = by_kind.setdefault(str(kind), {"n": 0, "fp32_ms": 0.0, "int8_ms": 0.0})
        k["n"] += 1
        k["fp32_ms"] += t32
        k["int8_ms"] += t8
    return {"conv_ms_by_kind": by_kind, "other_ops_ms": {"fp32": o32, "int8": o8}, "runs": runs}


def _in_channels(proto, node) -> int:
    """Input channels of a Conv node, from its weight initializer (O, I/group, kH, kW) and group."""
    w = next((i for i in proto.graph.initializer if i.name == node.input[1]), None)
    group = next((at.i for at in node.attribute if at.name == "group"), 1)
    return -1 if w is None else int(w.dims[1]) * int(group)


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
    p.add_argument("--cases", default="digits,fbnet", help="digits, fbnet, conv, fbnet224 (comma-separated)")
    p.add_argument("--work", type=Path, default=None,
                   help="fbnet224: folder kept between runs (data, run, exports); a rerun resumes there")
    p.add_argument("--fbnet-max-macs-m", type=float, default=120.0, help="fbnet224: search MACs budget")
    p.add_argument("--fbnet-evaluations", type=int, default=100, help="fbnet224: search evaluations")
    p.add_argument("--fbnet-epochs", type=int, default=4, help="fbnet224: edgenas train epochs")
    p.add_argument("--fbnet-lr", type=float, default=0.02, help="fbnet224: edgenas train peak lr (batch 32)")
    p.add_argument("--fbnet-crop-scale", type=float, default=0.8,
                   help="fbnet224: edgenas train --crop-scale (a crop of a third of a digit may be another digit)")
    p.add_argument("--variants", action="store_true",
                   help="fbnet224: also compare onnxruntime int8 settings (INT8_VARIANTS) on the trained pick")
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
            res[case] = {"digits": digits_case, "fbnet": fbnet_case, "conv": conv_case,
                         "fbnet224": fbnet224_case}[case](Path(tmp), a)
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


def _top1_lines(d: dict) -> None:
    for k, v in d["top1_pct"].items():
        delta = d["delta_vs_fp32_pp"].get(k)
        print(f"  {k:12s} {v:6.2f}" + ("" if delta is None else f"  ({delta:+.2f} pp vs fp32)"))


def _latency_lines(d: dict, clock: str, digits: int) -> None:
    """fp32 / int8 medians (``clock``: wall or cpu) and the int8 speed-up of each timed runtime."""
    for rt in ("onnx", "litert"):
        if f"latency_{rt}" in d:
            lat = d[f"latency_{rt}"]
            s = lat["speedup_int8_vs_fp32"]
            print(f"  {rt}: fp32 {lat['fp32'][f'{clock}_p50_ms']:.{digits}f} ms, int8 "
                  f"{lat['int8'][f'{clock}_p50_ms']:.{digits}f} ms ({clock}), "
                  f"int8 speed-up {s['wall']:.2f}x (wall) {s['cpu']:.2f}x (thread CPU)")


def _table(res: dict) -> None:
    if "digits" in res:
        d = res["digits"]
        print(f"\ndigits ({d['test_images']} held-out images), top-1 %:")
        _top1_lines(d)
        _latency_lines(d, "wall", 3)
    if "fbnet" in res:
        f = res["fbnet"]
        print(f"\nfbnet 224 px ({f['arch']}):")
        _latency_lines(f, "wall", 2)
    if "fbnet224" in res:
        f = res["fbnet224"]
        print(f"\nfbnet224: trained pick {f['pick']} ({f['pick_macs_m']:.1f} M MACs), "
              f"{f['data']['test']} held-out images, top-1 %:")
        _top1_lines(f)
        for k in ("onnx_fp32_max_abs_vs_torch", "litert_fp32_max_abs_vs_torch", "max_abs_logit"):
            if k in f:
                print(f"  {k}: {f[k]:.3g}")
        _latency_lines(f, "cpu", 2)
        prof = f.get("onnx_profile") or {}
        for kind, k in (prof.get("conv_ms_by_kind") or {}).items():
            print(f"  onnxruntime profile, {k['n']:2d} {kind:9s} convs: fp32 {k['fp32_ms']:.2f} ms, "
                  f"int8 {k['int8_ms']:.2f} ms ({k['fp32_ms'] / max(k['int8_ms'], 1e-9):.2f}x)")
        if prof.get("other_ops_ms"):
            print("  onnxruntime profile, Transpose: fp32 {:.2f} ms, int8 {:.2f} ms".format(
                prof["other_ops_ms"]["fp32"].get("Transpose", 0.0), prof["other_ops_ms"]["int8"].get("Transpose", 0.0)))
        for label, v in (f.get("int8_variants") or {}).items():
            if isinstance(v, dict) and "latency" in v:
                s = v["latency"]["speedup_int8_vs_fp32"]
                print(f"  variant {label:38s} top-1 {v['top1_pct']:6.2f} ({v['delta_vs_fp32_pp']:+.2f} pp), "
                      f"speed-up {s['wall']:.2f}x (wall) {s['cpu']:.2f}x (thread CPU)")
            elif isinstance(v, dict):
                print(f"  variant {label:38s} {v.get('error')}")
    if "conv" in res:
        lat = res["conv"]["latency_onnx"]
        s = lat["speedup_int8_vs_fp32"]
        print(f"\nconv-heavy NB201 32 px: onnx fp32 {lat['fp32']['cpu_p50_ms']:.3f} ms, int8 "
              f"{lat['int8']['cpu_p50_ms']:.3f} ms (thread CPU), int8 speed-up {s['wall']:.2f}x (wall) "
              f"{s['cpu']:.2f}x (thread CPU)")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
