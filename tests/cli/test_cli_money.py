"""Metering (计量), corrections, variations (变更) and horse-race scores (赛马) through the CLI."""

from __future__ import annotations

from cli_support import Renovation, event_count


def test_meter_prints_the_entry_id_and_value(run: Renovation, started: str) -> None:
    before = event_count(run.db)

    result = run.ok("meter", "JM", "--item", "A1", "--period", "2021-03", "--quantity", "60")

    assert result.output.strip() == "Metering entry M1: A1 2021-03 quantity 60, value 7407.00 yuan."
    assert event_count(run.db) == before + 1


def test_meter_with_json_names_the_entry_id(run: Renovation, started: str) -> None:
    recorded = run.json("meter", "JM", "--item", "B2", "--period", "2021-04", "--quantity", "12.5")

    assert recorded == {
        "code": "JM", "entry_id": "M1", "item": "B2", "period": "2021-04", "quantity": "12.5", "value": "2312.50",
    }
    assert run.json("meter", "JM", "--item", "A1", "--period", "2021-04", "--quantity", "1")["entry_id"] == "M2"


def test_metering_counts_in_the_compounds_value(run: Renovation, started: str) -> None:
    run.ok("meter", "JM", "--item", "A1", "--period", "2021-03", "--quantity", "60")
    run.ok("meter", "JM", "--item", "B2", "--period", "2021-04", "--quantity", "12.5")

    (row,) = run.json("compound", "list")

    assert row["metered_value"] == "9719.50"  # 7407.00 + 2312.50


def test_meter_correct_keeps_the_original_and_prints_both_quantities(run: Renovation, started: str) -> None:
    run.ok("meter", "JM", "--item", "A1", "--period", "2021-03", "--quantity", "60")
    before = event_count(run.db)

    corrected = run.ok("meter", "correct", "JM", "M1", "--quantity", "58.5", "--reason", "复核现场实测")

    assert corrected.output.strip() == "Corrected M1: quantity 60 -> 58.5, value 7221.83 yuan."
    assert event_count(run.db) == before + 1
    again = run.json("meter", "correct", "JM", "M1", "--quantity", "0", "--reason", "重复计量")
    assert again["entry_id"] == "M1"
    assert again["previous_quantity"] == "58.5"
    assert again["quantity"] == "0"
    assert again["value"] == "0.00"
    assert again["reason"] == "重复计量"


def test_metering_beyond_the_contract_quantity_is_refused_until_a_variation(run: Renovation, started: str) -> None:
    run.ok("meter", "JM", "--item", "A1", "--period", "2021-03", "--quantity", "80")
    before = event_count(run.db)

    refused = run("meter", "JM", "--item", "A1", "--period", "2021-04", "--quantity", "30")

    assert refused.exit_code == 1
    (message,) = run.lines(refused)
    assert "contract quantity 100" in message
    assert "cumulative so far 80" in message
    assert "excess 10" in message
    assert "Traceback" not in refused.output
    assert event_count(run.db) == before

    variation = run.json("variation", "JM", "--item", "A1", "--quantity", "120", "--reason", "变更令 BG-07")
    assert variation == {
        "code": "JM", "item": "A1", "previous_quantity": "100", "quantity": "120", "reason": "变更令 BG-07",
    }

    allowed = run.json("meter", "JM", "--item", "A1", "--period", "2021-04", "--quantity", "30")
    assert allowed["entry_id"] == "M2"


def test_variation_in_words(run: Renovation, started: str) -> None:
    result = run.ok("variation", "JM", "--item", "B2", "--quantity", "65", "--reason", "变更令 BG-08")

    assert result.output.strip() == "Variation of B2 at JM: contract quantity 50 -> 65."


def test_score_then_correct_it_with_a_reason(run: Renovation, started: str) -> None:
    dimensions = ("--quality", "92", "--safety", "88", "--progress", "85", "--civilized", "90", "--satisfaction", "95")
    scored = run.ok("score", "JM", "--period", "2021-04", *dimensions)
    assert scored.output.strip() == "Scored JM for 2021-04."

    twice = run("score", "JM", "--period", "2021-04", *dimensions)
    assert twice.exit_code == 1
    assert len(run.lines(twice)) == 1
    assert "--correct" in twice.output

    corrected = run.json("score", "JM", "--period", "2021-04", *dimensions[:-1], "96.5", "--correct",
                         "--reason", "满意度复核")
    assert corrected["correction"] is True
    assert corrected["satisfaction"] == "96.5"
    assert run.json("compound", "show", "JM")["scored_periods"] == ["2021-04"]


def test_a_recorded_command_whose_output_cannot_be_written_still_succeeds(run: Renovation, started: str) -> None:
    """stdout on a full disk: the event is stored, so the command exits 0 and says on stderr that its
    confirmation could not be printed; no traceback, and nothing recorded twice. (/dev/full is only
    written to here, as a process's stdout; it is never a path the tracker is given.)"""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import pytest
    from cli_support import ENV

    if not Path("/dev/full").is_char_device():
        pytest.skip("no /dev/full on this machine")
    before = event_count(run.db)
    with open("/dev/full", "w") as full:
        finished = subprocess.run(
            [sys.executable, "-c", "from renovation.cli import cli; cli()", "--db", str(run.db), "--user", "tester",
             "meter", "JM", "--item", "A1", "--period", "2021-04", "--quantity", "1", "--json"],
            stdout=full, stderr=subprocess.PIPE, text=True, check=False,
            env={key: value for key, value in {**os.environ, **ENV}.items() if value is not None},
        )

    assert finished.returncode == 0, finished.stderr
    assert "Traceback" not in finished.stderr
    assert "recorded, but its confirmation could not be printed" in finished.stderr
    assert event_count(run.db) == before + 1


def test_a_recorded_command_without_any_stdout_still_succeeds(run: Renovation, started: str) -> None:
    """Started with stdout closed (`>&-`): recorded, exit 0, a note on stderr."""
    import os
    import subprocess
    import sys

    from cli_support import ENV

    before = event_count(run.db)
    finished = subprocess.run(
        [sys.executable, "-c", "from renovation.cli import cli; cli()", "--db", str(run.db),
         "--user", "tester", "meter", "JM", "--item", "A1", "--period", "2021-04", "--quantity", "1"],
        stderr=subprocess.PIPE, text=True, check=False, preexec_fn=lambda: os.close(1),
        env={key: value for key, value in {**os.environ, **ENV}.items() if value is not None},
    )

    assert finished.returncode == 0, finished.stderr
    assert "Traceback" not in finished.stderr and "recorded, but" in finished.stderr
    assert event_count(run.db) == before + 1
