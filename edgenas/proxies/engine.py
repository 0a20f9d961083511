"""Score architectures with single proxies (ensembles rank the results: see ``ensemble.py``).

For every arch the engine derives a per-arch seed ``derive_seed(seed, space.iso_key(arch))``,
so a score does not depend on which other archs are scored or in what order (isomorphic
archs share the seed, hence the score). The input batch depends only on the run seed and the
dataset, so every arch sees the same inputs. Each proxy gets a factory of freshly built
models (``bn_track_running_stats=False``: BN always uses batch statistics, as in the
AZ-NAS/VKDNW harness) with Kaiming-normal fan-in init seeded from the per-arch seed.

A proxy that raises, or returns NaN/inf, gets :data:`WORST_SCORE` for that arch; the engine
logs a warning and counts it in :attr:`ProxyScores.n_warnings`. No NaN/inf ever leaves the
engine.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._rng import derive_seed
from ..errors import ArchError, ConfigError, DatasetError, EdgeNASError, ProxyError
from .base import PROXIES, WORST_SCORE, ProxyContext, get_proxy

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from ..spaces import Arch, DatasetSpec, SearchSpace

__all__ = [
    "WORST_SCORE", "ProxyScores", "check_resolution", "make_inputs", "resolve_device", "score_archs",
]

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class ProxyScores:
    """Scores of one architecture.

    Attributes:
        arch: canonical arch string.
        scores: proxy name -> finite score (higher = better).
        seconds: proxy name -> wall seconds spent in that proxy (the first proxy that needs a
            shared forward pass pays for it; model building is included).
        n_warnings: how many proxies failed or were not finite for this arch (they got
            :data:`WORST_SCORE`).
    """

    arch: str
    scores: dict[str, float]
    seconds: dict[str, float]
    n_warnings: int = 0


def resolve_device(device: str) -> str:
    """ "auto" -> "cuda" when available else "cpu"; other strings are checked and returned."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise EdgeNASError(
            f"device {device!r} requested but no CUDA device is available; use 'cpu' or 'auto'"
        )
    if not (device == "cpu" or device.startswith("cuda")):
        raise EdgeNASError(f"unknown device {device!r}; expected 'cpu', 'cuda[:i]' or 'auto'")
    return device


