from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from edgenas.proxies.ntk_cond import DEGENERATE_COND, condition_number, ntk_matrix


def test_ntk_of_linear_model_is_classes_times_gram() -> None:
    # f(x) = W x, s_n = sum_c (W x_n)_c, ds_n/dW = 1 x_n^T, so Theta = C * X X^T.
    torch.manual_seed(0)
    lin = torch.nn.Linear(5, 3, bias=False)
    x = torch.randn(4, 5)
    expected = 3.0 * (x @ x.T).double()
    torch.testing.assert_close(ntk_matrix(lin, x), expected, rtol=1e-5, atol=1e-5)


def test_condition_number_known_and_degenerate() -> None:
    assert condition_number(torch.diag(torch.tensor([1.0, 2.0, 8.0], dtype=torch.float64))) == pytest.approx(
        8.0
    )
    assert condition_number(torch.zeros(3, 3, dtype=torch.float64)) == DEGENERATE_COND
