"""Blind samples in a series of their own (issue 14, item 5), and samples numbered before in one
series for all, which keep their ids when a store is imported (the import runs each event's command
again and compares)."""

from __future__ import annotations

from copy import deepcopy
from dataclasses import replace

import pytest

from renovation.domain.rerun import DoesNotFollow, rerun


def test_blind_samples_have_a_series_of_their_own_and_the_others_no_gap(started, ctx, at):
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
