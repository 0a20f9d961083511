"""Target devices: ``targets/*.yaml`` loaded into frozen dataclasses.

A target file (unknown keys are rejected)::

    name: jetson-tx2                 # required, file stem must match
    aliases: [jetson]
    device: NVIDIA Jetson TX2        # required, hardware in words
    runtime: tensorrt                # required: tensorrt | onnxruntime | tflite | tflite-edgetpu | pytorch | unknown
    precision: fp32
    batch_size: 1
    threads: null                    # CPU threads used by the runtime, null = not applicable/unknown
    power_mode: null                 # e.g. "nvpmodel -m 0 + jetson_clocks"; null = not recorded
    provenance: "..."                # where the numbers come from
    profile_hint: "..."              # optional: how to build a table for this device ({space} and
                                     # {dataset} stand for the pair asked for)
    tables:                          # space -> dataset -> table reference (paths into latency_tables/)
      nb201:
        cifar10: {file: nb201_cifar10_hwnasbench.csv, column: edgegpu}   # arch table column
        # or {file: nb201_cifar10_cpu_ops.json}                          # per-op table
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._paths import target_dirs, user_latency_tables_dir
from ..errors import ConfigError, LatencyTableError, UnknownNameError

__all__ = ["RUNTIMES", "TableRef", "Target", "list_targets", "load_target", "target_names"]

RUNTIMES = ("tensorrt", "onnxruntime", "tflite", "tflite-edgetpu", "pytorch", "unknown")
_KEYS = {"name", "aliases", "device", "runtime", "precision", "batch_size", "threads", "power_mode",
         "provenance", "profile_hint", "tables"}
_TABLE_KEYS = {"file", "column"}
#: the target of ``edgenas profile --target cpu`` (this host, onnxruntime): it covers every space the user profiled
HOST_TARGET = "cpu"


@dataclass(frozen=True)
class TableRef:
    """Where a target's latencies for one (space, dataset) live.

    Attributes:
        space, dataset: what the table covers.
        file: path of the table (relative names resolve in ``latency_tables/``).
        column: device column of an arch table; None for a per-op JSON table.
    """

    space: str
    dataset: str
    file: Path
    column: str | None = None

    @property
    def kind(self) -> str:
        """``"arch"`` (measured per-arch CSV) or ``"op"`` (per-op JSON)."""
        return "op" if self.file.suffix == ".json" else "arch"

    @property
    def exists(self) -> bool:
        return self.file.is_file()


@dataclass(frozen=True)
class Target:
    """One device + runtime setting (see module docstring for the fields)."""

    name: str
    device: str
    runtime: str
    aliases: tuple[str, ...] = ()
    precision: str = "fp32"
    batch_size: int = 1
    threads: int | None = None
    power_mode: str | None = None
    provenance: str = ""
    profile_hint: str = ""
    tables: tuple[TableRef, ...] = field(default=(), repr=False)
    path: Path | None = field(default=None, compare=False, repr=False)

    @property
    def spaces(self) -> tuple[str, ...]:
        """Spaces with at least one existing latency table."""
        return tuple(sorted({t.space for t in self.tables if t.exists}))

    def table(self, space: str, dataset: str) -> TableRef:
        """The table for (space, dataset).

        Raises:
            LatencyTableError: the target has none (with how to profile), or its file is absent.
        """
        for t in self.tables:
            if t.space == space and t.dataset == dataset:
                if not t.exists and t.file.exists():  # a FIFO, a folder, a device: never opened
                    raise LatencyTableError(f"target {self.name!r}: latency table {t.file} for {space}/{dataset} is "
                                            "not a regular file; expected a table file")
                if not t.exists:
                    raise LatencyTableError(
                        f"target {self.name!r}: latency table {t.file} for {space}/{dataset} is missing",
                        hint=self._hint(space, dataset) or f"edgenas profile --target {self.name} --space {space} "
                                                           f"--dataset {dataset}")
                return t
        have = ", ".join(f"{t.space}/{t.dataset}" for t in self.tables) or "none"
        raise LatencyTableError(
            f"target {self.name!r} has no latency table for {space}/{dataset} (has: {have})",
            hint=self._hint(space, dataset) or self._profile_hint(space, dataset))

    def _hint(self, space: str, dataset: str) -> str:
        """The definition's ``profile_hint`` for the asked (space, dataset)."""
        return self.profile_hint.replace("{space}", space).replace("{dataset}", dataset)

    def _profile_hint(self, space: str, dataset: str) -> str:
        """How to get a table: a user target is profiled under its own name; a shipped one (its
        tables are never replaced) under a new name, with a runtime ``edgenas profile`` can time."""
        from .._paths import shipped_targets_dir

        if self.path is None or self.path.parent.resolve() != shipped_targets_dir().resolve():
            return f"measure it on the device: edgenas profile --target {self.name} --space {space} --dataset {dataset}"
        runtime = " --runtime tensorrt" if self.runtime == "tensorrt" else ""  # else onnxruntime, the default
        return (f"shipped targets are never re-profiled; measure your own {self.device} as a new target: edgenas "
                f"profile --target my-{self.name} --host USER@DEVICE --space {space} --dataset {dataset}{runtime}, "
                f"then search with --target my-{self.name}")


