"""Bad-input generators for the CLI fuzz suite (hypothesis strategies) and the one invariant.

Every generated case is *invalid by construction* (at least one argument or file is garbage), so
the one correct outcome is a clear error: exit code 2 and one ``error: ...`` line on stderr. A
traceback (any exception other than SystemExit) or exit 0 (silently accepted garbage) is a failure.
Used by ``tests/cli/test_fuzz.py`` (a quick profile in CI) and ``tools/fuzz_cli.py`` (10,000 inputs).
"""

from __future__ import annotations

import functools
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
@functools.lru_cache(maxsize=1)
def _known_names() -> frozenset[str]:
    """Every name a --space / --dataset / --proxy / --target may take (lower case): Hypothesis draws string
    constants of the code under test too, so a "bad" name can be a real one (and a real proxy search runs
    for minutes)."""
    from edgenas.hardware.targets import target_names
    from edgenas.proxies.base import list_proxies
    from edgenas.proxies.ensemble import list_ensembles
    from edgenas.spaces import get_space, shipped_space_names

    names = {*target_names(), *list_proxies(), *list_ensembles(), *shipped_space_names(), "macs"}
    names |= {d for sp in shipped_space_names() for d in get_space(sp).datasets}
    return frozenset(n.lower() for n in names)


bad_target = junk.filter(lambda t: t.strip() != "" and not t.startswith("-")).filter(
    lambda t: t.lower() not in _known_names())
#: a budget is valid in (0, 1e6] (edgenas._limits.BUDGET_BOUNDS); tiny ones are refused as infeasible
bad_budget = junk.filter(lambda t: not _is_number_in(t, 1e-9, 1e6) and "=" not in t.strip("=")[1:-1])
bad_count = junk.filter(lambda t: not _is_int_in(t, 1, 10**6))


@dataclass
class Case:
    """One CLI invocation: arguments, files to create under the case folder, extra environment."""

    args: list[str]
    files: dict[str, bytes] = field(default_factory=dict)
    what: str = ""
    #: paths (under the case folder) made as FIFOs: a reader that opens one blocks until the case's timeout
    fifos: tuple[str, ...] = ()

    def __repr__(self) -> str:  # failure reports: the arguments and a short view of each file
        files = {k: (v[:120] + b"..." if len(v) > 120 else v) for k, v in self.files.items()}
        fifos = f", fifos={list(self.fifos)!r}" if self.fifos else ""
        return f"Case({self.what!r}, args={self.args!r}, files={files!r}{fifos})"


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
        st.tuples(st.just("--pick-within-noise"), junk.filter(lambda t: not _is_number_in(t, 0, 10))),
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


# -- files the tool reads back or is given (checked reader: edgenas/_read.py) ---------------------

DEEP_JSON = b"[" * 5000 + b"]" * 5000
BAD_BYTES = b"\xff\xfe\x00bad"
#: a NB201 arch string the score tables name (index 6111)
BEST_INDEX = "6111"


def _gz(data: bytes) -> bytes:
    import gzip

    return gzip.compress(data, mtime=0)


