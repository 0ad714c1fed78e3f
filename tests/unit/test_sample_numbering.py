"""Blind samples named so that their ids tell nothing (issue 14, item 5: by their command's id; B1,
B2, ... for a command without one, as in these unit tests), the others S1, S2, ... without a gap; and
samples numbered before in one series for all, which keep their ids when a store is imported (the
import runs each event's command again and compares)."""

from __future__ import annotations

from copy import deepcopy
from dataclasses import replace

import pytest

from renovation.domain.rerun import DoesNotFollow, rerun
from tests.unit.conftest import NOW


def test_without_a_command_id_blind_samples_count_apart_and_the_others_have_no_gap(started, ctx, at):
    taken = [started.sample_material("水泥", f"C-{n}", regime, None, at(10 + n), ctx)[0]
             for n, regime in enumerate(["routine", "blind", "cross", "blind", "routine"])]

    assert taken == ["S1", "B1", "S2", "B2", "S3"]


def test_a_blind_resample_is_blind_and_a_routine_resample_routine(started, ctx, at):
    started.sample_material("防水卷材", "B-1", "blind", None, at(10), ctx)
    started.record_material_result("B1", False, "检测站", None, at(11), ctx)
    started.sample_material("水泥", "C-1", "routine", None, at(12), ctx)
    started.record_material_result("S1", False, "检测站", None, at(13), ctx)

    assert started.sample_material("防水卷材", "B-1", "blind", None, at(14), ctx) == ("B2", "B1")
    assert started.sample_material("水泥", "C-1", "routine", None, at(15), ctx) == ("S2", "S1")


def test_an_imported_sample_numbered_in_the_old_single_series_keeps_its_id(started, ctx, at):
    """Before blind samples had their own series, a routine S1 then a blind sample made S2; the import
    accepts it as recorded, and the compound holds S2 (so its result, recorded as S2, follows)."""
    compound = deepcopy(started)  # as the compound stood before the samples
    started.sample_material("水泥", "C-1", "routine", None, at(10), ctx)
    started.sample_material("防水卷材", "B-1", "blind", None, at(11), ctx)
    started.record_material_result("B1", True, "检测站", None, at(12), ctx)
    routine, blind, result = started.collect_events()
    legacy_blind = replace(blind, sample_id="S2")  # as the old numbering recorded it
    legacy_result = replace(result, sample_id="S2")

    for event in (routine, legacy_blind, legacy_result):
        compound, _produced = rerun(compound, event)
    assert set(compound.samples) == {"S1", "S2"} and compound.samples["S2"].passed is True


def test_an_imported_blind_sample_with_an_id_of_neither_series_is_refused(started, ctx, at):
    compound = deepcopy(started)
    started.sample_material("水泥", "C-1", "routine", None, at(10), ctx)
    started.sample_material("防水卷材", "B-1", "blind", None, at(11), ctx)
    routine, blind = started.collect_events()

    compound, _produced = rerun(compound, routine)
    with pytest.raises(DoesNotFollow) as refused:
        rerun(compound, replace(blind, sample_id="S7"))
    assert "sample_id" in str(refused.value)


def test_a_blind_sample_of_a_command_is_named_by_its_command_and_tells_no_count(started, at):
    from renovation.domain.compound import Context

    first = Context(user="wang.supervisor", now=NOW, command_id="3f9a1c" + "0" * 26)
    same_start = Context(user="wang.supervisor", now=NOW, command_id="3f9a1c" + "1" * 26)
    routine = Context(user="wang.supervisor", now=NOW, command_id="77" * 16)

    assert started.sample_material("防水卷材", "B-1", "blind", None, at(10), first)[0] == "B3F9A1C"
    assert started.sample_material("防水卷材", "B-2", "blind", None, at(11), same_start)[0] == "B3F9A1C1"
    assert started.sample_material("水泥", "C-1", "routine", None, at(12), routine)[0] == "S1"
