"""Profile a device: time a designed set of whole archs there, journal each timing, fit a target.

``edgenas profile --target NAME [--host USER@BOARD]`` runs :func:`profile_device`:

1. the device's facts (model, L4T / JetPack, runtime version, power mode, clocks) are read by the
   device runner; a missing runtime stops here, before any model is built;
2. :func:`design_archs` picks the archs: a greedy D-optimal design over the per-op count features
   the latency fit uses (each pick adds the most information about the op costs still uncertain),
   from a fixed, seeded pool of live archs, so the design for n archs is the first n of the design
   for more, and a larger ``--archs`` later measures only the new ones;
3. each arch is built here (ONNX, batch 1), copied to the device, timed by the runner and its
   timing appended to the journal at once. On onnxruntime with 1 thread (statistic ``ref``) every
   timed run is paired with a run of a reference arch (the design's first), and the value fitted is
   the median ratio of their thread CPU times times the reference's median over the profile: a
   host whose speed drifts by 10-30 % (shared VMs, thermal throttling) moves such ratios far less
   than absolute times; a timing whose reference ran more than 10 % off its median (something else loaded the
   device) is retaken after the others. onnxruntime also reports the kernels of its optimized
   graph (the ``kernels`` model). The journal
   (``$EDGENAS_HOME/profiles/<target>/<space>_<dataset>.jsonl``) holds one JSON line per
   measurement, fsynced; the same command again measures only what is missing;
4. the journal's timings are fitted by :func:`edgenas.hardware.fewshot.fit_target` (model chosen by
   cross-validation on the measured archs) into a user target with the device facts in its header.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._paths import user_profiles_dir
from .._version import __version__
from ..errors import ConfigError, DeviceError
from ..spaces import Arch, SearchSpace
from .remote import DeviceSession

if TYPE_CHECKING:  # pragma: no cover
    from ..hardware.fewshot import KernelCounter

__all__ = ["DEFAULT_PROFILE_ARCHS", "DEVICE_RUNTIMES", "Journal", "ProfilePlan", "ProfileDeviceResult",
           "design_archs", "disturbed", "profile_device", "table_runtime"]

log = logging.getLogger(__name__)

#: archs timed by default (the few-shot fit is usable from 10-20; more tighten its cross-validated error)
DEFAULT_PROFILE_ARCHS = 30
#: what times the models on the device (device runner ``--runtime``)
DEVICE_RUNTIMES = ("onnxruntime", "tensorrt", "trtexec", "litert")
PRECISIONS = ("fp32", "fp16", "int8")
#: candidates the design chooses from (fixed, so designs of different sizes are prefixes of each other)
DESIGN_POOL = 3000
JOURNAL_SCHEMA = 1
#: ONNX opsets the exporter writes (older runtimes read only older opsets: onnxruntime 1.10 up to 15)
MIN_OPSET, MAX_OPSET = 11, 20

#: name of the int8 calibration inputs beside the runner on the device
CALIBRATION_FILE = "calibration.npy"
#: name of the paired-timing reference model beside the runner on the device
REFERENCE_FILE = "reference.onnx"
#: what a device profile fits: ``ref`` (paired thread CPU time, onnxruntime with 1 thread) or ``median`` (wall)
STATISTICS = ("ref", "median")
#: a paired timing whose reference ran more than this share off its median over the profile was taken
#: while something else loaded the device (the ratio then moves too: the two models share caches and
#: cores unevenly): it is retaken, in up to RETAKE_PASSES passes after all archs are timed
RETAKE_TOLERANCE = 0.10
RETAKE_PASSES = 2
#: plan fields added after journals were first written, with the value those journals were made with
_PLAN_LEGACY = {"statistic": "median"}

#: callback(stage, done, total, label)
Progress = Callable[[str, int, int, str], None]


def table_runtime(runtime: str) -> str:
    """The target runtime (``edgenas.hardware.targets.RUNTIMES``) of a device runner runtime (trtexec and
    the TensorRT Python API are both ``tensorrt``); a target runtime is returned as is."""
    return {"trtexec": "tensorrt", "litert": "tflite"}.get(runtime, runtime)


@dataclass(frozen=True)
class ProfilePlan:
    """What is measured and how: a journal belongs to one plan (``--archs`` may grow between runs)."""

    target: str
    space: str
    dataset: str
    runtime: str
    precision: str = "fp32"
    runs: int = 60
    warmup: int = 10
    threads: int = 1
    seed: int = 0
    opset: int = 17
    #: SHA-256 of the int8 calibration inputs (int8 only): another calibration set is another plan
    calibration_sha256: str | None = None
    #: value fitted (:data:`STATISTICS`); None: ``ref`` on onnxruntime with 1 thread, else ``median``
    statistic: str | None = None

    def __post_init__(self) -> None:
        if self.statistic is None:
            paired = self.runtime == "onnxruntime" and self.threads == 1
            object.__setattr__(self, "statistic", "ref" if paired else "median")
        if self.statistic not in STATISTICS:
            raise ConfigError(f"--statistic {self.statistic!r} is unknown for a device profile; expected one of "
                              f"{', '.join(STATISTICS)}")
        if self.statistic == "ref" and (self.runtime != "onnxruntime" or self.threads != 1):
            raise ConfigError(f"--statistic ref pairs thread CPU times: it needs --runtime onnxruntime and --threads 1 "
                              f"(got {self.runtime}, {self.threads} threads); expected --statistic median")
        if not MIN_OPSET <= self.opset <= MAX_OPSET:
            raise ConfigError(f"--opset {self.opset} is out of range; expected {MIN_OPSET}..{MAX_OPSET}")
        if self.runtime not in DEVICE_RUNTIMES:
            raise ConfigError(f"--runtime {self.runtime!r} is unknown; expected one of {', '.join(DEVICE_RUNTIMES)}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"--precision {self.precision!r} is unknown; expected one of {', '.join(PRECISIONS)}")
        if self.precision == "int8" and (self.runtime not in ("tensorrt", "litert") or not self.calibration_sha256):
            raise ConfigError("--precision int8 needs --runtime tensorrt or litert and --calibration-data FILE.npy "
                              "(real inputs): an uncalibrated int8 model times a network nobody checked")
        if self.runtime == "onnxruntime" and self.precision != "fp32":
            raise ConfigError(f"--precision {self.precision} needs --runtime tensorrt or trtexec; onnxruntime (CPU) "
                              "times the fp32 model")

    def runner_args(self) -> list[str]:
        if self.runtime == "litert":  # the .tflite made here holds its precision (int8 calibrated here too)
            return ["--runtime", "litert", "--runs", str(self.runs), "--warmup", str(self.warmup),
                    "--threads", str(self.threads), "--seed", str(self.seed)]
        cal = ["--calibration-data", CALIBRATION_FILE] if self.calibration_sha256 else []
        ref = ["--reference", REFERENCE_FILE] if self.statistic == "ref" else []
        kernels = ["--kernels"] if self.runtime == "onnxruntime" else []
        return ["--runtime", self.runtime, "--runs", str(self.runs), "--warmup", str(self.warmup),
                "--threads", str(self.threads), "--precision", self.precision, "--seed", str(self.seed), *cal, *ref,
                *kernels]


@dataclass(frozen=True)
class ProfileDeviceResult:
    """A finished profile: the journal, what this call measured, the device facts and the fit."""

    journal: Path
    measured_now: int
    measured_before: int
    facts: dict[str, Any]
    fit: Any  # edgenas.hardware.fewshot.FitResult
    warnings: tuple[str, ...]
    seconds: float
    #: timings taken again because the device was loaded while they ran (see :func:`disturbed`)
    retaken: int = 0


def _features(space: SearchSpace, dataset: str, archs: Sequence[Arch], runtime: str) -> np.ndarray:
    from ..hardware._graph import keys_node_reads, prunes_dead_layers
    from ..hardware.fit import feature_matrix

    rt = table_runtime(runtime)
    x, _ = feature_matrix(space, archs, dataset, key="shape", prune=prunes_dead_layers(rt), reads=keys_node_reads(rt))
    return np.hstack([x, np.ones((len(archs), 1))])


def design_archs(space: SearchSpace, dataset: str, n: int, *, seed: int = 0, runtime: str = "onnxruntime",
                 pool: int = DESIGN_POOL) -> list[Arch]:
    """``n`` live archs chosen greedily for the per-op latency fit (D-optimal), from a seeded pool.

    Each step takes the pool arch with the largest leverage ``x^T (X^T X + I/100)^-1 x`` under the
    archs already chosen (the one the current fit is least sure about), the first pick being the
    pool's first arch; ties go to the earlier pool arch. The pool is fixed by ``seed``, so
    ``design_archs(n)`` is the first n of ``design_archs(m)`` for m > n. ``runtime``: a device runner
    runtime or a target runtime (it decides which layers the fit counts).
    """
    if n < 1:
        raise ConfigError(f"--archs {n}: expected at least 1")
    rng = np.random.default_rng(seed)
    seen: set[str] = set()
    cands: list[Arch] = []
    tries = 0
    while len(cands) < pool and tries < 20 * pool:
        tries += 1
        a = space.sample(rng)
        key = space.iso_key(a)
        if key in seen or space.is_degenerate(a):
            continue
        seen.add(key)
        cands.append(a)
    if len(cands) < n:
        raise ConfigError(f"--archs {n}: the space {space.name!r} has only {len(cands)} distinct live archs to time")
    x = _features(space, dataset, cands, runtime)
    x = x / np.maximum(np.abs(x).max(axis=0), 1.0)  # keys on one scale: counts per arch vary by key
    inv = np.eye(x.shape[1]) * 100.0  # (X^T X + I/100)^-1 of no archs
    chosen: list[int] = []
    free = np.ones(len(cands), dtype=bool)
    for step in range(n):
        if step == 0:
            i = 0
        else:
            lev = np.einsum("ij,jk,ik->i", x, inv, x)
            lev[~free] = -np.inf
            i = int(np.argmax(lev))
        v = inv @ x[i]
        inv -= np.outer(v, v) / (1.0 + x[i] @ v)  # Sherman-Morrison: add arch i
        free[i] = False
        chosen.append(i)
    return [cands[i] for i in chosen]


class Journal:
    """Append-only JSON-lines record of one profile: a plan line, a facts line, one line per timing.

    A torn last line (the process killed while writing it) is dropped; any other bad line is an
    error naming the file and line. Every line is flushed and fsynced before the next model.
    """

    def __init__(self, path: Path, plan: ProfilePlan) -> None:
        self.path = Path(path)
        self.plan = plan
        self.facts: dict[str, Any] | None = None
        self.measurements: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            self._load()
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._append({"kind": "plan", "schema_version": JOURNAL_SCHEMA, "made_by": f"edgenas {__version__}",
                          **asdict(plan)})

    def _load(self) -> None:
        from .._read import decode_text, parse_json, read_bytes

        where = repr(str(self.path))
        raw = read_bytes(self.path, what="profile journal")
        good = raw.rfind(b"\n") + 1  # a last line without its newline was being written: drop it
        if good < len(raw):
            log.warning("%s: dropped a torn last line (interrupted write)", self.path)
            with open(self.path, "r+b") as f:
                f.truncate(good)
        lines = decode_text(raw[:good], where=where, what="profile journal").splitlines()
        if not lines:
            raise ConfigError(f"profile journal {str(self.path)!r} is empty; delete it to start over")
        records = []
        for n, line in enumerate(lines, 1):
            try:
                rec = parse_json(line, where=f"{where} line {n}", what="profile journal")
            except ConfigError as exc:
                raise ConfigError(f"{exc.message} (one JSON object per line; delete the journal to start "
                                  "over)") from None
            if not isinstance(rec, dict) or rec.get("kind") not in ("plan", "facts", "measurement"):
                raise ConfigError(f"profile journal {str(self.path)!r} line {n}: field 'kind' must be plan, facts or "
                                  "measurement")
            records.append((n, rec))
        n, head = records[0]
        if head["kind"] != "plan" or head.get("schema_version") != JOURNAL_SCHEMA:
            raise ConfigError(f"profile journal {str(self.path)!r} line 1: expected a plan line of schema "
                              f"{JOURNAL_SCHEMA}")
        want = asdict(self.plan)
        diff = [k for k in want if head.get(k, _PLAN_LEGACY.get(k)) != want[k]]
        if diff and not any(rec["kind"] == "measurement" for _, rec in records):
            # nothing measured under the old plan (e.g. it failed at the first model): start the new one
            self.path.unlink()
            self._append({"kind": "plan", "schema_version": JOURNAL_SCHEMA, "made_by": f"edgenas {__version__}",
                          **want})
            return
        if diff:
            was = ", ".join(f"{k}={head.get(k, _PLAN_LEGACY.get(k))!r}" for k in diff)
            now = ", ".join(f"{k}={want[k]!r}" for k in diff)
            raise ConfigError(f"profile journal {str(self.path)!r} was started with {was}, not {now}; expected the "
                              "same options to resume it (or delete it to start over)")
        for n, rec in records[1:]:
            if rec["kind"] == "facts":
                self.facts = rec.get("facts") if isinstance(rec.get("facts"), dict) else None
                continue
            if rec["kind"] != "measurement":
                raise ConfigError(f"profile journal {str(self.path)!r} line {n}: a second plan line")
            arch, ms = rec.get("arch"), rec.get("latency_ms")
            if not isinstance(arch, str) or not isinstance(ms, (int, float)) or not (0 < ms < 1e6):
                raise ConfigError(f"profile journal {str(self.path)!r} line {n}: fields 'arch' (a string) and "
                                  f"'latency_ms' (0 < ms < 1e6) expected, got {arch!r} / {ms!r}")
            for k in ("reference_ratio_p50", "reference_cpu_ms_p50"):
                v = rec.get(k)
                if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not 1e-6 < v < 1e6):
                    raise ConfigError(f"profile journal {str(self.path)!r} line {n}: field {k!r} is {v!r}; expected a "
                                      "number in 1e-06..1e+06 (or none)")
            self.measurements[arch] = rec

    def _append(self, rec: dict[str, Any]) -> None:
        line = json.dumps(rec, sort_keys=True, allow_nan=False) + "\n"
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def record_facts(self, facts: dict[str, Any]) -> None:
        self._append({"kind": "facts", "facts": facts, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        if self.facts is None:
            self.facts = facts

    def record(self, arch: str, index: int | None, result: dict[str, Any], *, reference: str | None = None) -> None:
        """Append one runner result; ``reference``: the arch it was paired with (statistic ``ref``)."""
        rec = {"kind": "measurement", "arch": arch, "index": index, "latency_ms": float(result["summary_ms"]["p50"]),
               "summary_ms": result["summary_ms"], "runtime_version": result.get("runtime_version"),
               "host": result.get("host"), "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        if reference is not None and result.get("reference_ratio"):
            rec.update({"reference": reference,
                        "reference_ratio_p50": float(np.median(result["reference_ratio"])),
                        "reference_cpu_ms_p50": float(np.median(result["reference_cpu_ms"]))})
        if isinstance(result.get("kernels"), dict):
            rec["kernels"] = {str(k): int(v) for k, v in result["kernels"].items()}
        self._append(rec)
        self.measurements[arch] = rec

    def usable(self, reference: str | None) -> dict[str, dict[str, Any]]:
        """The measurements the plan's statistic can use: with ``ref``, those paired with ``reference``
        (a timing paired with another arch, or unpaired, is measured again)."""
        if self.plan.statistic != "ref":
            return dict(self.measurements)
        return {k: m for k, m in self.measurements.items()
                if m.get("reference") == reference and isinstance(m.get("reference_ratio_p50"), (int, float))
                and isinstance(m.get("reference_cpu_ms_p50"), (int, float)) and m["reference_cpu_ms_p50"] > 0
                and m["reference_ratio_p50"] > 0}

    def values(self, reference: str | None) -> tuple[list[str], np.ndarray, dict[str, Any]]:
        """(arch strings, ms to fit, how the ms were made) of :meth:`usable` measurements.

        ``ref``: each arch's median CPU-time ratio to the reference times the reference's median CPU
        time over the whole profile (one scale for all archs); ``median``: the wall-clock median.
        """
        use = self.usable(reference)
        keys = list(use)
        if self.plan.statistic != "ref":
            return keys, np.array([use[k]["latency_ms"] for k in keys], dtype=np.float64), {"statistic": "median"}
        ref_ms = float(np.median([use[k]["reference_cpu_ms_p50"] for k in keys])) if keys else float("nan")
        ms = np.array([use[k]["reference_ratio_p50"] * ref_ms for k in keys], dtype=np.float64)
        how = {"statistic": "ref", "reference_arch": reference, "reference_ms": round(ref_ms, 6),
               "what": "thread CPU time as a ratio to the reference arch timed right after every run (median over "
                       "runs), times the reference's median CPU time over the profile"}
        return keys, ms, how


def disturbed(measurements: dict[str, dict[str, Any]], tolerance: float = RETAKE_TOLERANCE) -> list[str]:
    """Archs (journal keys) of paired timings whose reference's CPU time is more than ``tolerance``
    off the median over ``measurements`` (a :meth:`Journal.usable` mapping); [] with fewer than 5."""
    if len(measurements) < 5:
        return []
    ref = {k: float(m["reference_cpu_ms_p50"]) for k, m in measurements.items()}
    med = float(np.median(list(ref.values())))
    return [k for k, v in ref.items() if abs(v / med - 1.0) > tolerance]


def _same_device(before: dict[str, Any], now: dict[str, Any]) -> list[str]:
    keys = ("model", "cpu_model", "machine", "runtime", "runtime_version", "nvpmodel")
    return [k for k in keys if before.get(k) != now.get(k)]


def clock_warning(facts: dict[str, Any], where: str) -> str | None:
    """One warning when the device's clocks are not pinned (None when pinned or not knowable)."""
    if facts.get("clocks_locked") is not False:
        return None
    hint = ("sudo nvpmodel -m 0 && sudo jetson_clocks" if facts.get("l4t")
            else "set the CPU governor to 'performance' (cpupower frequency-set -g performance)")
    gov = facts.get("cpu_governor")
    return (f"clocks on {where} are not locked{f' (governor {gov})' if gov else ''}: timings drift with "
            f"temperature and load; run {hint} before profiling")


