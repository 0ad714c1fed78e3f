"""``renovation report --html``: one self-contained HTML file with the board, progress, quality and
every compound; labels follow --lang; a bad --period is refused in one line."""

from __future__ import annotations

import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from cli_support import Renovation

NAMED_COMPOUNDS = ("JM", "LY", "YH", "SBCY", "KX9301", "HH")
DEMO_LAST_DAY = "2021-04-30"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Renovation:
    """The six named compounds of the demo, simulated to the end of April (built once for the module)."""
    run = Renovation(tmp_path_factory.mktemp("report") / "demo.db")
    run.ok("demo", "--compounds", "6", "--until", DEMO_LAST_DAY)
    return run


def report(run: Renovation, path: Path, *args: str, lang: str = "en") -> str:
    result = run.ok("--today", DEMO_LAST_DAY, "report", "--html", str(path), *args, lang=lang)
    assert str(path) in result.output
    return path.read_text(encoding="utf-8")


def test_report_is_one_html_file_that_fetches_nothing(demo: Renovation, tmp_path: Path) -> None:
    page = report(demo, tmp_path / "report.html")

    assert page.startswith("<!DOCTYPE html>")
    assert page.rstrip().endswith("</html>")
    for outside in ("<script", "<link", "<img", "<iframe", "@import", "@font-face", "<?xml", "<!DOCTYPE svg"):
        assert outside not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.IGNORECASE)
    assert not re.search(r"url\(\s*['\"]?\s*(https?:)?//", page, re.IGNORECASE)
    assert page.count("<svg") >= 5  # matplotlib's SVG, inline


def test_report_has_the_board_progress_quality_and_every_compound(demo: Renovation, tmp_path: Path) -> None:
    page = report(demo, tmp_path / "report.html")

    for element in ("board-contractors", "board-compounds", "chart-percent", "chart-value", "chart-findings",
                    "chart-coverage", "chart-materials", "quality-contractors", "compound-table"):
        assert f'id="{element}"' in page
    compound_table = page[page.index('id="compound-table"'):]
    for code in NAMED_COMPOUNDS:
        assert f"<td>{code}</td>" in compound_table
    latest = demo.json("ranking")[0]["period"]
    assert f"horse-race period {latest}" in page  # the latest scored, by default
    assert "As of 2021-04-30" in page  # counted to --today
    assert '<tr class=last>' in page
    assert "Cumulative metered value against plan" in page


def test_report_in_chinese_has_chinese_titles_and_headers(demo: Renovation, tmp_path: Path) -> None:
    page = report(demo, tmp_path / "report.html", lang="zh")

    assert '<html lang="zh-CN">' in page
    for words in ("赛马排名", "按施工单位", "按小区", "<th>名次</th>", "<th>施工单位</th>", "<th>完成率%</th>",
                  "<th>名次变化</th>", "末位", "各施工单位晨检覆盖率", "累计计量产值", "全部小区", "吉明小区"):
        assert words in page, words
    assert "Horse-race board" not in page


def test_report_of_a_period_without_scores_still_renders_and_says_so(demo: Renovation, tmp_path: Path) -> None:
    page = report(demo, tmp_path / "report.html", "--period", "2020-01")

    assert "No scores for period 2020-01." in page
    assert 'id="board-contractors"' not in page
    assert 'id="compound-table"' in page


def test_report_of_an_empty_store_still_renders(run: Renovation, tmp_path: Path) -> None:
    path = tmp_path / "empty.html"
    run.ok("db", "zone", "Asia/Shanghai")  # an empty store

    run.ok("report", "--html", str(path))

    page = path.read_text(encoding="utf-8")
    assert "No period has been scored yet." in page
    assert page.count("<svg") >= 5


@pytest.mark.parametrize("period", ["2021-13", "May", "2021-5", ""])
def test_a_bad_period_is_refused_in_one_line_and_nothing_is_written(demo: Renovation, tmp_path: Path,
                                                                     period: str) -> None:
    path = tmp_path / "report.html"

    result = demo("report", "--html", str(path), "--period", period)

    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert len(demo.lines(result)) == 1
    assert "--period" in result.output
    assert not path.exists()


def test_an_unwritable_file_is_refused_in_one_line(demo: Renovation, tmp_path: Path) -> None:
    result = demo("report", "--html", str(tmp_path / "no-such-dir" / "report.html"))

    assert result.exit_code == 2
    assert len(demo.lines(result)) == 1
    assert "cannot write" in result.output


def test_weights_from_a_config_file_are_shown_and_bad_ones_refused_in_one_line(demo: Renovation, tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "renovation.toml"
    config.write_text("[ranking.weights]\nquality = 40\nsafety = 20\nprogress = 20\ncivilized = 10\n"
                      "satisfaction = 10\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)

    assert "Quality 40 · Safety 20 · Progress 20 · Civilized 10 · Satisfaction 10" in report(demo, tmp_path / "r.html")

    config.write_text(config.read_text(encoding="utf-8").replace("40", "50"), encoding="utf-8")
    result = demo("report", "--html", str(tmp_path / "bad.html"))

    assert result.exit_code == 2
    assert len(demo.lines(result)) == 1
    assert "sum to 100" in result.output
    assert not (tmp_path / "bad.html").exists()


def test_report_needs_a_file(demo: Renovation) -> None:
    result = demo("report")

    assert result.exit_code == 2
    assert "--html" in result.output


def test_metered_value_by_period_counts_corrections(run: Renovation, started: str) -> None:
    from renovation.projections import read_models
    from renovation.projections.ledger import metered_value_by_period
    from renovation.services.application import RenovationApp

    run.ok("meter", started, "--item", "A1", "--period", "2021-03", "--quantity", "10")  # 1,234.50
    entry = run.json("meter", started, "--item", "B2", "--period", "2021-03", "--quantity", "2")["entry_id"]
    run.ok("meter", started, "--item", "A1", "--period", "2021-04", "--quantity", "1")  # 123.45
    run.ok("meter", "correct", started, entry, "--quantity", "3", "--reason", "re-measured")  # 555.00

    app = RenovationApp(str(run.db))
    models = read_models(app)
    try:
        models.catch_up("ledger")
        with models.engine.connect() as connection:
            by_period = metered_value_by_period(connection)
    finally:
        models.close()
        app.close()

    assert by_period == {"2021-03": Decimal("1789.50"), "2021-04": Decimal("123.45")}
    assert list(by_period) == sorted(by_period)


def test_help_does_not_import_matplotlib_or_the_database_layers() -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from renovation.cli import cli\n"
        "assert CliRunner().invoke(cli, ['--help']).exit_code == 0\n"
        "assert CliRunner().invoke(cli, ['report', '--help']).exit_code == 0\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'matplotlib', 'pydantic', 'sqlalchemy', "
        "'eventsourcing'}))\n"
    )

    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert found.stdout.strip() == "[]"