@st.composite
def score_table(draw) -> Case:
    """``search --score-table`` with a table that must be refused (never a partial one: that is noted)."""
    head = "# " + json.dumps({"kind": "score_table", "space": "nb201", "dataset": "cifar10"}) + "\n"
    rows = [f"{i},{1.0 + i / 100:.3f}" for i in range(20)]
    kind = draw(st.sampled_from(["space", "dataset", "duplicate", "empty", "cell", "field", "gzip", "bytes",
                                 "jsonl", "fifo", "column", "cells"]))
    name = "t.csv"
    fifos: tuple[str, ...] = ()
    if kind in ("space", "dataset"):
        other = draw(st.sampled_from(["fbnet", "macro"] if kind == "space" else ["cifar100", "ImageNet16-120"]))
        body = (head.replace('"nb201"' if kind == "space" else '"cifar10"', json.dumps(other))
                + "index,synflow\n" + "\n".join(rows)).encode()
    elif kind == "duplicate":
        dup = draw(st.integers(0, 19))
        body = (head + "index,synflow\n" + "\n".join([*rows, f"{dup},9.0"])).encode()
    elif kind == "empty":
        body = (head + "index,synflow\n" + "\n".join(f"{i}," for i in range(draw(st.integers(1, 30))))).encode()
    elif kind == "cell":
        bad = draw(junk.filter(lambda t: t.strip() != "" and _float_or_none(t) is None
                               and not any(c in t for c in ',"\r\n\x00\u2028\u2029\x1c\x1d\x1e\x85\x0b\x0c')))
        at = draw(st.integers(0, 19))
        rows[at] = f"{at},{bad}"
        body = (head + "index,synflow\n" + "\n".join(rows)).encode("utf-8", "surrogatepass")
    elif kind == "field":
        body = (head + "index,synflow\n0," + "9" * draw(st.integers(140_000, 200_000)) + "\n").encode()
    elif kind == "gzip":
        name = "t.csv.gz"
        good = _gz((head + "index,synflow\n" + "\n".join(rows)).encode())
        cut = draw(st.integers(11, len(good) - 9))  # >= 1 deflate byte cut or flipped: never the intact file
        body = draw(st.sampled_from([good[:cut], good[:10] + bytes(b ^ 0xA5 for b in good[10:cut]) + good[cut:],
                                     draw(st.binary(min_size=1, max_size=60))]))
    elif kind == "bytes":
        body = head.encode() + b"index,synflow\n0," + BAD_BYTES + b"\n"
    elif kind == "jsonl":
        name = "t.jsonl"
        body = draw(st.sampled_from([DEEP_JSON, b'{"index": 1, "scores": {"synflow": "x"}}\n',
                                     b'{"index": 1, "scores": [1]}\n', b"{oops\n", BAD_BYTES]))
    elif kind == "fifo":
        body, fifos = b"", ("t.csv",)
    elif kind == "column":
        body = (head + "index,grasp\n" + "\n".join(rows)).encode()
    else:  # cells: another number of cells than the header
        at = draw(st.integers(0, 19))
        rows[at] += ",1.0"
        body = (head + "index,synflow\n" + "\n".join(rows)).encode()
    files = {} if kind == "fifo" else {name: body}
    return Case(["search", "--target", "jetson", "--workers", "1", "--proxy", "synflow", "--score-table",
                 f"{{dir}}/{name}", "--evaluations", "4", "--population", "2", "--out", "{dir}/run"], files,
                f"score table {kind}", fifos)


