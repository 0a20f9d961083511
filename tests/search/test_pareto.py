"""Non-dominated sorting and 2-D hypervolume against brute force and hand-computed values."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from edgenas.search.pareto import dominates, hypervolume_2d, non_dominated_sort, pareto_mask


def _brute_fronts(F: np.ndarray) -> list[set[int]]:
    left = set(range(len(F)))
    fronts = []
    while left:
        front = {i for i in left if not any(dominates(F[j], F[i]) for j in left if j != i)}
        fronts.append(front)
        left -= front
    return fronts


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("m", [2, 3])
def test_non_dominated_sort_matches_brute_force(seed: int, m: int) -> None:
    rng = np.random.default_rng(seed)
    # integer grid so ties and duplicates happen
    F = rng.integers(0, 6, size=(40, m)).astype(float)
    got = [set(f.tolist()) for f in non_dominated_sort(F)]
    assert got == _brute_fronts(F)
    assert set(np.flatnonzero(pareto_mask(F))) == got[0]


def test_non_dominated_sort_edge_cases() -> None:
    assert non_dominated_sort(np.zeros((0, 2))) == []
    fronts = non_dominated_sort(np.array([[1.0, 1.0], [1.0, 1.0]]))
    assert [f.tolist() for f in fronts] == [[0, 1]]  # duplicates share a front
    with pytest.raises(ValueError, match="2-D"):
        non_dominated_sort(np.zeros(3))


def test_hypervolume_known_answers() -> None:
    # one point: a rectangle
    assert hypervolume_2d([[1.0, 2.0]], (3.0, 5.0)) == pytest.approx(2.0 * 3.0)
    # staircase: [1,4]x[3,4] U [2,4]x[1,4] = 3 + 6 - 2
    assert hypervolume_2d([[1.0, 3.0], [2.0, 1.0]], (4.0, 4.0)) == pytest.approx(7.0)
    # a dominated point and a point beyond the reference add nothing
    assert hypervolume_2d([[1.0, 3.0], [2.0, 1.0], [3.0, 3.0], [5.0, 0.0]], (4.0, 4.0)) == pytest.approx(7.0)
    assert hypervolume_2d(np.zeros((0, 2)), (1.0, 1.0)) == 0.0
    assert hypervolume_2d([[1.0, 1.0]], (1.0, 2.0)) == 0.0  # on the reference line: zero width


@pytest.mark.parametrize("seed", range(5))
def test_hypervolume_matches_grid_count(seed: int) -> None:
    """Integer points: the area is the number of unit cells dominated (counted one by one)."""
    rng = np.random.default_rng(seed)
    F = rng.integers(0, 10, size=(12, 2)).astype(float)
    ref = (10.0, 10.0)
    cells = sum(
        1 for x, y in itertools.product(range(10), range(10))
        if any(p[0] <= x and p[1] <= y for p in F)
    )
    assert hypervolume_2d(F, ref) == pytest.approx(float(cells))
