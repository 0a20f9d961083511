"""Search-space abstraction.

A :class:`SearchSpace` is a stateless description of a family of networks. It parses and
formats architecture strings (round-trip), samples and mutates with an explicit numpy
Generator, enumerates small spaces, canonicalises isomorphic archs to one key, lists the
ops of an arch with their tensor shapes (for cost models, without building a model), and
builds a freshly initialised ``torch.nn.Module`` for a dataset.

torch is imported only inside :meth:`SearchSpace.build_model`, so spaces are cheap to use
for search bookkeeping and cost lookups.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .._rng import as_rng
from ..errors import ArchError, DatasetError, did_you_mean

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["Arch", "DatasetSpec", "LayerSpec", "SearchSpace", "arch_tokens", "strip_arch_text",
           "summed_size_m"]

#: what may surround an arch string or index: ASCII blanks only, so a control character (e.g. a
#: record separator, which ``str.strip`` would drop) makes the text invalid instead of an index
ARCH_TEXT_BLANKS = " \t\r\n"


def strip_arch_text(text: str) -> str:
    """``text`` without the ASCII blanks around it (nothing else is stripped)."""
    return text.strip(ARCH_TEXT_BLANKS)


def arch_tokens(text: str) -> list[str]:
    """The tokens of a layer-per-token arch string: optional brackets around them, joined by '-',
    ',', blanks or newlines (``"[k3_e1, skip]"`` and ``"k3_e1-skip"`` alike)."""
    s = strip_arch_text(text).strip("[]()")
    for sep in (",", " ", "\t", "\n"):
        s = s.replace(sep, "-")
    return [t for t in s.split("-") if t]


@dataclass(frozen=True, order=True)
class Arch:
    """One architecture of a space: its space name and its tokens (one per choice).

    ``str(arch)`` is the canonical arch string of its space.
    """

    space: str
    tokens: tuple[str, ...]
    text: str = field(compare=False, default="")

    def __str__(self) -> str:
        return self.text or "-".join(self.tokens)


@dataclass(frozen=True)
class DatasetSpec:
    """Input/output contract of a dataset: ``input_size`` is H = W in pixels."""

    name: str
    num_classes: int
    input_size: int
    channels: int = 3

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one input image."""
        return (self.channels, self.input_size, self.input_size)


@dataclass(frozen=True)
class LayerSpec:
    """One op of a network at one position, with shapes, for cost models.

    Attributes:
        position: where the op sits, e.g. ``"stage0.cell2.edge(1<-0)"`` or ``"stem"``.
        op: op type, e.g. ``"nor_conv_3x3"``; fixed parts use their own names (``"stem"``).
        in_shape: (C, H, W) of the op's input, batch excluded.
        out_shape: (C, H, W) of the op's output.
        params: extra op hyper-parameters (kernel, stride, groups, expansion), JSON-able.
    """

    position: str
    op: str
    in_shape: tuple[int, int, int]
    out_shape: tuple[int, int, int]
    params: tuple[tuple[str, Any], ...] = ()

    def key(self) -> str:
        """Shape-qualified op key used by per-op latency tables."""
        ci, hi, wi = self.in_shape
        co, ho, wo = self.out_shape
        extra = "".join(f"-{k}{v}" for k, v in self.params)
        return f"{self.op}-in{ci}x{hi}x{wi}-out{co}x{ho}x{wo}{extra}"


def summed_size_m(layers: Iterable[LayerSpec], counts: Callable[[LayerSpec], tuple[int, int]]) -> tuple[float, float]:
    """(macs_m, params_m) of a network from its layers' integer (MACs, params) counts.

    Integers are summed and divided once, so a space's closed form equals fvcore's traced value bit
    for bit (summing per-layer floats would not).
    """
    macs = params = 0
    for layer in layers:
        m, p = counts(layer)
        macs += m
        params += p
    return macs / 1e6, params / 1e6