def _float_or_none(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


_JOURNAL_KEY = {"space": "nb201", "dataset": "cifar10", "components": ["params"], "seed": 0, "batch_size": 4,
                "resolution": None, "data": "gaussian"}


@st.composite
def score_journal(draw) -> Case:
    """``proxies score --all`` resuming a journal with a bad *complete* line (a torn last line is
    recovered, so it is never generated: the run would then score the whole space)."""
    head = json.dumps({"journal_key": _JOURNAL_KEY, "edgenas_version": "0"})
    good = json.dumps({"iso_key": "k", "arch": "a", "scores": {"params": 1.0}})
    bad_value = draw(st.one_of(st.sampled_from(['"abc"', "true", "[1]", "{}", "Infinity", "NaN", "1e999"]),
                               st.text(min_size=1, max_size=8).map(json.dumps)))
    kind = draw(st.sampled_from(["first", "score", "record", "deep", "bytes", "key", "garbage"]))
    if kind == "first":
        lines = [draw(st.sampled_from(["[]", "1", '"x"', "null", '{"journal_key": 5}', "{}"])), good]
    elif kind == "score":
        lines = [head, good.replace("1.0", bad_value)]
    elif kind == "record":
        lines = [head, draw(st.sampled_from(['{"iso_key": 5, "scores": {}}', '{"scores": {}}', "[]",
                                              '{"iso_key": "k", "scores": [1]}', "7"]))]
    elif kind == "deep":
        lines = [head, DEEP_JSON.decode()]
    elif kind == "key":
        other = dict(_JOURNAL_KEY, seed=draw(st.integers(1, 10**6)))
        lines = [json.dumps({"journal_key": other}), good]
    elif kind == "garbage":
        lines = [head, draw(st.text(min_size=1, max_size=30).filter(lambda t: "\n" not in t and "\r" not in t
                                                                    and _not_json(t)))]
    else:
        body = head.encode() + b"\n" + BAD_BYTES + b"\n"
        return Case(_SCORE_ALL, {"t.csv.journal.jsonl": body}, f"score journal {kind}")
    extra = draw(st.lists(st.just(good), max_size=3))
    body = "\n".join([*lines, *extra]) + "\n"  # every line complete
    return Case(_SCORE_ALL, {"t.csv.journal.jsonl": body.encode("utf-8", "surrogatepass")}, f"score journal {kind}")


def _not_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return True
    return False


_SCORE_ALL = ["proxies", "score", "--all", "--proxy", "params", "--batch-size", "4", "--workers", "1",
              "--out", "{dir}/t.csv"]


def _pareto_doc() -> dict:
    member = {"arch": VALID_ARCH, "index": 6111, "scores": {}, "latency_ms": {"jetson-tx2": 3.0}, "latency_source": {},
              "macs_m": 1.0, "params_m": 0.1}
    return {"schema_version": 1, "space": "nb201", "dataset": "cifar10", "targets": ["jetson-tx2"],
            "members": [member], "pick": member}


@st.composite
def stored_json(draw) -> Case:
    """pareto.json at export, export.json at validate and at export --out, a user op table at cost."""
    where = draw(st.sampled_from(["pareto", "manifest", "export_out", "op_table"]))
    body = draw(st.sampled_from(["deep", "bytes", "shape", "nan", "fifo"]))
    raw = {"deep": DEEP_JSON, "bytes": BAD_BYTES, "nan": b'{"members": [{"arch": NaN}]}'}
    if where == "pareto":
        shapes = [{"members": "abc"}, {"members": [1]}, [], {"members": [{"arch": None}]},
                  dict(_pareto_doc(), space=5), dict(_pareto_doc(), targets="jetson-tx2")]
        data = raw.get(body) or json.dumps(draw(st.sampled_from(shapes))).encode()
        fifos = ("run/pareto.json",) if body == "fifo" else ()
        return Case(["export", "{dir}/run", "--out", "{dir}/out"], {} if fifos else {"run/pareto.json": data},
                    f"pareto.json {body}", fifos)
    if where == "manifest":
        shapes = [{"models": "abc"}, {"models": [1]}, {"models": [{"files": "x"}]}, [],
                  {"models": [{"files": {"onnx": "../../etc/passwd"}}]}]
        data = raw.get(body) or json.dumps(draw(st.sampled_from(shapes))).encode()
        fifos = ("exp/export.json",) if body == "fifo" else ()
        files = {} if fifos else {"exp/export.json": data}
        return Case(["validate", "{dir}/exp", "--target", "cpu", "--out", "{dir}/v.json"], files,
                    f"export.json {body}", fifos)
    if where == "export_out":  # a folder holding user files and something named export.json: never replaced
        data = raw.get(body) or draw(st.sampled_from([b"{}", b'{"models": []}', json.dumps(
            {"models": [{"files": {"onnx": "src/keep.py"}, "checksums": {"onnx": {"bytes": 1, "sha256": "0"}}}]}
        ).encode()]))
        files = {"out/src/keep.py": b"x\n"}
        if body != "fifo":
            files["out/export.json"] = data
        return Case(["export", BEST_INDEX, "--out", "{dir}/out"], files, f"export --out foreign {body}",
                    ("out/export.json",) if body == "fifo" else ())
    # a user target whose op table is bad
    yaml_body = ("name: mine\ndevice: my board\nruntime: onnxruntime\n"
                 "tables:\n  nb201:\n    cifar10: {file: mine_ops.json}\n").encode()
    data = raw.get(body) or json.dumps({"kind": "op_latency", "entries": draw(st.sampled_from(["x", [], {}]))}).encode()
    files = {"home/targets/mine.yaml": yaml_body}
    if body != "fifo":
        files["home/latency_tables/mine_ops.json"] = data
    return Case(["cost", "0", "--target", "mine"], files, f"op table {body}",
                ("home/latency_tables/mine_ops.json",) if body == "fifo" else ())


@st.composite
def user_home(draw) -> Case:
    """$EDGENAS_HOME: target YAMLs that are FIFOs, deep, tagged or huge; fit over such a target; a
    --measurements CSV that is a FIFO, has a cell over the csv limit or a latency no table can hold."""
    kind = draw(st.sampled_from(["fifo", "deep", "tag", "keys", "fit_existing", "measurements"]))
    if kind == "fifo":
        return Case(["targets"], {}, "target yaml fifo", ("home/targets/mine.yaml",))
    if kind == "deep":
        n = draw(st.integers(70, 3000))
        return Case(["targets"], {"home/targets/mine.yaml": b"name: " + b"[" * n + b"]" * n + b"\n"}, "target yaml deep")
    if kind == "tag":
        tag = draw(st.sampled_from([b"!!python/object/apply:os.system [true]", b"!!binary aGk=", b"!custom 1",
                                    b"!!python/name:os.system"]))
        return Case(["targets"], {"home/targets/mine.yaml": b"name: mine\ndevice: d\nruntime: onnxruntime\nx: " + tag
                                  + b"\n"}, "target yaml tag")
    if kind == "keys":
        n = draw(st.integers(2000, 20000))
        body = "".join(f"k{i}: {i}\n" for i in range(n)) + f"k{draw(st.integers(0, n - 1))}: 0\n"
        return Case(["targets"], {"home/targets/mine.yaml": body.encode()}, "target yaml many keys")
    rows = "arch,latency_ms\n" + "\n".join(f"{i * 37},{1 + (i % 5) / 10}" for i in range(1, 9)) + "\n"
    if kind == "fit_existing":
        body = draw(st.sampled_from([b"name: [\n", b"name: mine\nname: mine\n", b"tables: [1]\n", BAD_BYTES,
                                     b"name: mine\ndevice: d\nruntime: onnxruntime\ntables: [1]\n"]))
        return Case(["fit", "--measurements", "{dir}/m.csv", "--target", "mine"],
                    {"m.csv": rows.encode(), "home/targets/mine.yaml": body}, "fit over a bad target")
    bad = draw(st.one_of(st.sampled_from(["2000000", "1e-300", "0", "-1", "inf", "nan", "1e400", ""]),
                         st.just("9" * 140_000)))
    mkind = draw(st.sampled_from(["value", "fifo", "bytes"]))
    if mkind == "fifo":
        return Case(["fit", "--measurements", "{dir}/m.csv", "--target", "mine"], {}, "measurements fifo",
                    ("m.csv",))
    body = (rows + f"5,{bad}\n").encode() if mkind == "value" else rows.encode() + b"6," + BAD_BYTES + b"\n"
    return Case(["fit", "--measurements", "{dir}/m.csv", "--target", "mine"], {"m.csv": body},
                f"measurements {mkind}")


@st.composite
def ray_address(draw) -> Case:
    """--ray-address values no cluster can have (syntax), or given without --executor ray."""
    host = draw(st.one_of(st.sampled_from(["127.0.0.1", "a" * 64, "exa mple", "é.local", "[::zz]", "", "-x", "a..b",
                                           "host_name", ".", "1.2.3.4.5" * 60]),
                          st.text(max_size=12).filter(lambda t: not t.replace(".", "").replace("-", "").isalnum())))
    port = draw(st.one_of(st.sampled_from(["²", "0", "70000", "", "-1", "６３７９", "6379x", "99999999999"]),
                          st.text(max_size=5).filter(lambda t: not (t.isascii() and t.isdigit()))))
    if draw(st.booleans()) and host == "127.0.0.1":
        port = draw(st.sampled_from(["²", "0", "70000"]))
    address = draw(st.sampled_from([f"{host}:{port}", host, f"{host}:6379" if host != "127.0.0.1" else "x y:1"]))
    cmd = draw(st.sampled_from(["search", "score_all", "local"]))
    if address in ("auto",):
        address = "auto:"
    if cmd == "search":
        return Case(["search", "--target", "jetson", "--workers", "1", "--executor", "ray", "--ray-address", address,
                     "--out", "{dir}/run"], what="search --ray-address")
    if cmd == "score_all":
        return Case(["proxies", "score", "--all", "--proxy", "params", "--executor", "ray", "--ray-address", address,
                     "--out", "{dir}/t.csv"], what="score --all --ray-address")
    return Case(["proxies", "score", "--all", "--proxy", "params", "--ray-address", draw(st.sampled_from(
        ["auto", "127.0.0.1:6379", address])), "--out", "{dir}/t.csv"], what="--ray-address without ray")


def _npy(arr) -> bytes:
    import io

    import numpy as np

    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=True)
    return buf.getvalue()


