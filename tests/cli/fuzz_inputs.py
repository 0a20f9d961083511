"""Bad-input generators for the CLI fuzz suite (hypothesis strategies) and the one invariant.

Every generated case is *invalid by construction* (at least one argument or file is garbage), so
the one correct outcome is a clear error: exit code 2 and one ``error: ...`` line on stderr. A
traceback (any exception other than SystemExit) or exit 0 (silently accepted garbage) is a failure.
Used by ``tests/cli/test_fuzz.py`` (a quick profile in CI) and ``tools/fuzz_cli.py`` (10,000 inputs).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import strategies as st

VALID_ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
NASTY = ["", " ", "-", "--", "-x", "²", "①", "٣", "１２", "9" * 40, "-1", "1e309", "nan", "inf", "-inf", "0x10",
         "\x00", "\u202e", "é", "../..", "/", "/dev/null", "a=b=c", "=", "jetson=", "=5", "\n", "0", "15625",
         "|none~0|", "|nor_conv_3x3~0|+|", VALID_ARCH.replace("~2", "~3"), VALID_ARCH.replace("3x3", "5x5"),
         VALID_ARCH + "|", VALID_ARCH.upper()]


def _is_valid_index(text: str) -> bool:
    try:
        return 0 <= int(text) < 15625 and text.strip() == text and text.isascii()
    except ValueError:
        return False


def _is_int_in(text: str, lo: int, hi: int) -> bool:
    """True if the CLI would take ``text`` as an integer option in lo..hi (click uses ``int()``,
    which also takes ' 5', '+5' and other scripts' digits)."""
    try:
        return lo <= int(text) <= hi
    except ValueError:
        return False


def _is_number_in(text: str, lo: float, hi: float) -> bool:
    try:
        v = float(text)
    except ValueError:
        return False
    return math.isfinite(v) and lo <= v <= hi


junk = st.one_of(st.sampled_from(NASTY), st.text(max_size=40),
                 st.integers(min_value=-(10**40), max_value=10**40).map(str),
                 st.floats(allow_nan=True, allow_infinity=True).map(repr))
bad_arch = junk.filter(lambda t: not _is_valid_index(t) and t != VALID_ARCH and not t.startswith("-"))
bad_target = junk.filter(lambda t: t.strip() != "" and not t.startswith("-")).filter(
    lambda t: t.lower() not in {"jetson", "cpu", "raspi4", "pixel3", "edgetpu"})
#: a budget is valid in (0, 1e6] (edgenas._limits.BUDGET_BOUNDS); tiny ones are refused as infeasible
bad_budget = junk.filter(lambda t: not _is_number_in(t, 1e-9, 1e6) and "=" not in t.strip("=")[1:-1])
bad_count = junk.filter(lambda t: not _is_int_in(t, 1, 10**6))


@dataclass
class Case:
    """One CLI invocation: arguments, files to create under the case folder, extra environment."""

    args: list[str]
    files: dict[str, bytes] = field(default_factory=dict)
    what: str = ""

    def __repr__(self) -> str:  # failure reports: the arguments and a short view of each file
        files = {k: (v[:120] + b"..." if len(v) > 120 else v) for k, v in self.files.items()}
        return f"Case({self.what!r}, args={self.args!r}, files={files!r})"


@st.composite
def arch_show(draw) -> Case:
    return Case(["arch", "show", draw(bad_arch)], what="arch show")


@st.composite
def cost_archs(draw) -> Case:
    return Case(["cost", draw(bad_arch), "--target", "jetson"], what="cost arch")


@st.composite
def cost_target(draw) -> Case:
    return Case(["cost", "0", "--target", draw(bad_target)], what="cost target")


@st.composite
def archs_file(draw) -> Case:
    body = draw(st.one_of(st.binary(min_size=1, max_size=200),
                          st.lists(bad_arch, min_size=1, max_size=4).map(lambda x: "\n".join(x).encode("utf-8", "surrogatepass"))))
    body = body if body.strip(b" \n#") else b"\xff\xfe"
    if _all_valid(body):  # a file of valid archs is not bad input
        body += b"\nnot-an-arch"
    return Case(["cost", "--archs-file", "{dir}/archs.txt", "--target", "jetson"], {"archs.txt": body}, "archs file")


def _all_valid(body: bytes) -> bool:
    try:
        lines = [ln.split("#", 1)[0].strip() for ln in body.decode("utf-8").splitlines()]
    except UnicodeDecodeError:
        return False
    lines = [ln for ln in lines if ln]
    return bool(lines) and all(_is_valid_index(ln) or ln == VALID_ARCH for ln in lines)


@st.composite
def search_option(draw) -> Case:
    opt, value = draw(st.one_of(
        st.tuples(st.just("--max-latency-ms"), bad_budget),
        st.tuples(st.just("--evaluations"), bad_count),
        st.tuples(st.just("--population"), bad_count),
        st.tuples(st.just("--seed"), junk.filter(lambda t: not _is_int_in(t, 0, 2**63 - 1))),
        st.tuples(st.just("--workers"), junk.filter(lambda t: not _is_int_in(t, 0, 256))),
        st.tuples(st.just("--batch-size"), junk.filter(lambda t: not _is_int_in(t, 2, 4096))),
        st.tuples(st.just("--max-params-m"), bad_budget),
        st.tuples(st.just("--max-macs-m"), bad_budget),
        st.tuples(st.just("--proxy-resolution"), junk.filter(lambda t: not _is_int_in(t, 8, 1024))),
        st.tuples(st.just("--noise-seeds"), junk.filter(lambda t: not _is_int_in(t, 0, 10))),
        st.tuples(st.just("--pick-top-share"), junk.filter(lambda t: not _is_number_in(t, 0, 1))),
        st.tuples(st.just("--space"), bad_target), st.tuples(st.just("--dataset"), bad_target),
        st.tuples(st.just("--proxy"), bad_target), st.tuples(st.just("--target"), bad_target),
    ))
    value = value if value.strip() else "\x00"
    # one in-process worker unless --workers is under test: a bad budget is found after the pool starts
    workers = [] if opt == "--workers" else ["--workers", "1"]
    return Case(["search", "--target", "jetson", *workers, opt, value, "--out", "{dir}/run"], what=f"search {opt}")


_YAML_KEYS = ["name", "device", "runtime", "batch_size", "threads", "aliases", "precision", "tables", "provenance"]
yaml_scalar = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=True),
                        st.text(max_size=12), st.just(".nan"), st.just("-1"))