def _model_bytes(space: SearchSpace, arch: Arch, dataset: str, opset: int) -> bytes:
    # the torch export `edgenas export` ships (not a space's hand-written kernel-detection graph):
    # compilers such as TensorRT see the same graph the user will deploy
    from ..hardware.kernels import export_onnx_bytes

    return export_onnx_bytes(space.build_model(arch, dataset), (1, *space.dataset(dataset).input_shape), opset)


def _litert_bytes(space: SearchSpace, arch: Arch, dataset: str, precision: str, calibration: Any) -> bytes:
    """``arch`` as the ``.tflite`` `edgenas export --format litert` writes (fresh weights, seed 0)."""
    from ..export.litert import convert_litert
    from ..export.onnx import build_eval_model

    with tempfile.TemporaryDirectory(prefix="edgenas-litert-") as tmp:
        path = Path(tmp) / "model.tflite"
        convert_litert(build_eval_model(space, arch, dataset), (1, *space.dataset(dataset).input_shape), path,
                       precision=precision, calibration=calibration)
        return path.read_bytes()


def _made_by(target: str, source: str) -> bool:
    """Whether the user target ``target`` was made from ``source`` (this profile's journal)."""
    from .._paths import user_targets_dir
    from .._read import load_yaml
    from ..errors import EdgeNASError

    path = user_targets_dir() / f"{target}.yaml"
    if not path.exists():
        return False
    try:
        doc = load_yaml(path, what="target file")
    except EdgeNASError:
        return False
    return isinstance(doc, dict) and source in str(doc.get("provenance") or "")