@st.composite
def data_input(draw) -> Case:
    """--data arrays and image folders that cannot be proxy inputs (the loader's checks; the CLI
    must answer each with one clear error)."""
    import numpy as np

    kind = draw(st.sampled_from(["text", "truncated", "object", "huge_header", "npz", "nan", "constant", "complex",
                                 "empty", "labels", "png_junk", "fifo_image", "mixed_layout", "missing"]))
    files: dict[str, bytes] = {}
    fifos: tuple[str, ...] = ()
    target = "x.npy"
    good = _npy(np.zeros((8, 3, 32, 32), dtype=np.float32) + np.arange(8, dtype=np.float32)[:, None, None, None])
    if kind == "text":
        files["x.npy"] = draw(st.binary(min_size=1, max_size=64))
    elif kind == "truncated":
        files["x.npy"] = good[:draw(st.integers(1, len(good) - 1))]
    elif kind == "object":
        files["x.npy"] = _npy(np.array([{"a": 1}, None], dtype=object))
    elif kind == "huge_header":
        files["x.npy"] = (b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 3, "
                          b"1000, 1000), }" + b" " * 50 + b"\n")
    elif kind == "npz":
        target = "x.npz"
        files["x.npz"] = b"PK\x03\x04" + draw(st.binary(min_size=1, max_size=80))
    elif kind in ("nan", "constant", "complex"):
        arr = {"nan": np.full((8, 3, 32, 32), np.nan, np.float32), "constant": np.ones((8, 3, 32, 32), np.float32),
               "complex": np.ones((8, 3, 32, 32), np.complex64)}[kind]
        files["x.npy"] = _npy(arr)
    elif kind == "empty":
        files["x.npy"] = _npy(np.zeros((0, 3, 32, 32), np.float32))
    elif kind == "labels":
        target = "x.npz"
        import io

        buf = io.BytesIO()
        np.savez(buf, x=np.random.default_rng(0).normal(size=(8, 3, 32, 32)).astype(np.float32),
                 y=np.array(["a"] * 8))
        files["x.npz"] = buf.getvalue()
    elif kind == "png_junk":
        target = "imgs"
        files["imgs/cat/a.png"] = b"\x89PNG\r\n\x1a\n" + draw(st.binary(max_size=40))
    elif kind == "fifo_image":
        target = "imgs"
        fifos = ("imgs/cat/a.png",)
        files["imgs/dog/.keep"] = b""
    elif kind == "mixed_layout":
        target = "imgs"
        files["imgs/root.png"] = b"\x89PNG\r\n\x1a\n"
        files["imgs/cat/a.png"] = b"\x89PNG\r\n\x1a\n"
    else:
        target = "nope/x.npy"
    return Case(["proxies", "score", "0", "--proxy", "naswot", "--batch-size", "4", "--data", f"{{dir}}/{target}"],
                files, f"--data {kind}", fifos)