PRECISIONS = ("fp32", "fp16", "int8")


def _check_fields(data: Mapping[str, Any], path: Path) -> None:
    """Each optional field has the type and range its use needs (one line naming the field)."""
    def bad(key: str, expected: str) -> ConfigError:
        return ConfigError(f"target file {path}: {key} {data[key]!r} is invalid; expected {expected}")

    def count(key: str, hi: int) -> None:
        v = data.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= hi):
            raise bad(key, f"an integer 1..{hi} or null")

    if not isinstance(data["device"], str) or not data["device"].strip():
        raise bad("device", "a non-empty string")
    if data.get("precision") is not None and data["precision"] not in PRECISIONS:
        raise bad("precision", " | ".join(PRECISIONS))
    count("batch_size", 4096)
    count("threads", 1024)
    aliases = data.get("aliases")
    if aliases is not None:
        if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() == a and a for a in aliases):
            raise bad("aliases", "a list of names, e.g. [jetson, tx2]")
        if len(set(aliases)) != len(aliases) or data["name"] in aliases:
            raise bad("aliases", "distinct names other than the target's own")
    for key in ("power_mode", "provenance", "profile_hint"):
        v = data.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (str, int, float))):
            raise bad(key, "a string or null")
    if data.get("tables") is not None and not isinstance(data["tables"], Mapping):
        raise bad("tables", "a mapping space -> dataset -> {file: ..., column: ...}")


def _parse(data: Any, path: Path) -> Target:
    if not isinstance(data, Mapping):
        raise ConfigError(f"target file {path}: expected a mapping at top level")
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise ConfigError(f"target file {path}: unknown key(s) {', '.join(map(repr, unknown))}; "
                          f"expected {', '.join(sorted(_KEYS))}")
    for req in ("name", "device", "runtime"):
        if not data.get(req):
            raise ConfigError(f"target file {path}: missing required key {req!r}")
    if data["name"] != path.stem:
        raise ConfigError(f"target file {path}: name {data['name']!r} must equal the file stem {path.stem!r}")
    if not isinstance(data["runtime"], str) or data["runtime"] not in RUNTIMES:
        raise ConfigError(f"target file {path}: runtime {data['runtime']!r}; expected one of {', '.join(RUNTIMES)}")
    _check_fields(data, path)
    tables: list[TableRef] = []
    from ..spaces import get_space, list_spaces

    for space, per_ds in (data.get("tables") or {}).items():
        if space not in list_spaces():
            raise ConfigError(f"target file {path}: tables.{str(space)!r} is not a search space; expected one of "
                              f"{', '.join(list_spaces())}")
        if not isinstance(per_ds, Mapping):
            raise ConfigError(f"target file {path}: tables.{space} must map dataset -> table")
        known = get_space(str(space)).datasets
        for ds, ref in per_ds.items():
            if ds not in known:
                raise ConfigError(f"target file {path}: tables.{space}.{str(ds)!r} is not a {space} dataset; "
                                  f"expected one of {', '.join(known)}")
            if not isinstance(ref, Mapping) or "file" not in ref or set(ref) - _TABLE_KEYS:
                raise ConfigError(f"target file {path}: tables.{space}.{ds} must be {{file: ..., column: ...}}")
            tables.append(TableRef(str(space), str(ds), _table_path(_confined(ref["file"], path), path),
                                   ref.get("column")))
    if data["name"] == HOST_TARGET:
        tables.extend(_host_profiles({(t.space, t.dataset) for t in tables}))
    threads = data.get("threads")
    return Target(
        name=str(data["name"]), device=str(data["device"]), runtime=str(data["runtime"]),
        aliases=tuple(str(a) for a in data.get("aliases") or ()),
        precision=str(data.get("precision") or "fp32"), batch_size=int(data.get("batch_size") or 1),
        threads=None if threads is None else int(threads), power_mode=data.get("power_mode"),
        provenance=str(data.get("provenance") or ""), profile_hint=str(data.get("profile_hint") or ""),
        tables=tuple(tables), path=path,
    )


