"""Export one or more candidates into a directory, atomically, with an ``export.json`` manifest."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .._version import __version__
from ..errors import DependencyError, ExportError
from ..spaces import SearchSpace
from .sources import Candidate, atomic_dir, file_checksum, predicted_latency_ms

__all__ = ["FORMATS", "MANIFEST_NAME", "ExportResult", "export_bundle", "file_checksum", "model_dirname"]

log = logging.getLogger(__name__)

FORMATS = ("onnx", "tensorrt", "torch", "litert")
PRECISIONS = ("fp32", "fp16", "int8")
#: where exported weights come from (``--weights``)
WEIGHTS = ("auto", "trained", "random-init")
MANIFEST_NAME = "export.json"
MANIFEST_SCHEMA = 1


@dataclass(frozen=True)
class ExportResult:
    """The manifest written to ``out_dir / export.json`` and the notes for the user (e.g. missing TensorRT)."""

    out_dir: Path
    manifest: dict[str, Any]
    notes: tuple[str, ...]


def model_dirname(candidate: Candidate) -> str:
    """Per-candidate sub-directory name, e.g. ``rank01``; ``pick`` for a pick off the front."""
    return f"rank{candidate.rank:02d}" if candidate.rank else "pick"


def export_bundle(
    candidates: list[Candidate], *, space: SearchSpace, dataset: Any, out_dir: Path | str, fmt: str = "onnx",
    batch_size: int = 1, opset: int = 17, precision: str = "fp32", predict_targets: tuple[str, ...] = (),
    require_engine: bool = False, workspace_mib: int = 1024, seed: int = 0, trt: Any = None,
    calibration_data: Path | str | None = None, calibration_samples: int | None = None,
    trained: Mapping[str, Path] | None = None, weights: str = "auto",
) -> ExportResult:
    """Export ``candidates`` into ``out_dir`` (one sub-directory each) and write the manifest.

    Everything is written to a temp directory first; on any error nothing appears in ``out_dir``.
    ``export.json`` records each model's files and, under ``checksums``, their size and SHA-256.

    Args:
        fmt: onnx | tensorrt | torch | litert (``model.tflite``, :mod:`edgenas.export.litert`). tensorrt always writes the ONNX too, plus the engine when TensorRT
            imports, else ``trtexec.sh`` with the commands for TRT 10 and TRT 11.
        precision: fp32 | fp16 | int8 (onnx, tensorrt, litert; litert fp16 / int8 write
            ``model.fp16.tflite`` / ``model.int8.tflite`` beside the fp32 ``model.tflite``). onnx fp16 / int8 writes ``model.fp16.onnx`` /
            ``model.int8.onnx`` (files key ``onnx``) beside the fp32 ``model.onnx`` (key ``onnx_fp32``);
            see :mod:`edgenas.export.quantize`. tensorrt int8 also writes the int8 ONNX (the engine's
            scales) and ``calibration.cache``.
        calibration_data: int8 only, required: the user's images (class folder, .npy or .npz) to calibrate on.
        calibration_samples: images used at most (default :data:`~edgenas.export.quantize.CALIBRATION_SAMPLES`).
        predict_targets: targets to ask the cost model about (in addition to the pareto file's latencies).
        require_engine: with fmt tensorrt, fail (DependencyError) when TensorRT is missing.
        trt: tensorrt module to use (tests inject a fake); default: import it when needed.
        dataset: the dataset name, or the task's :class:`~edgenas.spaces.DatasetSpec`.
        trained: {arch string: model folder of ``edgenas train``} (``RUN_DIR/train/<member>/``).
        weights: ``auto`` (trained weights where ``trained`` has the arch, else random-init from ``seed``),
            ``trained`` (every candidate must have them) or ``random-init``. export.json records each
            model's ``weights`` and validation accuracy.
    """
    from .._limits import MAX_BATCH, MAX_CALIBRATION_SAMPLES, MAX_SEED, check_int
    from .onnx import export_onnx
    from .tensorrt import build_engine, load_tensorrt, trtexec_commands
    from .torch_export import export_torch

    if fmt not in FORMATS:
        raise ExportError(f"unknown --format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if weights not in WEIGHTS:
        raise ExportError(f"unknown --weights {weights!r}; expected one of {', '.join(WEIGHTS)}")
    task = space.dataset(dataset)
    dataset = task  # the task's spec from here on (a benchmark dataset's or the user's)
    trained = dict(trained or {})
    if weights == "trained":
        missing = [c for c in candidates if space.format(c.arch) not in trained]
        if missing:
            raise ExportError(f"--weights trained: {model_dirname(missing[0])} ({space.format(missing[0].arch)}) has no "
                              "trained weights; expected `edgenas train RUN_DIR` (or --rank/--arch) first, or "
                              "--weights random-init")
    check_int("batch_size", batch_size, 1, MAX_BATCH)
    check_int("seed", seed, 0, MAX_SEED)
    if fmt != "torch":
        from .onnx import check_opset

        check_opset(opset)
    if precision not in PRECISIONS:
        raise ExportError(f"unknown --precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
    if precision != "fp32" and fmt == "torch":
        raise ExportError(f"--precision {precision} applies to --format onnx, tensorrt or litert; torch exports are fp32")
    if precision == "int8" and calibration_data is None:
        raise ExportError("--precision int8 needs --calibration-data DIR|FILE.npz (the images to calibrate the "
                          "int8 ranges on); expected real inputs, never an uncalibrated int8 model")
    if precision == "int8" and fmt != "litert" and opset < 13:  # per-channel DequantizeLinear takes an axis from 13
        raise ExportError(f"--precision int8 needs --opset 13 or later (per-channel weights); got {opset}")
    if calibration_data is not None and precision != "int8":
        raise ExportError(f"--calibration-data applies to --precision int8, not {precision}")
    calib = None
    if calibration_data is not None:  # read and checked before anything is written
        from .quantize import CALIBRATION_SAMPLES, load_calibration

        n_cal = CALIBRATION_SAMPLES if calibration_samples is None else calibration_samples
        check_int("calibration_samples", n_cal, 1, MAX_CALIBRATION_SAMPLES)
        calib = load_calibration(calibration_data, tuple(space.dataset(dataset).input_shape), max_samples=n_cal,
                                 seed=seed)
    if fmt == "litert":  # a missing converter fails before anything is written
        from .litert import _quantizer, load_converter

        load_converter()
        if precision != "fp32":
            _quantizer()
    notes: list[str] = []
    if fmt == "tensorrt" and trt is None:
        trt = load_tensorrt()
        if trt is None:
            if require_engine:
                raise DependencyError("tensorrt is not installed, so no engine can be built here",
                                      hint="drop --require-engine to get the ONNX plus the trtexec command for the device")
            notes.append("tensorrt is not installed: wrote the ONNX and trtexec.sh (TRT 10 and TRT 11 commands) "
                         "to build the engine on the device")
    models: list[dict[str, Any]] = []
    untrained: list[str] = []
    out = Path(out_dir)
    with atomic_dir(out) as tmp:
        cache = tmp / "timing.cache"
        if (out / "timing.cache").is_file():  # reuse tactics timed by an earlier export into the same dir
            cache.write_bytes((out / "timing.cache").read_bytes())
        for cand in candidates:
            sub = tmp / model_dirname(cand)
            sub.mkdir()
            preds: dict[str, float | None] = dict(cand.latency_ms)
            for t in predict_targets:
                if preds.get(t) is None:
                    preds[t] = predicted_latency_ms(cand.arch, target=t, space=space, dataset=dataset)
            entry: dict[str, Any] = {
                "rank": cand.rank, "arch": space.format(cand.arch), "index": space.index(cand.arch),
                "dir": sub.name, "predicted_latency_ms": preds, "files": {},
            }
            model, tmeta = None, {}
            tdir = trained.get(space.format(cand.arch)) if weights != "random-init" else None
            if tdir is not None:
                from ..train.model_io import load_model, read_model_json

                model, tmeta = load_model(tdir), read_model_json(tdir)
            kind = "trained" if model is not None else "random-init"
            entry["weights"] = kind
            entry["val_accuracy"] = tmeta.get("val_accuracy")
            if model is not None:
                entry["trained_from"] = str(tdir)
            else:
                untrained.append(model_dirname(cand))
            torch_meta = {"weights": kind, **({k: tmeta[k] for k in ("val_accuracy", "classes") if k in tmeta})}
            if fmt == "torch" or model is not None:  # trained: the torch weights go beside the exported model
                te = export_torch(space, cand.arch, dataset, sub, seed=seed, model=model, meta=torch_meta)
                entry["files"].update({"config": f"{sub.name}/{te.config_path.name}",
                                       "weights": f"{sub.name}/{te.weights_path.name}"})
            if fmt == "litert":  # its files join the torch weights' (a trained run's), never replace them
                lm = _litert_model(space, cand, dataset, sub, precision, calib, batch_size=batch_size, seed=seed,
                                   model=model)
                entry["files"].update(lm.pop("files", {}))
                entry.update(lm)
            elif fmt != "torch":
                extra = {"weights": kind}
                if entry["val_accuracy"] is not None:
                    extra["val_accuracy"] = str(entry["val_accuracy"])
                res = export_onnx(space, cand.arch, dataset, sub / "model.onnx", batch_size=batch_size, opset=opset,
                                  seed=seed, predicted_latency_ms=preds, model=model, extra_metadata=extra)
                entry["files"]["onnx"] = f"{sub.name}/model.onnx"
                entry["input_shape"] = list(res.input_shape)
                entry["parity"] = {"max_abs": res.parity.max_abs, "max_rel": res.parity.max_rel,
                                   "n_inputs": res.parity.n_inputs, "vs": "onnxruntime-cpu vs torch-cpu"}
                entry["simplified"] = res.simplified
                if precision != "fp32":
                    reduced = _reduced_onnx(sub, precision, calib, fmt, seed=seed)
                    entry["files"].update(reduced.pop("files"))
                    entry.update(reduced)
                if fmt == "tensorrt":
                    trt_onnx = "model.int8.onnx" if precision == "int8" else "model.onnx"
                    typed = "model.fp16.onnx" if precision == "fp16" else trt_onnx
                    cmds = trtexec_commands(trt_onnx, precision=precision, workspace_mib=workspace_mib,
                                            engine_name="model.engine",
                                            calibration_cache="calibration.cache" if precision == "int8" else None,
                                            fp32_onnx="model.onnx", typed_onnx=typed)
                    entry["trtexec"] = cmds
                    if trt is not None:
                        from ..device_runner import trt_strongly_typed

                        built = typed if trt_strongly_typed(trt) else trt_onnx
                        eb = build_engine(sub / built, sub / "model.engine", precision=precision,
                                          workspace_mib=workspace_mib, timing_cache=cache, trt=trt)
                        entry["files"]["engine"] = f"{sub.name}/model.engine"
                        entry["engine"] = {"trt_version": eb.trt_version, "precision": eb.precision,
                                           "strongly_typed": eb.strongly_typed,
                                           "timing_cache_reused": eb.timing_cache_reused, "size_bytes": eb.size_bytes}
                    else:
                        script = ("#!/bin/sh\n# Build and time the engine ON THE DEVICE (engines are not portable).\n"
                                  "# Pick the line for the device's TensorRT major version.\n"
                                  f"# TensorRT 10 (JetPack 6):\n{cmds['trt10']}\n"
                                  f"# TensorRT 11 (strongly typed; precision must already be in the ONNX):\n"
                                  f"# {cmds['trt11']}\n")
                        if "trt10_calib" in cmds:
                            script += ("# TensorRT 8.x / 10 implicit int8 from edgenas' calibration cache (same images, "
                                       "per-tensor ranges) instead of the Q/DQ scales:\n"
                                       f"# {cmds['trt10_calib']}\n")
                        (sub / "trtexec.sh").write_text(script)
                        entry["files"]["trtexec"] = f"{sub.name}/trtexec.sh"
            entry["checksums"] = {kind: file_checksum(tmp / rel) for kind, rel in entry["files"].items()}
            models.append(entry)
        manifest = {
            "schema_version": MANIFEST_SCHEMA, "edgenas_version": __version__, "space": space.name,
            "dataset": task.name, **({} if space.benchmark_dataset(task) else {"task": asdict(task)}),
            "format": fmt, "precision": precision, "batch_size": batch_size, "opset": opset,
            "seed": seed, "models": models,
        }
        if calib is not None:
            manifest["calibration"] = calib.describe()
        (tmp / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")
    if untrained:
        notes.append(f"{', '.join(untrained)}: untrained network{'s' if len(untrained) > 1 else ''} (weights "
                     f"random-init from --seed {seed}): the architecture only, not a usable classifier; "
                     "`edgenas train RUN_DIR --data DIR` trains it, then export again")
    return ExportResult(out, manifest, tuple(notes))


def _reduced_onnx(sub: Path, precision: str, calib: Any, fmt: str, *, seed: int = 0) -> dict[str, Any]:
    """Write the fp16 / int8 ONNX beside ``sub/model.onnx``; the manifest fields that describe it.

    For ``--format onnx`` the reduced file becomes the model (files key ``onnx``), the fp32 one its
    reference (``onnx_fp32``). Its outputs are compared with the fp32 model's on the calibration images
    (int8) or on standard-normal inputs (fp16): fp16 must stay within the fp16 parity bound.
    """
    import numpy as np

    from .onnx import PARITY_RTOL, input_shape_of
    from .quantize import compare_onnx, convert_fp16, quantize_int8, write_trt_calibration_cache

    fp32 = sub / "model.onnx"
    out = sub / f"model.{precision}.onnx"
    if precision == "int8":
        quantize_int8(fp32, out, calib)
        images = calib.images
    else:
        convert_fp16(fp32, out)
        shape = tuple(int(d) for d in input_shape_of(fp32))
        images = np.random.default_rng(seed).standard_normal((8, *shape[1:])).astype(np.float32)
    agree = compare_onnx(out, fp32, images)
    if precision == "fp16" and not agree.max_rel <= PARITY_RTOL["fp16"]:
        raise ExportError(f"fp16 ONNX differs from fp32 by {agree.max_rel:.3g} (relative) > {PARITY_RTOL['fp16']:g}")
    fields: dict[str, Any] = {
        "precision": precision,
        "vs_fp32": {"max_abs": agree.max_abs, "max_rel": agree.max_rel, "top1_agreement": agree.top1_agreement,
                    "n_inputs": agree.n_inputs,
                    "inputs": "calibration images" if precision == "int8" else "standard-normal"},
    }
    files = {f"onnx_{precision}": f"{sub.name}/{out.name}"}
    if fmt == "onnx":  # the reduced model is what this export delivers; fp32 stays as its reference
        files = {"onnx": f"{sub.name}/{out.name}", "onnx_fp32": f"{sub.name}/model.onnx"}
    if precision == "int8" and fmt == "tensorrt":
        write_trt_calibration_cache(fp32, sub / "calibration.cache", calib)
        files["calibration_cache"] = f"{sub.name}/calibration.cache"
    return {"files": files, **fields}


def _litert_model(space: SearchSpace, cand: Candidate, dataset: Any, sub: Path, precision: str, calib: Any, *,
                  batch_size: int, seed: int, model: Any = None) -> dict[str, Any]:
    """Write ``sub/model.tflite`` (fp32, parity with torch enforced) and, for fp16 / int8, the reduced
    ``model.<precision>.tflite``; the manifest fields that describe them."""
    import numpy as np
    import torch

    from .litert import convert_litert, run_litert
    from .onnx import PARITY_RTOL, build_eval_model

    model = build_eval_model(space, cand.arch, dataset, seed=seed) if model is None else model.eval()
    shape = (batch_size, *space.dataset(dataset).input_shape)
    name = "model.tflite" if precision == "fp32" else f"model.{precision}.tflite"
    le = convert_litert(model, shape, sub / name, precision=precision, calibration=calib,
                        float_path=sub / "model.tflite" if precision != "fp32" else None)
    x = np.random.default_rng(seed).standard_normal((3 * batch_size, *shape[1:])).astype(np.float32)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy().astype(np.float64)
    got = run_litert(sub / "model.tflite", x).astype(np.float64)
    max_abs = float(np.max(np.abs(got - ref)))
    max_rel = max_abs / (float(np.max(np.abs(ref))) or 1.0)
    if not max_rel <= PARITY_RTOL["fp32"]:
        raise ExportError(f"LiteRT parity failed for {space.format(cand.arch)}: max relative error {max_rel:.3g} > "
                          f"{PARITY_RTOL['fp32']:g} (max abs {max_abs:.3g})")
    files = {"litert": f"{sub.name}/{name}"}
    out: dict[str, Any] = {
        "input_shape": list(shape),
        "parity": {"max_abs": max_abs, "max_rel": max_rel, "n_inputs": int(x.shape[0]),
                   "vs": "LiteRT fp32 (XNNPACK, CPU) vs torch-cpu"},
        "litert": {"input_dtype": le.input_dtype, "output_dtype": le.output_dtype, "size_bytes": le.size_bytes},
    }
    if precision != "fp32":
        files["litert_fp32"] = f"{sub.name}/model.tflite"
        images = calib.images if precision == "int8" else x
        a = run_litert(sub / name, images).astype(np.float64)
        b = run_litert(sub / "model.tflite", images).astype(np.float64)
        d = float(np.max(np.abs(a - b)))
        out["precision"] = precision
        out["vs_fp32"] = {"max_abs": d, "max_rel": d / (float(np.max(np.abs(b))) or 1.0),
                          "top1_agreement": float(np.mean(a.argmax(1) == b.argmax(1))), "n_inputs": int(len(images)),
                          "inputs": "calibration images" if precision == "int8" else "standard-normal"}
    out["files"] = files
    return out
