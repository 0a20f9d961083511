"""Resolve what to export: a run directory, a ``pareto.json`` file, or an arch string/index."""

from __future__ import annotations

import glob
import logging
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._io import hold_lock, release_lock
from ..errors import ConfigError, EdgeNASError, ExportError
from ..spaces import Arch, SearchSpace

__all__ = ["Candidate", "atomic_dir", "predicted_latency_ms", "resolve_candidates"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Candidate:
    """One architecture to export, with what the search knew about it.

    Attributes:
        arch: the parsed architecture.
        rank: 1-based position in the Pareto file (1 for a single arch argument; 0 for the
            search's pick when it is not a front member).
        latency_ms: predicted latency per target name (ms), possibly empty.
    """

    arch: Arch
    rank: int
    latency_ms: dict[str, float] = field(default_factory=dict)


def _load_pareto(path: Path) -> dict[str, Any]:
    from .._read import load_json

    data = load_json(path, what="pareto.json", allow_nan=True)  # a non-finite field is named by _check_pareto
    if not isinstance(data, dict) or not isinstance(data.get("members"), list):
        raise ConfigError(f"{str(path)!r} is not a pareto.json: expected an object with a 'members' list")
    return data


def _check_pareto(data: dict[str, Any], path: Path, space: SearchSpace) -> tuple[list[tuple[Arch, dict[str, float]]],
                                                                            tuple[Arch, dict[str, float]] | None]:
    """Every member (and the pick) of a loaded pareto.json as ``(arch, latency_ms)``, checked field by
    field: ``arch`` an arch of ``space``, ``latency_ms`` an object of known target names -> finite
    ms >= 0 (or null), ``space`` / ``dataset`` strings.

    Raises:
        ConfigError: naming the file, the member (``members[i]``, rank i + 1) and the field.
    """
    where = str(path)
    for key in ("space", "dataset"):
        if key in data and not isinstance(data[key], str):
            raise ConfigError(f"{where!r}: field {key!r} is {data[key]!r}; expected a {key} name")
    listed = data.get("targets")
    if listed is not None and (not isinstance(listed, list) or not all(isinstance(t, str) and t for t in listed)):
        raise ConfigError(f"{where!r}: field 'targets' is {listed!r}; expected a list of target names")
    known: set[str] | None = None

    def entry(m: Any, what: str) -> tuple[Arch, dict[str, float]]:
        nonlocal known
        if not isinstance(m, dict):
            raise ConfigError(f"{where!r}: {what} is {type(m).__name__}; expected an object with 'arch'")
        text = m.get("arch")
        if isinstance(text, bool) or not isinstance(text, (str, int)):
            raise ConfigError(f"{where!r}: {what}.arch is {text!r}; expected an arch string of space {space.name}")
        try:
            arch = space.parse(str(text))
        except EdgeNASError as exc:
            raise ConfigError(f"{where!r}: {what}.arch: {exc.message}") from None
        lat = m.get("latency_ms")
        if lat is None:
            return arch, {}
        if not isinstance(lat, dict):
            raise ConfigError(f"{where!r}: {what}.latency_ms is {lat!r}; expected an object {{target: ms}}")
        out: dict[str, float] = {}
        for t, v in lat.items():
            if known is None:
                from ..hardware.targets import target_names

                known = set(target_names())
            if t not in known or (listed is not None and t not in listed):
                raise ConfigError(f"{where!r}: {what}.latency_ms names target {t!r}, which is not "
                                  f"{'a target of this search' if t in known else 'a known target'}; expected one of "
                                  f"{', '.join(listed if listed is not None else sorted(known))}")
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise ConfigError(f"{where!r}: {what}.latency_ms[{t!r}] is {v!r}; expected a finite number "
                                  "of ms >= 0 (or null)")
            out[t] = float(v)
        return arch, out

    members = [entry(m, f"members[{i}] (rank {i + 1})") for i, m in enumerate(data["members"])]
    pick = data.get("pick")
    return members, (entry(pick, "pick") if pick is not None else None)


def resolve_candidates(
    source: str, *, space: SearchSpace, dataset: str, rank: int | None = None, all_members: bool = False
) -> list[Candidate]:
    """Candidates named by ``source`` (RUN_DIR, pareto.json or ARCH).

    Args:
        source: a run directory holding ``pareto.json``, a ``pareto.json`` path, or an arch string / index.
        space: the space archs belong to; a pareto file naming another space is an error.
        dataset: dataset name; a pareto file naming another dataset is an error.
        rank: 1-based member of the Pareto file (default: the file's ``pick``, else 1); ignored
            for an arch.
        all_members: every member of the Pareto file.

    Raises:
        ConfigError: unreadable or mismatching pareto file, bad ``rank``.
        ArchError: ``source`` is neither a file nor a valid arch of ``space``.
    """
    path = Path(source)
    if path.is_dir():
        path = path / "pareto.json"
        if not path.is_file():
            raise ConfigError(f"run directory {source!r} has no pareto.json; expected the output of 'edgenas search'")
    if not path.is_file():
        if "/" in source or source.endswith(".json"):  # meant as a path: arch strings have no '/'
            raise ConfigError(f"run folder or pareto.json {source!r} not found; expected the --out folder of "
                              "'edgenas search', a pareto.json, or an arch string / index")
        if rank is not None or all_members:
            raise ConfigError("--rank/--all select members of a pareto.json; an arch argument exports one arch")
        arch = space.parse(source)
        if space.is_degenerate(arch):
            raise ExportError(f"arch {source!r} is degenerate: no live path joins its input to its output, so "
                              "its output does not depend on the input; expected an arch with a live path")
        return [Candidate(arch, 1)]
    data = _load_pareto(path)
    for key, want in (("space", space.name), ("dataset", dataset)):
        got = data.get(key)
        if got is not None and got != want:
            raise ConfigError(f"{str(path)!r} is for {key} {got!r}, but --{key} is {want!r}")
    members, pick = _check_pareto(data, path, space)
    if not members:
        raise ConfigError(f"{str(path)!r} has no members")
    if all_members and rank is not None:
        raise ConfigError("give either --rank K or --all, not both")
    if rank is None and not all_members and pick is not None:
        # the search's recommended arch: its front rank when it is a member, else rank 0 ("pick/")
        arch, lat = pick
        k = next((i for i, (a, _) in enumerate(members, 1) if space.format(a) == space.format(arch)), 0)
        if space.is_degenerate(arch):
            raise ExportError(f"{str(path)!r}: the pick is degenerate (output independent of the input); "
                              "expected a live arch (use --rank K)")
        return [Candidate(arch, k, lat)]
    if all_members:
        picks = list(range(1, len(members) + 1))
    else:
        k = 1 if rank is None else rank
        if not 1 <= k <= len(members):
            raise ConfigError(f"--rank {k} is out of range; {str(path)!r} has {len(members)} members (1..{len(members)})")
        picks = [k]
    out = []
    dead = []
    for k in picks:
        arch, lat = members[k - 1]
        if space.is_degenerate(arch):
            dead.append(k)
            continue
        out.append(Candidate(arch, k, lat))
    if dead:
        # runs written before degenerate archs were excluded from the search can hold them
        log.warning("%s: skipped %d degenerate member(s) (rank %s: output independent of the input)",
                    path, len(dead), ", ".join(map(str, dead)))
    if not out:
        raise ExportError(f"{str(path)!r}: every selected member is degenerate (output independent of the input); "
                          "nothing to export")
    return out


def predicted_latency_ms(arch: Arch, *, target: str, space: SearchSpace, dataset: str) -> float | None:
    """The cost model's latency (ms) of ``arch`` on ``target``, or None when it cannot say.

    The cost model (``edgenas.hardware.cost``) is optional here: a missing module, unknown target or
    missing table gives None (logged), never an invented number.
    """
    try:
        from ..hardware.cost import get_cost_model  # type: ignore[import-not-found]
    except ImportError:
        log.info("edgenas.hardware.cost not available; no latency prediction")
        return None
    try:
        model = get_cost_model(target, space, dataset, source="auto")
        return float(model.predict(arch).latency_ms)
    except Exception as exc:  # noqa: BLE001 - a missing table/target must not stop export or validation
        log.info("no latency prediction for %s on %s: %s", arch, target, exc)
        return None


@contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield a temp directory beside ``final``; on success it *becomes* ``final``, on error it vanishes
    (an ``OSError``, e.g. a full disk, becomes one :class:`ExportError` naming ``final``).

    ``final`` must be new, empty, or an earlier edgenas export (it has ``export.json``): an earlier
    export is moved aside, the new one renamed in, the old one deleted, so a reader never sees a mix
    of two exports. Leftovers of an export killed mid-way (``.NAME.tmp-*``, ``.NAME.old-*``) are
    cleared first; an old export that was moved aside but not replaced is put back.
    """
    final = Path(final)
    _check_export_dir(final)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _write_error(final, exc) from None
    # one export per folder at a time: another one's temp folder is not stale
    lock = hold_lock(final.parent / f".{final.name}.lock", lambda holder: (
        f"--out {str(final)!r} is being written by another edgenas export (pid {holder}); expected one export per "
        "folder at a time: wait for it, or use another --out"), lambda exc: _write_error(final, exc))
    try:
        _check_export_dir(final)  # as it is now that no other export can change it
        try:
            _clear_stale(final)
            tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
        except OSError as exc:
            raise _write_error(final, exc) from None
        yield from _fill_and_swap(final, tmp)
    finally:
        release_lock(lock)


def _fill_and_swap(final: Path, tmp: Path) -> Iterator[Path]:
    """The body of :func:`atomic_dir`: yield ``tmp``, then put it in place of ``final``."""
    try:
        # mkdtemp makes the folder private (0700); the export gets the mode a plain mkdir would give
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)
        yield tmp
        if final.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
            os.replace(final, old / final.name)
            try:
                os.replace(tmp, final)
            except BaseException:
                os.replace(old / final.name, final)  # the old export back in place
                shutil.rmtree(old, ignore_errors=True)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except OSError as exc:  # a full disk, a quota, a folder made read-only meanwhile: final is left as it was
        raise _write_error(final, exc) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_error(final: Path, exc: OSError) -> ExportError:
    return ExportError(f"cannot write the export to {str(final)!r}: {exc.strerror or exc}; expected a writable folder "
                       "with free space (nothing in it was changed)")


def _check_export_dir(final: Path) -> None:
    """Refuse an output folder the tool must not fill or replace."""
    resolved = final.resolve()
    if resolved == Path(resolved.anchor):
        raise ExportError(f"--out {str(final)!r} is the filesystem root; expected a folder for the export")
    if final.is_symlink() or (final.exists() and not final.is_dir()):
        raise ExportError(f"--out {str(final)!r} exists and is not a directory; expected a new or empty folder, "
                          "or an earlier export")
    if final.is_dir() and any(final.iterdir()):
        _check_earlier_export(final)


#: files an export writes besides those its export.json lists
_EXPORT_EXTRA = ("export.json", "timing.cache", "validation.json")


def _check_earlier_export(final: Path) -> None:
    """Refuse a non-empty ``final`` unless it is exactly a complete earlier export: every file in it
    is listed in its export.json (or is export.json / timing.cache) with the recorded size and
    SHA-256, so replacing the folder deletes nothing edgenas did not write."""
    from .._read import load_json

    def refuse(why: str) -> ExportError:
        return ExportError(f"--out {str(final)!r} {why}; expected a new or empty folder, or an unmodified earlier "
                           "edgenas export (nothing was changed)")

    manifest = final / "export.json"
    if not manifest.is_file() or manifest.is_symlink():
        raise refuse("is a non-empty folder that is not an edgenas export (no export.json)")
    try:
        doc = load_json(manifest, what="export manifest", max_bytes=64 * 2**20)
    except EdgeNASError as exc:
        raise refuse(f"holds an export.json edgenas cannot read ({exc.message})") from None
    models = doc.get("models") if isinstance(doc, dict) else None
    if not isinstance(models, list) or not models:
        raise refuse(f"holds {str(manifest)!r} with no 'models' list, so it is not an edgenas export")
    listed: dict[str, dict] = {}
    for i, m in enumerate(models):
        files, sums = (m.get("files"), m.get("checksums")) if isinstance(m, dict) else (None, None)
        if not isinstance(files, dict) or not isinstance(sums, dict):
            raise refuse(f"holds {str(manifest)!r} whose models[{i}] has no 'files' and 'checksums'")
        for kind, rel in files.items():
            if not isinstance(rel, str) or not isinstance(sums.get(kind), dict):
                raise refuse(f"holds {str(manifest)!r} whose models[{i}].files[{kind!r}] has no checksum")
            listed[os.path.normpath(rel)] = sums[kind]
    dirs = {str(parent) for r in listed for parent in Path(r).parents} - {"."} | {""}
    for root, subdirs, names in os.walk(final):
        rel_root = os.path.relpath(root, final)
        rel_root = "" if rel_root == "." else rel_root
        for d in subdirs:
            rel = os.path.join(rel_root, d)
            if rel not in dirs or os.path.islink(os.path.join(root, d)):
                raise refuse(f"holds {str(final / rel)!r}, which the earlier export did not write")
        for n in names:
            rel = os.path.join(rel_root, n)
            p = final / rel
            if p.is_symlink() or not p.is_file() or (rel not in listed and rel not in _EXPORT_EXTRA):
                raise refuse(f"holds {str(p)!r}, which the earlier export did not write")
    for rel, want in listed.items():
        p = final / rel
        if not p.is_file():
            raise refuse(f"is an incomplete export: {str(p)!r} listed in export.json is missing")
        try:
            got = file_checksum(p)
        except OSError as exc:
            raise refuse(f"holds {str(p)!r}, which cannot be read ({exc.strerror})") from None
        if got.get("bytes") != want.get("bytes") or got.get("sha256") != want.get("sha256"):
            raise refuse(f"holds {str(p)!r}, which was changed since it was exported")


def _clear_stale(final: Path) -> None:
    name = glob.escape(final.name)  # a name with [ ] * ? must match itself only
    for old in sorted(final.parent.glob(f".{name}.old-*")):
        inner = old / final.name
        if not final.exists() and inner.is_dir():  # killed between the two renames: put it back
            os.replace(inner, final)
        shutil.rmtree(old, ignore_errors=True)
    for tmp in final.parent.glob(f".{name}.tmp-*"):
        shutil.rmtree(tmp, ignore_errors=True)


def file_checksum(path: Path) -> dict[str, Any]:
    """``{"bytes": size, "sha256": hex digest}`` of a file (export.json records one per exported file)."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return {"bytes": path.stat().st_size, "sha256": h.hexdigest()}