def make_inputs(
    dataset: DatasetSpec, *, seed: int, batch_size: int = 64, data: Any = None, device: str = "cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    """The input batch (B, C, H, W) float32 and labels (B,) int64 for one run.

    Gaussian N(0, 1) inputs and uniform random labels by default. With ``data`` (a path, or
    an array / (images, labels) tuple), B images are drawn without replacement, resized to
    the dataset resolution and standardised per channel; labels default to random ones.
    """
    import torch

    if batch_size < 2:
        raise EdgeNASError(f"batch_size {batch_size} too small; expected >= 2")
    rng = np.random.default_rng(derive_seed(seed, "inputs", dataset.name))
    c, r = dataset.channels, dataset.input_size
    if data is None:
        x = rng.standard_normal((batch_size, c, r, r), dtype=np.float32)
        y = rng.integers(dataset.num_classes, size=batch_size)
    else:
        from ..data import ImageData

        if isinstance(data, (str, Path)):
            data = _open_cached(str(data), *_stamp(data))
        if isinstance(data, ImageData):
            src = data
            n, channels = len(src), src.channels
        else:
            images, labels = (data[0], data[1]) if isinstance(data, tuple) else (data, None)
            images = np.asarray(images, dtype=np.float32)
            if images.ndim != 4:
                raise DatasetError(f"data has shape {images.shape}; expected (N, C, H, W)")
            n, channels = len(images), images.shape[1]
        if channels != c and not (channels == 1 and c == 3):
            raise DatasetError(f"data has {channels} channels; dataset {dataset.name!r} expects {c}")
        if n < batch_size:
            raise DatasetError(
                f"data has {n} images; batch_size {batch_size} needs at least that many"
                + (f" (--batch-size {n} works)" if n >= 2 else "; expected at least 2 images"))
        idx = rng.choice(n, size=batch_size, replace=False)
        if isinstance(data, ImageData):
            xt = torch.from_numpy(src.load(idx, size=r))
            lab = src.subset_labels(idx)
        else:
            xt = torch.from_numpy(np.ascontiguousarray(images[idx]))
            lab = None if labels is None else np.asarray(labels)[idx]
            if xt.shape[-1] != r or xt.shape[-2] != r:
                xt = torch.nn.functional.interpolate(xt, size=(r, r), mode="bilinear", align_corners=False)
        if xt.shape[1] != c:  # grayscale images for a 3-channel network: the gray value in every channel
            xt = xt.expand(-1, c, -1, -1).contiguous()
        mean = xt.mean(dim=(0, 2, 3), keepdim=True)
        std = xt.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
        x = ((xt - mean) / std).numpy()
        if lab is not None:
            lab = np.asarray(lab).astype(np.int64)
            if lab.min() < 0 or lab.max() >= dataset.num_classes:
                raise DatasetError(f"data has class label {int(lab.max())} but dataset {dataset.name!r} has "
                                   f"{dataset.num_classes} classes; expected labels 0..{dataset.num_classes - 1}")
            y = lab
        else:
            y = rng.integers(dataset.num_classes, size=batch_size)
    return (
        torch.as_tensor(np.ascontiguousarray(x), dtype=torch.float32, device=device),
        torch.as_tensor(np.asarray(y), dtype=torch.int64, device=device),
    )


def _stamp(path: str | Path) -> tuple[int, int]:
    try:
        st = Path(path).stat()
    except OSError:
        return (0, 0)  # open_data reports the missing path
    return (st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=4)
def _open_cached(path: str, mtime_ns: int, size: int) -> Any:
    """:func:`edgenas.data.open_data` once per file version and process (a search scores every arch with
    the same images: the folder listing and the checks are not redone per arch)."""
    from ..data import open_data

    return open_data(path)


def _model_factory(space: SearchSpace, arch: Arch, dataset: str, arch_seed: int, device: str):
    from ._common import kaiming_init

    def make_model() -> torch.nn.Module:
        import torch

        model = space.build_model(arch, dataset, bn_track_running_stats=False)
        gen = torch.Generator().manual_seed(arch_seed)
        kaiming_init(model, gen)  # on CPU, so weights do not depend on the device
        return model.to(device).train()

    return make_model


def score_archs(
    space: SearchSpace,
    archs: Sequence[Arch | str],
    dataset: str,
    proxies: Sequence[str],
    *,
    seed: int = 0,
    device: str = "cpu",
    batch_size: int = 64,
    data: Any = None,
    resolution: int | None = None,
) -> list[ProxyScores]:
    """Score every arch with every proxy; an ensemble recipe (e.g. the search's default) is scored as
    ranks within ``archs`` (its value changes with the set of archs) and its components' scores come
    with it.

    Args:
        space: the search space.
        archs: archs (or arch strings / indices the space parses).
        dataset: dataset name of ``space`` (sets input size and classes).
        proxies: registered proxy or ensemble names (``edgenas proxies list``).
        seed: run seed; per-arch seeds derive from it and the arch's isomorphism key.
        device: "cpu", "cuda[:i]" or "auto".
        batch_size: B of the input batch.
        data: optional real data: path to .npy/.npz/image folder, an array, or (images, labels).
        resolution: reduced-resolution mode: model proxies see H = W = ``resolution`` inputs
            (and a ``ctx.dataset`` with that ``input_size``) instead of the dataset's; ``None``
            keeps the dataset's. The model is the same (global pooling makes it size-agnostic);
            only the proxies' cost and rankings change (measured for FBNet in the README).

    Returns:
        One :class:`ProxyScores` per arch, in input order.

    Raises:
        UnknownNameError: for an unknown proxy name (before any work is done).
    """
    from .._args import names_arg
    from .._limits import MAX_BATCH, MAX_SEED, check_int
    from ..spaces import Arch, get_space
    from .ensemble import ENSEMBLES, aggregate, ensemble_components

    if isinstance(space, str):  # a name, as everywhere else in the API
        space = get_space(space)
    proxies = names_arg("proxies", proxies)
    ensembles = [n for n in proxies if n in ENSEMBLES and n not in PROXIES]
    singles: list[str] = []
    for n in proxies:
        for c in (ensemble_components(n) if n in ensembles else (n,)):
            if c not in singles:
                singles.append(c)
    specs = [get_proxy(name) for name in singles]
    ds = space.dataset(dataset)
    check_int("seed", seed, 0, MAX_SEED)
    check_int("batch_size", batch_size, 2, MAX_BATCH)
    if resolution is not None:
        check_resolution(resolution)
        ds = replace(ds, input_size=int(resolution))
        space.check_task(ds)  # a size the space's strides do not allow would fail every arch, one by one
    device = resolve_device(device)
    # strings and indices as the CLI takes them ("6111" or 6111)
    parsed = [space.parse(str(a)) if isinstance(a, (str, int)) and not isinstance(a, bool) else a for a in archs]
    for a in parsed:
        if not isinstance(a, Arch):
            raise ArchError(f"arch {a!r} is invalid; expected an Arch of space {space.name!r}, an arch string or an "
                            "index")
    needs_model = any(s.needs == "model" for s in specs)
    inputs = targets = None
    if needs_model:
        inputs, targets = make_inputs(ds, seed=seed, batch_size=batch_size, data=data, device=device)
    results = []
    for arch in parsed:
        arch_seed = derive_seed(seed, space.iso_key(arch))
        shared: dict[str, Any] = {}
        scores: dict[str, float] = {}
        seconds: dict[str, float] = {}
        n_warn = 0
        for spec in specs:
            is_model = spec.needs == "model"
            ctx = ProxyContext(
                space=space,
                arch=arch,
                dataset=ds,
                seed=arch_seed,
                device=device,
                batch_size=batch_size,
                inputs=inputs if is_model else None,
                targets=targets if is_model else None,
                make_model=_model_factory(space, arch, dataset, arch_seed, device) if is_model else None,
                shared=shared,
            )
            t0 = time.perf_counter()
            value, problem = _run_one(spec.fn, ctx)
            if device.startswith("cuda"):
                import torch

                torch.cuda.synchronize()
            seconds[spec.name] = time.perf_counter() - t0
            if problem is not None:
                n_warn += 1
                log.warning(
                    "proxy %s on %s: %s; scored %g", spec.name, space.format(arch), problem, WORST_SCORE
                )
                value = WORST_SCORE
            scores[spec.name] = value
        shared.clear()  # drop cached graphs before the next arch
        results.append(ProxyScores(space.format(arch), scores, seconds, n_warn))
    for e in ensembles:
        comps = ensemble_components(e)
        values = aggregate(e, {c: np.array([r.scores[c] for r in results], dtype=float) for c in comps})
        for r, v in zip(results, values):
            r.scores[e] = float(v)
            r.seconds[e] = float(sum(r.seconds[c] for c in comps))
    return results


#: smallest proxy input resolution accepted (FBNet's 224-px setting downsamples 32x)
MIN_RESOLUTION = 8
#: largest: 4.5x the largest dataset resolution (224 px); a bigger one is a typo that would exhaust memory
MAX_RESOLUTION = 1024


def check_resolution(resolution: Any, *, what: str = "proxy resolution") -> int:
    """``resolution`` as an int, or :class:`ConfigError` naming the bad value."""
    if isinstance(resolution, bool) or not isinstance(resolution, int) or \
            not MIN_RESOLUTION <= resolution <= MAX_RESOLUTION:
        raise ConfigError(f"{what} {resolution!r} is invalid; expected an integer "
                          f"{MIN_RESOLUTION}..{MAX_RESOLUTION} (pixels)")
    return resolution


def _run_one(fn: Any, ctx: ProxyContext) -> tuple[float, str | None]:
    """(value, None) or (nan, reason) for one proxy call."""
    try:
        value = float(fn(ctx))
    except ProxyError as e:
        return math.nan, f"failed: {e}"
    except (RuntimeError, ValueError, ArithmeticError, IndexError) as e:  # numerical/torch failures
        return math.nan, f"failed with {type(e).__name__}: {e}"
    if not math.isfinite(value):
        return value, f"non-finite value {value}"
    return value, None
