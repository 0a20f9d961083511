"""Target YAML files: shipped set, aliases, validation."""

from __future__ import annotations

import pytest

from edgenas.errors import ConfigError, LatencyTableError, UnknownNameError
from edgenas.hardware.targets import list_targets, load_target, load_target_file


def test_shipped_targets():
    names = {t.name for t in list_targets()}
    for n in ("jetson-tx2", "raspi4", "pixel3", "edgetpu", "cpu", "jetson-orin-nano", "gtx1080ti-b32",
              "xeon-gold-6226", "samsung-s7"):
        assert n in names
    assert load_target("jetson").name == "jetson-tx2"
    tx2 = load_target("jetson-tx2")
    assert tx2.runtime == "tensorrt" and tx2.spaces == ("nb201",)
    assert {(r.dataset, r.column) for r in tx2.tables} == {(d, "edgegpu") for d in
                                                           ("cifar10", "cifar100", "ImageNet16-120")}


def test_unknown_target_suggests_close_names():
    with pytest.raises(UnknownNameError, match="did you mean 'jetson'") as e:
        load_target("jetsn")
    assert "\n" not in str(e.value)


def test_orin_nano_has_no_table_and_says_how_to_profile():
    t = load_target("orin-nano")
    assert t.spaces == ()
    with pytest.raises(LatencyTableError, match="no latency table for nb201/cifar10") as e:
        t.table("nb201", "cifar10")
    assert "edgenas profile --target my-orin" in (e.value.hint or "")


def test_unknown_key_and_name_mismatch_rejected(tmp_path):
    (tmp_path / "x.yaml").write_text("name: x\ndevice: d\nruntime: tensorrt\nclock_mhz: 5\n")
    with pytest.raises(ConfigError, match="unknown key.*clock_mhz"):
        list_targets(tmp_path)
    (tmp_path / "x.yaml").write_text("name: y\ndevice: d\nruntime: tensorrt\n")
    with pytest.raises(ConfigError, match="must equal the file stem"):
        list_targets(tmp_path)
    (tmp_path / "x.yaml").write_text("name: x\ndevice: d\nruntime: coreml\n")
    with pytest.raises(ConfigError, match="runtime 'coreml'"):
        list_targets(tmp_path)


@pytest.mark.parametrize("name", ["/etc/passwd", "../../secret.csv", "sub/../../x.csv", "", 5])
def test_table_files_are_confined_to_latency_tables(tmp_path, name):
    import yaml

    doc = {"name": "x", "device": "d", "runtime": "onnxruntime", "tables": {"nb201": {"cifar10": {"file": name}}}}
    (tmp_path / "x.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError, match="table file .* is invalid; expected a file name inside latency_tables") as e:
        list_targets(tmp_path)
    assert str(tmp_path / "x.yaml") in str(e.value)


@pytest.mark.parametrize("space", ["nb202", "f\\v", "1"])
def test_tables_of_an_unknown_space_are_refused(tmp_path, space):
    (tmp_path / "mine.yaml").write_text(f'name: mine\ndevice: d\nruntime: onnxruntime\ntables:\n  "{space}": {{}}\n')
    with pytest.raises(ConfigError, match="is not a search space"):
        load_target_file(tmp_path / "mine.yaml")


def test_tables_of_an_unknown_dataset_are_refused(tmp_path):
    (tmp_path / "mine.yaml").write_text("name: mine\ndevice: d\nruntime: onnxruntime\ntables:\n  nb201:\n"
                                        "    cifar11: {file: x.csv}\n")
    with pytest.raises(ConfigError, match="'cifar11' is not a nb201 dataset"):
        load_target_file(tmp_path / "mine.yaml")


def test_cpu_profile_hint_names_the_space_and_dataset_asked_for() -> None:
    from edgenas.errors import LatencyTableError
    from edgenas.hardware.targets import load_target

    with pytest.raises(LatencyTableError) as err:
        load_target("cpu").table("mobilenetv2", "imagenet")
    assert "edgenas profile --target cpu --space mobilenetv2 --dataset imagenet" in err.value.hint
    assert "{space}" not in err.value.hint


def test_cpu_target_ships_a_macro_table_with_its_held_out_check() -> None:
    from edgenas.hardware.cost import get_cost_model
    from edgenas.spaces import get_space

    space = get_space("macro")
    model = get_cost_model("cpu", space, "cifar10")
    ms = [model.predict(space.parse(a)).latency_ms for a in ("00000000", "11111111", "22222222")]
    assert 0 < ms[0] < ms[1] < ms[2], ms  # more and wider blocks cost more


def test_a_broken_user_target_never_blocks_a_shipped_one() -> None:
    from edgenas._paths import user_targets_dir

    user_targets_dir().mkdir(parents=True, exist_ok=True)
    (user_targets_dir() / "mine.yaml").write_text("name: mine\ndevice: [unclosed\n")
    assert load_target("jetson").name == "jetson-tx2"
    with pytest.raises(ConfigError, match="mine.yaml"):
        load_target("mine")
