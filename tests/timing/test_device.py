"""Design, journal and resume of `edgenas profile` on a device (edgenas.timing.device)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgenas.errors import ConfigError, DeviceError
from edgenas.spaces import get_space
from edgenas.timing.device import (
    Journal,
    ProfilePlan,
    _features,
    design_archs,
    disturbed,
    profile_device,
)
from edgenas.timing.remote import DeviceSession

SPACE = get_space("nb201")
PLAN = ProfilePlan(target="board", space="nb201", dataset="cifar10", runtime="onnxruntime", runs=5, warmup=1)


def test_design_is_a_prefix_of_a_larger_design_and_well_posed():
    big = design_archs(SPACE, "cifar10", 24, seed=3)
    small = design_archs(SPACE, "cifar10", 12, seed=3)
    assert [SPACE.format(a) for a in small] == [SPACE.format(a) for a in big[:12]]
    assert len({SPACE.iso_key(a) for a in big}) == 24 and not any(SPACE.is_degenerate(a) for a in big)
    x = _features(SPACE, "cifar10", big, "onnxruntime")
    rng = np.random.default_rng(3)
    live = [a for a in (SPACE.sample(rng) for _ in range(400)) if not SPACE.is_degenerate(a)]
    xr = _features(SPACE, "cifar10", live[:24], "onnxruntime")
    full_rank = np.linalg.matrix_rank(_features(SPACE, "cifar10", live, "onnxruntime"))

    def logdet(m: np.ndarray) -> float:
        m = m / np.maximum(np.abs(m).max(axis=0), 1.0)
        return float(np.linalg.slogdet(m.T @ m + np.eye(m.shape[1]) / 100)[1])

    # the design identifies every per-op cost the space can tell apart, with more information than random archs
    assert np.linalg.matrix_rank(x) == full_rank
    assert logdet(x) > logdet(xr)
    assert design_archs(SPACE, "cifar10", 5, seed=4) != small[:5]


def test_journal_drops_a_torn_last_line_and_refuses_another_plan(tmp_path):
    path = tmp_path / "j.jsonl"
    j = Journal(path, PLAN)
    j.record_facts({"model": "m"})
    res = {"summary_ms": {"p50": 1.5}, "runtime_version": "1"}
    j.record("a", 1, res)
    j.record("b", 2, {"summary_ms": {"p50": 2.5}})
    with open(path, "a") as f:
        f.write('{"kind": "measurement", "arch": "c", "lat')  # kill -9 while writing
    j2 = Journal(path, PLAN)
    assert {k: v["latency_ms"] for k, v in j2.measurements.items()} == {"a": 1.5, "b": 2.5}
    assert j2.facts == {"model": "m"} and path.read_text().endswith("}\n")
    with pytest.raises(ConfigError, match="runs=5, not runs=6"):
        Journal(path, ProfilePlan(**{**PLAN.__dict__, "runs": 6}))


@pytest.mark.parametrize("line, match", [
    ("not json", "line 2 is not JSON"),
    ('{"kind": "other"}', "field 'kind'"),
    ('{"kind": "measurement", "arch": "a", "latency_ms": -1}', "latency_ms"),
    ('{"kind": "measurement", "arch": 3, "latency_ms": 1}', "'arch'"),
    ('{"kind": "measurement", "arch": "a", "latency_ms": 1, "reference_ratio_p50": Infinity}', "line 2 holds"),
    ('{"kind": "measurement", "arch": "a", "latency_ms": 1, "reference_ratio_p50": 1e308}', "'reference_ratio_p50'"),
    ('{"kind": "measurement", "arch": "a", "latency_ms": 1, "reference_cpu_ms_p50": "x"}', "'reference_cpu_ms_p50'"),
    ("[" * 5000 + "]" * 5000, "line 2 nests deeper"),
])
def test_journal_corruption_names_file_and_line(tmp_path, line, match):
    path = tmp_path / "j.jsonl"
    Journal(path, PLAN)
    with open(path, "a") as f:
        f.write(line + "\n")
    with pytest.raises(ConfigError, match=match):
        Journal(path, PLAN)


@pytest.mark.parametrize("bad", [dict(runtime="tflite"), dict(precision="int4"),
                                 dict(runtime="onnxruntime", precision="fp16")])
def test_bad_plans_are_refused(bad):
    with pytest.raises(ConfigError):
        ProfilePlan(**{**PLAN.__dict__, **bad})


class FakeDevice(DeviceSession):
    """Latency = a known linear function of the arch's MACs-free op counts; fails after ``fail_after`` models."""

    where = "fake-board"

    def __init__(self, fail_after: int | None = None, model: str = "Jetson Fake", kernels=None, loaded=()) -> None:
        self.timed = 0
        self.fail_after = fail_after
        self.model = model
        self.kernels = kernels
        self.loaded = set(loaded)

    def _run(self, model, runner_args, *, timeout, files=None):
        if "--facts" in runner_args:
            return {"model": self.model, "runtime": "onnxruntime", "runtime_version": "1.0", "clocks_locked": False,
                    "cpu_governor": "ondemand"}
        if self.fail_after is not None and self.timed >= self.fail_after:
            raise DeviceError("cannot reach fake-board over ssh (running the device runner): Connection reset")
        self.timed += 1
        ms = 0.5 + model.stat().st_size / 1e6  # a deterministic stand-in for latency: bigger models are slower
        res = {"summary_ms": {"p50": ms}, "runtime_version": "1.0", "host": "fake"}
        if "--reference" in runner_args:  # paired timing: the device's clock drifts by 1-3 %, ratios hold
            ref_ms = 0.5 + files["reference.onnx"].stat().st_size / 1e6
            speed = 1.0 + 0.01 * (self.timed % 3)
            loaded = self.timed in self.loaded  # another process shares the cores: the ratio is off too
            res.update({"reference_ratio": [ms / ref_ms * (0.7 if loaded else 1.0)] * 3,
                        "reference_cpu_ms": [ref_ms * (1.5 if loaded else speed)] * 3,
                        "summary_ms": {"p50": ms * speed * (1.6 if loaded else 1.0)}})
        if "--kernels" in runner_args and self.kernels is not None:
            res["kernels"] = self.kernels(model)
        return res