class SearchSpace(abc.ABC):
    """Base class of search spaces. Subclasses are stateless and registered by name.

    Lifecycle: the registry creates one instance per space lazily; every method may be called
    in any order and must not mutate the instance.
    """

    #: registry name of the space
    name: str = ""
    #: human description
    description: str = ""
    #: supported datasets
    datasets: Mapping[str, DatasetSpec] = {}  # noqa: RUF012  (read-only class data)
    #: what a search of this space uses when the user gives nothing else (``None`` = the search's
    #: default): proxy, proxy batch on CPU, and reduced proxy resolution on CPU per dataset
    default_proxy: str | None = None
    cpu_batch_size: int | None = None
    cpu_proxy_resolution: Mapping[str, int] = {}  # noqa: RUF012  (read-only class data)
    #: whether ``edgenas arch show`` reports FLOPs in the space's benchmark convention
    benchmark_flops: bool = False
    #: file in ``edgenas/spaces/priors/`` holding a linear accuracy prior fitted on trained archs of
    #: this space (``tools/fit_space_prior.py``), ``None`` = the space has none
    accuracy_prior: str | None = None

    # -- strings -----------------------------------------------------------------------
    @abc.abstractmethod
    def parse(self, text: str) -> Arch:
        """Parse an arch string (or an integer index, where the space has one).

        Raises:
            ArchError: naming the bad part and what is expected.
        """

    @abc.abstractmethod
    def format(self, arch: Arch) -> str:
        """Canonical string of ``arch``; ``parse(format(a)) == a``."""

    def arch(self, tokens: tuple[str, ...] | list[str]) -> Arch:
        """Build an :class:`Arch` from tokens (validated)."""
        return self.parse(self.format(Arch(self.name, tuple(tokens))))

    # -- sampling ----------------------------------------------------------------------
    @property
    @abc.abstractmethod
    def choices(self) -> tuple[tuple[str, ...], ...]:
        """Allowed tokens per position; an arch picks one token per position."""

    @property
    def size(self) -> int:
        """Number of distinct arch strings (not isomorphism classes)."""
        n = 1
        for c in self.choices:
            n *= len(c)
        return n

    def sample(self, seed: int | np.random.Generator | None = None) -> Arch:
        """One arch drawn uniformly at random."""
        rng = as_rng(seed)
        return self.arch(tuple(c[int(rng.integers(len(c)))] for c in self.choices))

    def mutate(
        self, arch: Arch, seed: int | np.random.Generator | None = None, *, n_changes: int = 1
    ) -> Arch:
        """Change ``n_changes`` distinct positions to a different token each."""
        rng = as_rng(seed)
        tokens = list(arch.tokens)
        positions = rng.choice(len(tokens), size=min(n_changes, len(tokens)), replace=False)
        for p in positions:
            options = [t for t in self.choices[int(p)] if t != tokens[int(p)]]
            tokens[int(p)] = options[int(rng.integers(len(options)))]
        return self.arch(tuple(tokens))

    def encode(self, arch: Arch) -> np.ndarray:
        """Integer genome (index of each token in its position's choices)."""
        return np.array([c.index(t) for c, t in zip(self.choices, arch.tokens)], dtype=np.int64)

    def decode(self, genome: np.ndarray | list[int]) -> Arch:
        """Inverse of :meth:`encode`."""
        return self.arch(tuple(c[int(g)] for c, g in zip(self.choices, genome)))

    def enumerate(self, *, limit: int = 1_000_000) -> Iterator[Arch]:
        """All archs, in the space's canonical order (index order where one exists).

        Raises:
            ArchError: if the space has more than ``limit`` archs.
        """
        if self.size > limit:
            raise ArchError(f"space {self.name!r} has {self.size:.3g} archs; too many to enumerate")
        import itertools

        for combo in itertools.product(*self.choices):
            yield self.arch(combo)

    # -- identity ----------------------------------------------------------------------
    def index(self, arch: Arch) -> int | None:
        """Benchmark index of ``arch`` or ``None`` if the space has no index."""
        return None

    def from_index(self, index: int) -> Arch:
        """The arch with benchmark index ``index`` (spaces whose :meth:`index` is not ``None``).

        Raises:
            ArchError: the space has no index, or ``index`` is out of range.
        """
        raise ArchError(f"space {self.name!r} has no benchmark index; expected an arch string")

    def iso_key(self, arch: Arch) -> str:
        """Key equal for functionally identical (isomorphic) archs. Default: the arch string."""
        return self.format(arch)

    def is_degenerate(self, arch: Arch) -> bool:
        """True if the network's output cannot depend on its input (no live path from input to
        output). Such archs are never scored, never on a front and never exported: their proxy
        scores are meaningless and the model is useless. Default: no arch of the space is."""
        return False

    def arch_features(self, arch: Arch) -> dict[str, float]:
        """Named topology features of a live arch, the space's part of an accuracy prior
        (:attr:`accuracy_prior`). Default: the space has none (``NotImplementedError``)."""
        raise NotImplementedError(f"space {self.name!r} defines no arch features")

    # -- datasets and models -----------------------------------------------------------
    #: smallest input resolution a network of the space is built for, and the multiple every resolution
    #: must be (stride-2 stages whose branches must agree in size, e.g. NB201's reduction blocks)
    min_resolution: int = 8
    resolution_multiple: int = 1

    def dataset(self, dataset: str | DatasetSpec) -> DatasetSpec:
        """The :class:`DatasetSpec` of a benchmark dataset of the space (by name), or ``dataset`` itself
        when it is a spec (a task of the user's: any class count, channels 1 or 3, any resolution the
        space's strides allow; :meth:`check_task`)."""
        if isinstance(dataset, DatasetSpec):
            self.check_task(dataset)
            return dataset
        try:
            return self.datasets[dataset]
        except (KeyError, TypeError):
            close = did_you_mean(str(dataset), self.datasets)
            extra = f"; did you mean {close[0]!r}?" if close else ""
            raise DatasetError(
                f"unknown dataset {dataset!r} for space {self.name!r}; expected one of: "
                f"{', '.join(self.datasets)}{extra}"
            ) from None

    def check_task(self, task: DatasetSpec) -> None:
        """Raise :class:`DatasetError` unless the space builds a network for ``task``: 2..100,000 classes,
        1 or 3 channels, a resolution of at least :attr:`min_resolution` px, a multiple of
        :attr:`resolution_multiple`, at most 1024 px."""
        from ..data import MAX_CLASSES

        if not isinstance(task.num_classes, int) or not 2 <= task.num_classes <= MAX_CLASSES:
            raise DatasetError(f"task {task.name!r} has {task.num_classes!r} classes; expected 2..{MAX_CLASSES:,}")
        if task.channels not in (1, 3):
            raise DatasetError(f"task {task.name!r} has {task.channels!r} channels; expected 1 or 3")
        r, m = task.input_size, self.resolution_multiple
        if isinstance(r, bool) or not isinstance(r, int) or not self.min_resolution <= r <= 1024 or r % m:
            mult = f" and a multiple of {m} (its stride-2 stages)" if m > 1 else ""
            raise DatasetError(f"resolution {r!r} px is invalid for space {self.name!r}; expected "
                               f"{self.min_resolution}..1024{mult}")

    def task(self, dataset: str | DatasetSpec | None = None, *, resolution: int | None = None) -> DatasetSpec:
        """The task of ``dataset`` (a name of the space, or a spec; ``None`` = the space's first) at
        ``resolution`` px (``None`` = its own), checked (:meth:`check_task`)."""
        ds = self.dataset(next(iter(self.datasets)) if dataset is None else dataset)
        if resolution is not None and resolution != ds.input_size:
            ds = DatasetSpec(ds.name, ds.num_classes, resolution, ds.channels)
        self.check_task(ds)
        return ds

    def benchmark_dataset(self, task: str | DatasetSpec) -> str | None:
        """The name of the space's benchmark dataset that ``task`` is exactly (same name, classes,
        resolution and channels), or ``None`` for any other task."""
        ds = self.dataset(task)
        return ds.name if self.datasets.get(ds.name) == ds else None

    @abc.abstractmethod
    def layers(self, arch: Arch, dataset: str | DatasetSpec) -> list[LayerSpec]:
        """Every op of the network for ``dataset`` (a name or a task's :class:`DatasetSpec`, as every
        ``dataset`` argument of a space) with its shapes, in forward order."""

    def compiled_layers(self, arch: Arch, dataset: str, *, node_ops: bool = False,
                        reads: bool = False) -> list[LayerSpec]:
        """The layers a graph compiler (TensorRT, TFLite) still runs after removing dead code, for
        latency models of compiled runtimes (:func:`edgenas.hardware.cost.get_cost_model`).
        ``node_ops`` / ``reads`` ask for extra per-node layers where the space has nodes that sum
        several inputs. Default: :meth:`layers` (no op of the space is ever dead)."""
        return self.layers(arch, dataset)

    def layer_module(self, layer: LayerSpec, *, bn_track_running_stats: bool = True) -> torch.nn.Module:
        """A torch module computing one layer of :meth:`layers` alone, for per-op profiling
        (``edgenas profile``); an identity layer is an ``nn.Identity`` (no node in a graph).

        Raises:
            ConfigError: the space has no per-op builder (profile whole models instead).
        """
        from ..errors import ConfigError

        raise ConfigError(f"space {self.name!r} has no per-op builder for profiling; "
                          "expected a space that implements layer_module()")

    @abc.abstractmethod
    def build_model(self, arch: Arch, dataset: str | DatasetSpec, **options: Any) -> torch.nn.Module:
        """A freshly initialised model (PyTorch default init) in train mode, for any task the space
        accepts (:meth:`check_task`): input (B, channels, input_size, input_size), num_classes logits.

        Model protocol (what proxies may rely on):

        * ``forward(x)`` maps (B, C, H, W) to logits (B, num_classes);
        * ``stem`` and ``blocks`` (sequence of modules): ``f_0 = stem(x)``,
          ``f_l = blocks[l-1](f_{l-1})``; ``forward_features(x)`` returns ``[f_0, ..., f_L]``;
        * ``forward_pre_logits(x)`` returns the pooled features (B, D) fed to ``classifier``.

        Options (all optional): ``bn_track_running_stats`` (bool, default True).
        """