#: a small valid space definition; a case breaks one field (stages of widths 8 / 16: groups must divide both)
_SPACE = {"name": "fuzzspace", "stem": {"channels": 8},
          "blocks": {"a": {"type": "mbconv", "kernel": 3, "expansion": 2}, "s": {"type": "skip"}},
          "stages": [{"layers": 2, "stride": 2, "channels": 16, "blocks": ["a", "s"], "first_blocks": ["a"]}],
          "head": {"channels": 32}, "datasets": {"cifar10": {"num_classes": 10, "input_size": 32}},
          "cpu": {"batch_size": 8}}


def _int_ok(v: object, lo: int, hi: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


#: field path -> what a valid value is (edgenas/spaces/_macro_def.py and docs/spaces.md)
_SPACE_FIELDS = {
    ("stem", "channels"): lambda v: _int_ok(v, 1, 65536),
    ("blocks", "a", "kernel"): lambda v: _int_ok(v, 1, 15) and v % 2 == 1,
    # null is "not given" in a definition: the field's default (expansion 1, groups 1, channels 3)
    ("blocks", "a", "expansion"): lambda v: v is None or _int_ok(v, 1, 64),
    ("blocks", "a", "groups"): lambda v: v is None or v in (1, 2, 4, 8),
    ("stages", 0, "layers"): lambda v: _int_ok(v, 1, 256),
    ("datasets", "cifar10", "num_classes"): lambda v: _int_ok(v, 2, 100_000),
    ("datasets", "cifar10", "input_size"): lambda v: _int_ok(v, 8, 1024),
    ("datasets", "cifar10", "channels"): lambda v: v is None or (v in (1, 3) and not isinstance(v, bool)),
    ("cpu", "batch_size"): lambda v: _int_ok(v, 2, 4096) or v is None,
    ("default_proxy",): lambda v: v is None or v in _proxy_names(),
}


def _proxy_names() -> set[str]:
    from edgenas.proxies.base import list_proxies
    from edgenas.proxies.ensemble import list_ensembles

    return {*list_proxies(), *list_ensembles()}


@st.composite
def space_yaml(draw) -> Case:
    """`edgenas spaces add` of a definition with one field out of its limits: refused there, never at a later
    search (a definition every later command refuses used to be added)."""
    import copy

    import yaml

    path = draw(st.sampled_from(sorted(_SPACE_FIELDS, key=str)))
    ok = _SPACE_FIELDS[path]
    numbers = st.one_of(st.integers(min_value=-(10**6), max_value=10**6), st.sampled_from([0, 2, 4, 6, 7, 9, 1025]))
    bad = draw(st.one_of(numbers, yaml_value).filter(lambda v: not _safe_ok(ok, v)))
    doc = copy.deepcopy(_SPACE)
    node = doc
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = bad
    body = yaml.safe_dump(doc, allow_unicode=True).encode()
    return Case(["spaces", "add", "{dir}/fuzzspace.yaml"], {"fuzzspace.yaml": body}, f"space yaml {path}")


def _safe_ok(ok: Any, v: object) -> bool:
    try:
        return bool(ok(v))
    except TypeError:  # an unhashable value is no valid choice
        return False


CASES = {"arch_show": arch_show(), "cost_archs": cost_archs(), "cost_target": cost_target(),
         "archs_file": archs_file(), "search_option": search_option(), "target_yaml": target_yaml(),
         "latency_table": latency_table(), "output_path": output_path(), "score_table": score_table(),
         "score_journal": score_journal(), "stored_json": stored_json(), "user_home": user_home(),
         "ray_address": ray_address(), "data_input": data_input(), "space_yaml": space_yaml()}


@dataclass
class Outcome:
    kind: str  # "clear" | "traceback" | "accepted" | "hang" | "unclear"
    detail: str


#: seconds one case may take before it counts as a hang (clear errors take at most a few seconds, also
#: on a busy 2-core machine)
CASE_TIMEOUT_S = 30.0


class CaseTimeout(BaseException):
    """Raised by SIGALRM in the case's thread (a BaseException: the CLI's ``except Exception`` keeps out)."""


def run_case(case: Case, folder: Path, timeout: float = CASE_TIMEOUT_S) -> Outcome:
    """Invoke the CLI in-process on ``case`` with files under ``folder``; classify the outcome. A case
    still running after ``timeout`` seconds is stopped (SIGALRM: a read blocked on a FIFO is
    interrupted too) and counted as a hang."""
    import signal

    from click.testing import CliRunner

    from edgenas.cli import cli

    for rel, data in case.files.items():
        p = folder / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    for rel in case.fifos:
        p = folder / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(p)
    args = [a.replace("{dir}", str(folder)) for a in case.args]
    env = {"EDGENAS_HOME": str(folder / "home"), "EDGENAS_DEBUG": None}
    old = {k: os.environ.get(k) for k in env}

    def on_alarm(signum: int, frame: object) -> None:
        raise CaseTimeout

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        r = CliRunner().invoke(cli, args, env=env)
    except CaseTimeout:
        return Outcome("hang", f"still running after {timeout:g} s")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
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