def test_profile_resumes_after_a_dropped_link_and_fits_a_target(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGENAS_HOME", str(tmp_path))
    dev = FakeDevice(fail_after=4)
    with pytest.raises(DeviceError):
        profile_device(SPACE, "cifar10", PLAN, dev, n_archs=9)
    journal = tmp_path / "profiles" / "board" / "nb201_cifar10.jsonl"
    assert sum('"measurement"' in ln for ln in journal.read_text().splitlines()) == 4
    dev2 = FakeDevice()
    res = profile_device(SPACE, "cifar10", PLAN, dev2, n_archs=9)
    assert (dev2.timed, res.measured_before, res.measured_now, res.fit.n_measured) == (5, 4, 5, 9)
    assert res.warnings and "not locked" in res.warnings[0]
    header = json.loads(res.fit.table.read_text().splitlines()[0][2:])
    assert header["columns"]["board"]["device_facts"]["model"] == "Jetson Fake"
    # a journal of one device refuses the timings of another
    with pytest.raises(ConfigError, match="another device"):
        profile_device(SPACE, "cifar10", PLAN, FakeDevice(model="Raspberry Pi"), n_archs=9)


def test_profile_never_replaces_a_shipped_target(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGENAS_HOME", str(tmp_path))
    with pytest.raises(ConfigError, match="shipped target"):
        profile_device(SPACE, "cifar10", ProfilePlan(**{**PLAN.__dict__, "target": "jetson-tx2"}), FakeDevice(),
                       n_archs=9)


def test_a_journal_without_timings_takes_the_new_plan(tmp_path):
    path = tmp_path / "j.jsonl"
    Journal(path, PLAN).record_facts({"model": "m"})  # e.g. the first model failed: --opset too new
    j = Journal(path, ProfilePlan(**{**PLAN.__dict__, "opset": 13}))
    assert json.loads(path.read_text().splitlines()[0])["opset"] == 13 and j.measurements == {}


def test_an_old_device_runtime_gets_the_opset_to_pass(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGENAS_HOME", str(tmp_path))

    class OldRuntime(FakeDevice):
        def _run(self, model, runner_args, *, timeout, files=None):
            if "--facts" in runner_args:
                return super()._run(model, runner_args, timeout=timeout)
            raise DeviceError("device runner failed on fake-board: onnxruntime cannot load ./model.onnx: ... Current "
                              "official support for domain ai.onnx is till opset 15.")

    with pytest.raises(DeviceError, match="expected --opset 15"):
        profile_device(SPACE, "cifar10", PLAN, OldRuntime(), n_archs=6)


@pytest.mark.parametrize("name", ["jetson", "tx2", "jetson-tx2", "cpu"])
def test_shipped_names_and_aliases_are_never_taken(tmp_path, monkeypatch, name):
    monkeypatch.setenv("EDGENAS_HOME", str(tmp_path))
    with pytest.raises(ConfigError, match="shipped target or alias"):
        profile_device(SPACE, "cifar10", ProfilePlan(**{**PLAN.__dict__, "target": name}), FakeDevice(), n_archs=6)
    assert not (tmp_path / "targets").exists()


def test_paired_timing_fits_ratios_not_the_drifting_wall_time(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGENAS_HOME", str(tmp_path))
    assert PLAN.statistic == "ref" and "--reference" in PLAN.runner_args() and "--kernels" in PLAN.runner_args()
    res = profile_device(SPACE, "cifar10", PLAN, FakeDevice(), n_archs=9)
    lines = [json.loads(ln) for ln in res.journal.read_text().splitlines()]
    rows = [r for r in lines if r["kind"] == "measurement"]
    ref = rows[0]["reference"]
    assert ref == SPACE.format(design_archs(SPACE, "cifar10", 1)[0]) and all(r["reference"] == ref for r in rows)
    keys, ms, how = Journal(res.journal, PLAN).values(ref)
    # the fake device runs 1.00x / 1.01x / 1.02x slow in turn: the ratios give its speed-free ms back
    ref_ms = float(np.median([r["reference_cpu_ms_p50"] for r in rows]))
    assert np.allclose(ms, [r["reference_ratio_p50"] * ref_ms for r in rows])
    assert not np.allclose(ms, [r["latency_ms"] for r in rows]) and res.retaken == 0
    assert how["statistic"] == "ref" and how["reference_arch"] == ref
    header = json.loads(res.fit.table.read_text().splitlines()[0][2:])
    assert header["columns"]["board"]["timing"]["statistic"] == "ref"
    # a timing paired with another reference is not comparable: it is measured again
    assert Journal(res.journal, PLAN).usable("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|") == {}


def test_statistic_choice_and_old_journals(tmp_path):
    assert ProfilePlan(**{**PLAN.__dict__, "statistic": None, "threads": 2}).statistic == "median"
    assert ProfilePlan(**{**PLAN.__dict__, "statistic": None, "runtime": "trtexec"}).statistic == "median"
    assert "--reference" not in ProfilePlan(**{**PLAN.__dict__, "statistic": "median"}).runner_args()
    for bad in (dict(statistic="p10"), dict(statistic="ref", threads=4), dict(statistic="ref", runtime="tensorrt")):
        with pytest.raises(ConfigError, match="--statistic"):
            ProfilePlan(**{**PLAN.__dict__, **bad})
    # a journal written before plans had a statistic was timed by the wall-clock median
    path = tmp_path / "j.jsonl"
    median = ProfilePlan(**{**PLAN.__dict__, "statistic": "median"})
    Journal(path, median).record("a", 1, {"summary_ms": {"p50": 1.5}})
    head = json.loads(path.read_text().splitlines()[0])
    del head["statistic"]
    path.write_text("\n".join([json.dumps(head), *path.read_text().splitlines()[1:]]) + "\n")
    assert Journal(path, median).values(None)[1].tolist() == [1.5]
    with pytest.raises(ConfigError, match="statistic='median', not statistic='ref'"):
        Journal(path, PLAN)


def test_device_kernels_this_host_cannot_reproduce_are_not_offered(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGENAS_HOME", str(tmp_path))
    calls = []

    def counter(archs, progress=None):  # this host's onnxruntime: another NCHWc block size than the device's
        calls.append(len(archs))
        return [{"Conv-k3x3-s1-g1-c8x8": 1} for _ in archs]

    dev = FakeDevice(kernels=lambda model: {"Conv-k3x3-s1-g1-c16x16": 3, "ReorderInput": 1})
    res = profile_device(SPACE, "cifar10", PLAN, dev, n_archs=9, kernel_counter=counter)
    assert "kernels" not in res.fit.cv and "kernels model not offered" in res.fit.note
    assert calls == [9]  # the measured archs only: the space is never counted
    assert all(r.get("kernels") for r in map(json.loads, res.journal.read_text().splitlines()[2:]))


def test_timings_taken_under_load_are_retaken(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGENAS_HOME", str(tmp_path))
    dev = FakeDevice(loaded={2, 5})  # the 2nd and 5th timings ran while something else loaded the device
    res = profile_device(SPACE, "cifar10", PLAN, dev, n_archs=9)
    assert res.retaken == 2 and dev.timed == 11 and not any("loaded" in w for w in res.warnings)
    jr = Journal(res.journal, PLAN)
    ref = SPACE.format(design_archs(SPACE, "cifar10", 1)[0])
    assert len(jr.usable(ref)) == 9 and disturbed(jr.usable(ref)) == []
    # a device loaded on every retake too: two passes, then a warning says what to do
    always = FakeDevice(loaded={2} | set(range(10, 100)))
    res2 = profile_device(SPACE, "cifar10", ProfilePlan(**{**PLAN.__dict__, "target": "board3"}), always, n_archs=9)
    assert res2.retaken == 2 and any("still ran while" in w for w in res2.warnings)
    # the same command again on a quiet device: nothing is missing, the disturbed timing is retaken
    quiet = FakeDevice()
    res3 = profile_device(SPACE, "cifar10", ProfilePlan(**{**PLAN.__dict__, "target": "board3"}), quiet, n_archs=9)
    assert (res3.measured_now, res3.retaken, quiet.timed) == (0, 1, 1) and not res3.warnings[1:]
