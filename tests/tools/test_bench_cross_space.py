"""tools/bench_cross_space.py: the summary of cases and the MACs pricing of MACs-budget searches."""

from __future__ import annotations

import math

import pytest

from tests.tools._load import load_tool

tool = load_tool("bench_cross_space")


def _case(pick: float, params: float, macs: float, oracle: float = 90.0) -> dict:
    acc = {"pick": pick, "max_params": params, "max_macs": macs, "mean": 80.0}
    return {"acc": acc, "gap_pp": {k: oracle - v for k, v in acc.items()}}


def test_summary_gaps_and_shares_worse_than_the_size_picks() -> None:
    cases = [_case(89.0, 88.0, 89.5), _case(90.0, 90.0, 85.0), _case(87.0, 89.0, 86.0), _case(89.5, 80.0, 89.5)]
    s = tool.summarise(cases)
    assert s["cases"] == 4
    assert s["pick"]["median"] == pytest.approx(0.75) and s["pick"]["worst"] == pytest.approx(3.0)
    assert s["share_worse_than_max_params"] == pytest.approx(0.25)  # case 3 only
    assert s["share_worse_than_max_macs"] == pytest.approx(0.25)  # case 1 only (a tie is not worse)


def test_macs_cost_and_table_numbers() -> None:
    from edgenas.spaces import get_space

    space = get_space("macro")
    a = space.parse("22222222")
    cost = tool.MacsCost(lambda arch: (123.5, 2.0))
    p = cost.predict(a)
    assert p.latency_ms == 123.5 and p.source == "macs"
    assert tool._num(None, 3) == "-" and tool._num(math.nan, 2) == "-" and tool._num(0.52749, 3) == "0.527"


def test_table_record_names_the_profiled_macro_table() -> None:
    """--targets cpu on macro prices from the table `edgenas profile --target cpu --space macro` wrote."""
    from edgenas._paths import user_latency_tables_dir
    from edgenas.hardware.cost import get_cost_model
    from edgenas.hardware.tables import OpLatencyTable, save_op_table
    from edgenas.spaces import get_space

    space = get_space("macro")
    pre = {"space": "macro", "order": "choices", "n": space.size, "units": "ms", "ms": [1.0] * space.size}
    meta = {"space": "macro", "dataset": "cifar10", "source": "test", "license": "CC0", "cpu_model": "test cpu",
            "check": {"predictor": "kernels", "kernels": {"mape": 2.0, "n": 9}}}
    path = user_latency_tables_dir() / "macro_cifar10_cpu_ops.json"
    save_op_table(OpLatencyTable(meta, {"x": 1.0}, "shape", 0.0, 1.0, {"entries": {"K": 1.0}, "space_ms": pre}), path)
    rec = tool.table_record(get_cost_model("cpu", space, "cifar10"))
    assert rec["file"] == str(path) and rec["cpu_model"] == "test cpu"
    assert rec["held_out_check"] == {"predictor": "kernels", "mape": 2.0, "n": 9}
    assert rec["space_predictions"]["n"] == space.size and "ms" not in rec["space_predictions"]
    assert tool.table_record(get_cost_model("jetson", "nb201", "cifar10"))["target"] == "jetson-tx2"


def test_table_with_live_seeds_reads_the_table_for_the_run_seed_and_scores_other_seeds_live(tmp_path, one_thread) -> None:
    from edgenas.search.scoring import ProxyScorer, TableScorer
    from edgenas.spaces import get_space

    space = get_space("macro")
    arch = space.parse("12012012")
    path = tmp_path / "t.csv"
    path.write_text("arch,flops,az_expressivity,sed\n12012012,1.5,-7.25,3.0\n")
    wrapped = tool.TableWithLiveSeeds(TableScorer(space=space, path=str(path), ensemble="edgenas_paths"),
                                      "cifar10", "edgenas_paths", batch_size=4)
    own = wrapped.score([arch])[0].values
    assert own["az_expressivity"] == -7.25 and own["flops"] == 1.5 and wrapped.n_live == 0
    other = wrapped.score([arch], seed=5)[0].values
    want = ProxyScorer(space=space, dataset="cifar10", proxy="edgenas_paths", seed=0, batch_size=4).score(
        [arch], seed=5)[0].values
    assert other == pytest.approx(want) and other["az_expressivity"] != -7.25
    wrapped.score([arch], seed=5)
    assert wrapped.n_live == 1, "a seed scored once is looked up, not scored again"
    assert wrapped.components == ("flops", "depth", "az_expressivity", "sed", "skipped_depth")
