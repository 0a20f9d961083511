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


def test_ntk_couples_samples_through_batchnorm() -> None:
    # Reference: TE-NAS's loop, one backward per sample through the whole-batch forward.
    torch.manual_seed(1)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.BatchNorm2d(4, track_running_stats=False),
        torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4 * 5 * 5, 3),
    ).train()
    x = torch.randn(6, 2, 5, 5)
    weights = [p for n, p in net.named_parameters() if "weight" in n]
    out = net(x)
    rows = []
    for i in range(x.shape[0]):
        g = torch.autograd.grad(out[i].sum(), weights, retain_graph=True)
        rows.append(torch.cat([gi.reshape(-1) for gi in g]).double())
    g_mat = torch.stack(rows)
    torch.testing.assert_close(ntk_matrix(net, x), g_mat @ g_mat.T, rtol=1e-4, atol=1e-6)
    # batch coupling matters: the NTK of sample 0 alone differs from its row in the batch NTK
    assert not torch.allclose(ntk_matrix(net, x[:2])[0, 0], ntk_matrix(net, x)[0, 0])
