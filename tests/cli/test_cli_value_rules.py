"""The value rules as the CLI says them (one source: ``renovation.domain.rules``): the limits and
words users met before the rules moved there, kept."""

from __future__ import annotations

import json
from pathlib import Path

from cli_support import Renovation, event_count


def test_minus_zero_typed_is_zero(run: Renovation, started: str) -> None:
    entry = run.json("meter", "JM", "--item", "A1", "--period", "2021-04", "--quantity", "2")["entry_id"]

    corrected = run.json("meter", "correct", "JM", entry, "--quantity", "-0", "--reason", "复核")

    assert corrected["quantity"] == "0"
    refused = run("meter", "JM", "--item", "A1", "--period", "2021-04", "--quantity", "-0")
    assert refused.exit_code == 2
    assert run.lines(refused) == ["Error: --quantity: '-0' must be greater than zero"]


def test_a_negative_quantity_is_called_negative(run: Renovation, started: str) -> None:
    refused = run("meter", "JM", "--item", "A1", "--period", "2021-04", "--quantity", "-5")

    assert run.lines(refused) == ["Error: --quantity: '-5' is negative"]


def test_the_largest_amount_is_written_out(run: Renovation, started: str) -> None:
    refused = run("meter", "JM", "--item", "A1", "--period", "2021-04", "--quantity", "1e13")

    assert run.lines(refused) == ["Error: --quantity: '1e13' is larger than 1000000000000"]


def test_a_bill_of_quantities_description_is_at_most_200_characters(run: Renovation, registered: str,
                                                                     tmp_path: Path) -> None:
    boq = tmp_path / "boq.csv"
    boq.write_text("item,description,unit,quantity,unit_price\n" f"A1,{'长' * 201},m,1,1\n", encoding="utf-8")
    before = event_count(run.db)

    refused = run("boq", "import", "JM", str(boq))

    assert refused.exit_code == 2 and "longer than 200 characters" in refused.output
    assert event_count(run.db) == before
    boq.write_text("item,description,unit,quantity,unit_price\n" f"A1,{'长' * 200},m,1,1\n", encoding="utf-8")
    assert json.loads(run.ok("boq", "import", "JM", str(boq), "--json").stdout)["items"] == 1


def test_digits_of_other_scripts_are_not_numbers(run: Renovation, started: str) -> None:
    """Python reads "١٢" (Arabic-Indic) as 12; a quantity typed so is refused, not recorded as 12."""
    before = event_count(run.db)

    refused = run("meter", "JM", "--item", "A1", "--period", "2021-04", "--quantity", "١٢")

    assert refused.exit_code == 2 and "is not a number" in refused.output
    wide = run("meter", "JM", "--item", "A1", "--period", "２０２１-04", "--quantity", "1")
    assert wide.exit_code == 2 and "is not a period" in wide.output
    assert event_count(run.db) == before


def test_an_oversized_finding_is_not_echoed_whole(run: Renovation, started: str) -> None:
    refused = run("inspect", "JM", "--kind", "patrol", "--finding", "quality:minor:" + "长" * 10_000)

    assert refused.exit_code == 2
    (line,) = run.lines(refused)
    assert len(line) < 300
