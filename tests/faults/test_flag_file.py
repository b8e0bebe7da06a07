"""The flag file: the flagd format, every flag off at first, one flag switched at a time, written whole."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from musicstore.common import flags
from musicstore.common.flags import ALL_OFF, FlagProblem


def test_a_new_flag_file_defines_the_six_flags_of_the_design_in_the_flagd_format_all_off(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    assert flags.ensure_file(path)
    document = json.loads(path.read_text())
    assert document["$schema"] == flags.SCHEMA
    assert set(document["flags"]) == {"paymentFailure", "paymentLatencyMs", "storeApiLatencyMs", "storeApiFailure",
                                      "ordersUnavailable", "cartNotReady"}  # fmt: skip
    for entry in document["flags"].values():
        assert entry["state"] == "ENABLED" and entry["defaultVariant"] in entry["variants"]
    assert flags.read_values(path) == ALL_OFF == {
        "paymentFailure": 0, "paymentLatencyMs": 0, "storeApiLatencyMs": 0, "storeApiFailure": 0,
        "ordersUnavailable": False, "cartNotReady": False,
    }  # fmt: skip


def test_an_existing_flag_file_is_kept_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    flags.set_value(path, "ordersUnavailable", True)
    assert not flags.ensure_file(path)
    assert flags.read_values(path)["ordersUnavailable"] is True


def test_switching_a_flag_picks_the_variant_with_that_value_or_makes_one_and_keeps_the_others(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    flags.ensure_file(path)
    assert flags.set_value(path, "paymentFailure", 0.3)["paymentFailure"] == 0.3
    assert json.loads(path.read_text())["flags"]["paymentFailure"]["defaultVariant"] == "30%"
    values = flags.set_value(path, "storeApiLatencyMs", 750)
    entry = json.loads(path.read_text())["flags"]["storeApiLatencyMs"]
    assert entry["defaultVariant"] == "on" and entry["variants"]["on"] == 750 and entry["variants"]["1s"] == 1000
    assert values == {**ALL_OFF, "paymentFailure": 0.3, "storeApiLatencyMs": 750}
    assert flags.set_value(path, "paymentFailure", 0)["paymentFailure"] == 0
    assert json.loads(path.read_text())["flags"]["paymentFailure"]["defaultVariant"] == "off"


def test_a_missing_flag_file_is_made_when_a_flag_is_switched(tmp_path: Path) -> None:
    path = tmp_path / "new" / "flags.json"
    assert flags.set_value(path, "cartNotReady", True) == {**ALL_OFF, "cartNotReady": True}
    assert list(path.parent.iterdir()) == [path]  # no temporary file left beside it


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("nope", 1, "no flag 'nope'"),
        ("paymentFailure", 1.5, "out of range"),
        ("paymentFailure", -0.1, "out of range"),
        ("paymentFailure", True, "takes a number"),
        ("paymentFailure", "0.3", "takes a number"),
        ("storeApiLatencyMs", 60_000, "from 0 to 30000"),
        ("ordersUnavailable", 1, "takes true or false"),
        ("cartNotReady", "true", "takes true or false"),
    ],
)
def test_an_unknown_flag_or_a_value_of_the_wrong_type_or_range_is_refused_saying_why(
    tmp_path: Path, name: str, value: object, says: str
) -> None:
    path = tmp_path / "flags.json"
    flags.ensure_file(path)
    before = path.read_text()
    with pytest.raises(FlagProblem, match=says):
        flags.set_value(path, name, value)
    assert path.read_text() == before


def test_a_disabled_flag_a_missing_variant_or_a_file_that_is_not_json_reads_as_off(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    document = flags.with_value(flags.document_all_off(), "paymentFailure", 0.5)
    document = flags.with_value(document, "cartNotReady", True)
    document["flags"]["paymentFailure"]["state"] = "DISABLED"
    document["flags"]["cartNotReady"]["defaultVariant"] = "missing"
    flags.write_document(path, document)
    assert flags.read_values(path) == ALL_OFF
    path.write_text("{not json")
    assert flags.read_values(path) == ALL_OFF
    assert flags.read_values(tmp_path / "absent.json") == ALL_OFF


def test_values_edited_by_hand_out_of_range_are_brought_into_range(tmp_path: Path) -> None:
    document = flags.document_all_off()
    document["flags"]["storeApiFailure"]["variants"]["on"] = 7
    document["flags"]["storeApiFailure"]["defaultVariant"] = "on"
    document["flags"]["paymentLatencyMs"]["variants"]["on"] = -5
    document["flags"]["paymentLatencyMs"]["defaultVariant"] = "on"
    assert flags.values_of(document) == {**ALL_OFF, "storeApiFailure": 1}