yaml_value = st.recursive(yaml_scalar, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                              st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                          max_leaves=6)


@st.composite
def target_yaml(draw) -> Case:
    """A user target file with at least one bad field (or not YAML at all)."""
    import yaml

    kind = draw(st.sampled_from(["field", "binary", "anchors", "duplicate"]))
    if kind == "binary":
        body = draw(st.binary(min_size=1, max_size=100)) + b"\x00"
    elif kind == "anchors":
        body = b"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n" \
               b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n" \
               b"name: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
    elif kind == "duplicate":
        body = b"name: mine\nname: mine\ndevice: d\nruntime: onnxruntime\n"
    else:
        doc = {"name": "mine", "device": "my board", "runtime": "onnxruntime"}
        key = draw(st.sampled_from(_YAML_KEYS))
        bad = draw(yaml_value.filter(lambda v: not _ok_target_value(key, v)))
        doc[key] = bad
        body = yaml.safe_dump(doc, allow_unicode=True).encode()
    return Case(["targets"], {"home/targets/mine.yaml": body}, f"target yaml {kind}")


def _ok_target_value(key: str, v: object) -> bool:
    if key == "name":
        return v == "mine"
    if key == "device":
        return isinstance(v, str) and bool(v.strip())
    if key == "provenance":
        return v is None or (isinstance(v, (str, int, float)) and not isinstance(v, bool))
    if key == "runtime":
        return v in ("tensorrt", "onnxruntime", "tflite", "tflite-edgetpu", "pytorch", "unknown")
    if key in ("batch_size", "threads"):
        return v is None or (isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 1024)
    if key == "aliases":
        return v is None or (isinstance(v, list) and all(isinstance(a, str) and a.strip() == a and a for a in v)
                             and len(v) == len(set(v)) and "mine" not in v)
    if key == "precision":
        return v is None or v in ("fp32", "fp16", "int8")
    if key == "tables":
        return v is None or v == {}
    return False