def journal_path(target: str, space: str, dataset: str) -> Path:
    """Where the profile of ``target`` on ``space`` / ``dataset`` is journaled."""
    return user_profiles_dir() / target / f"{space}_{dataset}.jsonl"


def check_calibration_data(path: Path, space: SearchSpace, dataset: str) -> str:
    """SHA-256 of the int8 calibration inputs in ``path`` after checking them against the dataset's input.

    Raises:
        ConfigError: unreadable, not a finite float (N, C, H, W) array of the dataset's image shape.
    """
    import hashlib

    shape = tuple(space.dataset(dataset).input_shape)
    try:
        raw = Path(path).read_bytes()
        x = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--calibration-data {str(path)!r} is not a readable .npy array ({exc})") from None
    if x.ndim != 4 or tuple(x.shape[1:]) != shape or not 1 <= x.shape[0] <= 100_000:
        raise ConfigError(f"--calibration-data {str(path)!r} has shape {tuple(x.shape)}; expected (N, "
                          f"{', '.join(map(str, shape))}) with 1 <= N <= 100000 for {space.name}/{dataset}")
    if not np.issubdtype(x.dtype, np.floating) or not np.all(np.isfinite(x)):
        raise ConfigError(f"--calibration-data {str(path)!r} holds {x.dtype} values; expected finite floats "
                          "(preprocessed as for inference)")
    return hashlib.sha256(raw).hexdigest()