def _host_profiles(listed: set[tuple[str, str]]) -> list[TableRef]:
    """Tables ``edgenas profile --target cpu`` wrote (``$EDGENAS_HOME/latency_tables/<space>_<dataset>_cpu_ops.json``)
    for a space and dataset the ``cpu`` target file does not list (a macro space, a user's space): the host
    profile covers any space, and its table must be usable at once."""
    folder = user_latency_tables_dir()
    if not folder.is_dir():
        return []
    from ..spaces import get_space, list_spaces

    names = list_spaces()
    out = []
    for f in sorted(folder.glob(f"*_{HOST_TARGET}_ops.json")):
        stem = f.name[: -len(f"_{HOST_TARGET}_ops.json")]
        for space in names:
            ds = stem[len(space) + 1:]
            if (stem.startswith(space + "_") and (space, ds) not in listed and f.is_file()
                    and ds in get_space(space).datasets):
                out.append(TableRef(space, ds, f))
    return out


def _confined(name: object, target_file: Path) -> Path:
    """A table ``file:`` as a name inside ``latency_tables/``: absolute paths and ``..`` would let a
    target file read any file of the machine."""
    f = Path(str(name))
    if not isinstance(name, str) or not name or f.is_absolute() or ".." in f.parts or "\\" in name:
        raise ConfigError(f"{target_file}: table file {name!r} is invalid; expected a file name inside "
                          "latency_tables/ (no absolute path, no '..')")
    return f


def _table_path(f: Path, target_file: Path) -> Path:
    """Where a table named in a target file lives: a name in the user's
    ``latency_tables/`` when the user measured one there (a re-profiled ``cpu``), else in the
    ``latency_tables/`` beside the target file's folder (shipped targets: the package's)."""
    user = user_latency_tables_dir() / f
    if user.is_file():
        return user
    return target_file.parent.parent / "latency_tables" / f


def load_target_file(path: Path) -> Target:
    """Parse one target YAML file (:func:`edgenas._read.load_yaml`: a regular file, safe YAML).

    Raises:
        ConfigError: unreadable/invalid YAML, unknown keys, missing required keys.
    """
    from .._read import load_yaml

    path = Path(path)
    data = load_yaml(path, what="target file")
    return _parse(data, path)


def _dirs(directory: Path | None) -> tuple[Path, ...]:
    return (Path(directory),) if directory is not None else target_dirs()


def list_targets(directory: Path | None = None) -> list[Target]:
    """All targets, sorted by name: the shipped ones and the user's (``$EDGENAS_HOME/targets``),
    or those in ``directory``.

    Raises:
        ConfigError: a name or alias defined twice (e.g. a user target named like a shipped one).
    """
    out = [load_target_file(p) for d in _dirs(directory) if d.is_dir() for p in sorted(d.glob("*.yaml"))]
    seen: dict[str, Target] = {}
    for t in out:
        for n in (t.name, *t.aliases):
            if n in seen:
                raise ConfigError(f"target name/alias {n!r} is defined twice: in {seen[n].path} and in {t.path}; "
                                  "expected each name once (rename the user target)")
            seen[n] = t
    return sorted(out, key=lambda t: t.name)


def target_names(directory: Path | None = None) -> list[str]:
    """Names and aliases of all targets."""
    return sorted(n for t in list_targets(directory) for n in (t.name, *t.aliases))


def is_shipped_name(name: str) -> bool:
    """Whether ``name`` is the name or an alias of a shipped target (a user target may not take it)."""
    from .._paths import shipped_targets_dir

    return name in target_names(shipped_targets_dir())


def load_target(name: str, *, directory: Path | None = None) -> Target:
    """The target called ``name`` (or with alias ``name``).

    Raises:
        UnknownNameError: with close names.
    """
    from .._paths import shipped_targets_dir

    if not isinstance(name, str):
        raise UnknownNameError("target", name, target_names(directory))
    if directory is None and is_shipped_name(name):  # a broken file among the user's never blocks a shipped target
        directory = shipped_targets_dir()
    targets = list_targets(directory)
    for t in targets:
        if name == t.name or name in t.aliases:
            return t
    raise UnknownNameError("target", name, [n for t in targets for n in (t.name, *t.aliases)])