@st.composite
def latency_table(draw) -> Case:
    """A user target whose per-arch table has one bad cell or a bad shape."""
    n = 15625
    bad = draw(st.one_of(st.sampled_from(["0", "-1", "inf", "nan", "1e400", "", "x", "１", "1e30", "0x1"]),
                         st.text(max_size=6).filter(lambda t: not _is_number_in(t, 1e-6, 1e6))))
    kind = draw(st.sampled_from(["cell", "extra_rows", "header", "meta"]))
    rows = [f"{i},{1.0 + i / n:.6f}" for i in range(n)]
    at = draw(st.integers(0, n - 1))
    if kind == "cell":
        rows[at] = f"{at},{bad}"
    elif kind == "extra_rows":
        rows.append(f"{n + draw(st.integers(0, 10**6))},1.0")
    header = "index,latency_ms" if kind != "header" else draw(st.sampled_from(["idx,latency_ms", "index", "", "index,index"]))
    meta = {"schema_version": 1, "kind": "arch_latency", "space": "nb201", "dataset": "cifar10", "units": "ms",
            "rows": len(rows), "columns": {"latency_ms": {"device": "d", "runtime": "onnxruntime", "precision": "fp32",
                                                          "batch": 1}}, "source": "fuzz", "license": "CC0"}
    if kind == "meta":
        key = draw(st.sampled_from(sorted(meta)))
        meta[key] = draw(yaml_scalar.filter(lambda v, k=key: not _ok_meta_value(k, v, meta[k])))
    yaml_body = ("name: mine\ndevice: my board\nruntime: onnxruntime\n"
                 "tables:\n  nb201:\n    cifar10: {file: mine.csv, column: latency_ms}\n").encode()
    files = {"home/targets/mine.yaml": yaml_body,
             "home/latency_tables/mine.csv": ("# " + json.dumps(meta) + "\n" + "\n".join([header, *rows]) + "\n")
             .encode("utf-8", "surrogatepass")}
    return Case(["cost", "0", str(at), "--target", "mine"], files, f"latency table {kind}")


def _ok_meta_value(key: str, v: object, original: object) -> bool:
    """True if a table header still loads with ``v`` at ``key``: provenance fields (source, license)
    take any non-blank string; every other field only its original value (1.0 == 1, True == 1 too)."""
    if key in ("source", "license"):
        return isinstance(v, str) and bool(v.strip())
    return v == original


@st.composite
def output_path(draw) -> Case:
    out = draw(st.sampled_from(["/", "/dev/null", "/proc/version", "{dir}/file.txt/sub", "{dir}/file.txt"]))
    cmd = draw(st.sampled_from(["export", "validate"]))
    if cmd == "export":
        return Case(["export", VALID_ARCH, "--out", out], {"file.txt": b"x"}, "export --out")
    return Case(["validate", "{dir}/file.txt", "--out", out], {"file.txt": b"x"}, "validate --out")


CASES = {"arch_show": arch_show(), "cost_archs": cost_archs(), "cost_target": cost_target(),
         "archs_file": archs_file(), "search_option": search_option(), "target_yaml": target_yaml(),
         "latency_table": latency_table(), "output_path": output_path()}


@dataclass
class Outcome:
    kind: str  # "clear" | "traceback" | "accepted" | "unclear"
    detail: str


def run_case(case: Case, folder: Path) -> Outcome:
    """Invoke the CLI in-process on ``case`` with files under ``folder``; classify the outcome."""
    from click.testing import CliRunner

    from edgenas.cli import cli

    for rel, data in case.files.items():
        p = folder / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    args = [a.replace("{dir}", str(folder)) for a in case.args]
    env = {"EDGENAS_HOME": str(folder / "home"), "EDGENAS_DEBUG": None}
    old = {k: os.environ.get(k) for k in env}
    try:
        r = CliRunner().invoke(cli, args, env=env)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        return Outcome("traceback", f"{type(r.exception).__name__}: {r.exception}"[:300])
    if r.exit_code == 0:
        return Outcome("accepted", r.output[-200:])
    lines = [ln for ln in (r.stderr if hasattr(r, "stderr") else r.output).splitlines() if ln.strip()]
    err = [ln for ln in lines if ln.startswith("error:") or ln.startswith("Error:")]
    if r.exit_code == 2 and len(err) == 1 and len(err[0]) > 12:
        return Outcome("clear", err[0][:300])
    return Outcome("unclear", f"exit {r.exit_code}: {r.output[-300:]}")