def profile_device(space: SearchSpace, dataset: str, plan: ProfilePlan, session: DeviceSession, *, n_archs: int,
                   device: str | None = None, force: bool = False, progress: Progress | None = None,
                   journal: Path | None = None, calibration: Path | None = None, kernel_model: bool = True,
                   kernel_counter: KernelCounter | None = None) -> ProfileDeviceResult:
    """Time ``n_archs`` designed archs on ``session``'s device (resuming the journal) and fit the target.

    ``kernel_model``: offer the ``kernels`` model to the fit when the device reported kernel counts
    (onnxruntime) and this host reproduces them; when cross-validation picks it, every arch of the
    space is counted here (NB201: ~3 min on 2 cores). ``kernel_counter``: that counter (tests; default
    :func:`edgenas.hardware.fewshot.host_kernel_counter`).

    Raises:
        ConfigError: bad plan, a journal of another plan or device, a shipped target name.
        DeviceError: the device cannot be reached, lacks the runtime, or its disk is full (the
            journal keeps every timing that arrived).
    """
    from ..hardware.fewshot import fit_target

    t0 = time.perf_counter()
    from ..hardware.targets import is_shipped_name

    if is_shipped_name(plan.target):
        raise ConfigError(f"target {plan.target!r} is a shipped target or alias; expected a new name for your device "
                          "(shipped tables are never replaced)",
                          hint=f"e.g. edgenas profile --target my-{plan.target} --host USER@BOARD --runtime "
                               f"{'tensorrt' if plan.runtime == 'onnxruntime' else plan.runtime}")
    if plan.calibration_sha256 and (calibration is None
                                    or check_calibration_data(calibration, space, dataset) != plan.calibration_sha256):
        raise ConfigError("the plan's int8 calibration data is missing or changed; expected the file it was made with")
    on_litert = plan.runtime == "litert"
    if on_litert:  # the models are converted here: a missing converter stops before the device is touched
        from ..export.litert import _quantizer, load_converter

        load_converter()
        if plan.precision != "fp32":
            _quantizer()
    files = {CALIBRATION_FILE: Path(calibration)} if plan.calibration_sha256 and calibration and not on_litert else {}
    litert_cal = None
    if on_litert and plan.precision == "int8" and calibration is not None:
        from ..export.quantize import CalibrationSet

        litert_cal = CalibrationSet(np.load(calibration, allow_pickle=False).astype(np.float32), str(calibration),
                                    0, plan.calibration_sha256 or "")
    facts = session.facts(plan.runner_args())  # a missing runtime fails here, before any model is built
    path = journal or journal_path(plan.target, space.name, dataset)
    jr = Journal(path, plan)
    if jr.facts is not None:
        diff = _same_device(jr.facts, facts)
        if diff:
            was = ", ".join(f"{k}={jr.facts.get(k)!r}" for k in diff)
            now = ", ".join(f"{k}={facts.get(k)!r}" for k in diff)
            raise ConfigError(f"profile journal {str(path)!r} holds timings of another device or runtime ({was}; "
                              f"now {now}); expected the same device, or another --target name")
    jr.record_facts(facts)
    warnings = tuple(w for w in [clock_warning(facts, session.where)] if w)
    archs = design_archs(space, dataset, n_archs, seed=plan.seed, runtime=plan.runtime)
    # the reference is the design's first arch whatever --archs is, so a grown profile keeps its scale
    reference = space.format(archs[0]) if plan.statistic == "ref" else None
    done = jr.usable(reference)
    before = sum(space.format(a) in done for a in archs)
    todo = [a for a in archs if space.format(a) not in done]
    if progress:
        progress("timing", before, len(archs), "")
    with tempfile.TemporaryDirectory(prefix="edgenas-profile-") as tmp:
        if reference is not None:  # also with nothing missing: disturbed timings are retaken below
            ref_model = Path(tmp) / REFERENCE_FILE
            ref_model.write_bytes(_model_bytes(space, archs[0], dataset, plan.opset))
            files[REFERENCE_FILE] = ref_model
        def time_one(a: Arch) -> None:
            name = space.format(a)
            if on_litert:  # converted here (litert-torch); the device needs only the interpreter
                model = Path(tmp) / "model.tflite"
                model.write_bytes(_litert_bytes(space, a, dataset, plan.precision, litert_cal))
            else:
                model = Path(tmp) / "model.onnx"
                model.write_bytes(_model_bytes(space, a, dataset, plan.opset))
            try:
                res = session.time_model(model, plan.runner_args(), files=files)
            except DeviceError as exc:
                m = re.search(r"support for domain ai\.onnx is till opset (\d+)", exc.message)
                if m:  # the device's runtime is older than the exported opset: say what to pass
                    raise DeviceError(f"{session.where}: its {plan.runtime} reads ONNX opsets up to {m.group(1)}, "
                                      f"the models are opset {plan.opset}; expected --opset {m.group(1)}") from None
                raise
            if not isinstance(res.get("summary_ms"), dict) or not 0 < float(res["summary_ms"].get("p50", 0)) < 1e6:
                raise ConfigError(f"device runner on {session.where} returned no usable timing for {name}")
            if reference is not None and not (res.get("reference_ratio") and res.get("reference_cpu_ms")):
                raise ConfigError(f"device runner on {session.where} returned no paired timing for {name}; expected "
                                  "reference_ratio (statistic ref)")
            jr.record(name, space.index(a), res, reference=reference)

        for i, a in enumerate(todo):
            time_one(a)
            if progress:
                progress("timing", before + i + 1, len(archs), space.format(a))
        retaken = 0
        wanted = {space.format(a): a for a in archs}
        for _ in range(RETAKE_PASSES if reference is not None else 0):
            again = [wanted[k] for k in disturbed(jr.usable(reference)) if k in wanted]
            for i, a in enumerate(again):
                time_one(a)
                retaken += 1
                if progress:
                    progress("retaking timings disturbed by load", i + 1, len(again), space.format(a))
            if not again:
                break
    keys, ms, how = jr.values(reference)
    measured = [space.parse(k) for k in keys]
    use = jr.usable(reference)
    kernels = {k: use[k]["kernels"] for k in keys if isinstance(use[k].get("kernels"), dict)} or None
    source = f"edgenas profile ({path.name})"
    force = force or _made_by(plan.target, source)  # refitting its own target is what a resumed profile does
    label = device or facts.get("model") or facts.get("cpu_model") or session.where
    tick = (lambda done, total: progress("kernel counts of every arch", done, total, "")) if progress else None
    fit = fit_target(space, dataset, measured, ms, name=plan.target, device=str(label),
                     runtime=table_runtime(plan.runtime), source=source, force=force,
                     seed=plan.seed, facts={**facts, "precision": plan.precision, "device_runtime": plan.runtime},
                     kernels=kernels if kernel_model else None, kernel_counter=kernel_counter, progress=tick,
                     extra_meta={"timing": {**how, "threads": plan.threads, "runs": plan.runs}})
    left = len(disturbed(jr.usable(reference))) if reference is not None else 0
    if left:
        warnings += (f"{left} of {len(keys)} paired timings still ran while {session.where} was loaded (their "
                     f"reference ran more than {100 * RETAKE_TOLERANCE:.0f} % off its median); run the same command "
                     "again on a quieter device to retake them",)
    return ProfileDeviceResult(path, len(todo), before, facts, fit, warnings, time.perf_counter() - t0, retaken)
