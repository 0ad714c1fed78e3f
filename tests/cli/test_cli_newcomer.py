"""A newcomer's first ten minutes (issue 13, item 9): help where help is asked for, nothing created by a
read, no lock file left behind, and help text that reads as text."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from cli_support import ENV, REGISTER_JM, Renovation, event_count
from click.testing import CliRunner

from renovation.cli import cli


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env=ENV, prog_name="renovation")
    return result.exit_code, result.output


@pytest.mark.parametrize("group", [(), ("meter",), ("compound",), ("finding",), ("feedback",), ("db",)])
def test_a_group_without_its_subcommand_prints_its_help(group: tuple[str, ...]) -> None:
    code, output = invoke(*group)

    assert code == 0
    assert output.startswith("Usage: renovation") and "Error" not in output
    assert "\nCommands:\n" in output and len(output.splitlines()) > 5


def test_the_default_subcommands_are_listed_in_their_groups() -> None:
    _code, meter = invoke("meter", "--help")
    _code, feedback = invoke("feedback", "--help")

    assert "  record " in meter and "  correct " in meter
    assert "  receive " in feedback and "  resolve " in feedback


def every_help(command: click.Command, path: list[str], parent: click.Context | None) -> list[tuple[str, str]]:
    context = click.Context(command, info_name=path[-1], parent=parent)
    found = [(" ".join(path), command.get_help(context))]
    if isinstance(command, click.Group):
        for name in command.list_commands(context):
            sub = command.get_command(context, name)
            assert sub is not None
            found += every_help(sub, [*path, name], context)
    return found


def test_help_reads_as_text_and_numbers_are_not_text() -> None:
    helps = every_help(cli, ["renovation"], None)

    assert len(helps) > 40
    assert [path for path, text in helps if "``" in text] == []
    numeric = ("--households", "--contract-value", "--count", "--quantity", "--quality", "--safety", "--progress",
               "--civilized", "--satisfaction")
    typed_as_text = [f"{path}: {line.strip()}" for path, text in helps for line in text.splitlines()
                     if line.strip().startswith(numeric) and " TEXT " in line]
    assert typed_as_text == []


@pytest.mark.parametrize("read", [("progress",), ("compound", "list"), ("finding", "list"), ("db", "info"),
                                  ("digest",), ("audit", "verify"), ("projections", "status")])
def test_a_read_where_there_is_no_store_creates_nothing_and_says_how_to_begin(tmp_path: Path,
                                                                             read: tuple[str, ...]) -> None:
    db = tmp_path / "renovation.db"

    result = CliRunner().invoke(cli, ["--db", str(db), *read], env=ENV)

    assert result.exit_code == 2, result.output
    (line,) = result.output.strip().splitlines()
    assert f"no store at {db}" in line and "renovation demo" in line
    assert list(tmp_path.iterdir()) == []


def test_a_write_leaves_no_lock_file_behind(tmp_path: Path) -> None:
    run = Renovation(tmp_path / "r.db")

    run.ok(*REGISTER_JM)
    run.ok("demolition", "record", "JM", "--count", "2")

    assert sorted(path.name for path in tmp_path.iterdir() if "lock" in path.name) == []


def renovation_process(*args: str, stdout: int | None = None) -> subprocess.CompletedProcess[str]:
    """The command in a process of its own, as a user's shell runs it (no terminal)."""
    env = {key: value for key, value in {**os.environ, **ENV}.items() if value is not None}
    return subprocess.run([sys.executable, "-c", "from renovation.cli import cli; cli()", *args], env=env,
                          stdout=subprocess.PIPE if stdout is None else stdout, stderr=subprocess.PIPE, text=True,
                          timeout=120, check=False)


def test_no_leading_blank_line_and_no_bar_without_a_terminal(tmp_path: Path) -> None:
    source, target = tmp_path / "source.db", tmp_path / "target.db"
    exported = tmp_path / "events.jsonl"
    runs = [
        renovation_process("--db", str(source), "--user", "tester", "demo", "--compounds", "1",
                           "--until", "2021-03-01"),
        renovation_process("--db", str(source), "export", str(exported)),
        renovation_process("--db", str(target), "--user", "tester", "import", str(exported)),
        renovation_process("--db", str(source), "projections", "rebuild"),
    ]

    for run in runs:
        assert run.returncode == 0, run.stderr
        assert run.stdout.splitlines()[0].strip(), run.stdout[:200]  # the answer first
        assert run.stderr == "", run.stderr  # no progress bar drawn into a log


def test_an_import_whose_answer_cannot_be_printed_has_still_succeeded(tmp_path: Path) -> None:
    source = tmp_path / "source.db"
    exported = tmp_path / "events.jsonl"
    assert renovation_process("--db", str(source), "--user", "t", *REGISTER_JM).returncode == 0
    assert renovation_process("--db", str(source), "export", str(exported)).returncode == 0
    read, write = os.pipe()
    os.close(read)  # whoever read the answer has gone: writing to stdout fails (a broken pipe)
    try:
        result = renovation_process("--db", str(tmp_path / "t.db"), "--user", "t", "import", str(exported),
                                    stdout=write)
    finally:
        os.close(write)

    assert result.returncode == 0, result.stderr
    assert "imported, but its confirmation could not be printed" in result.stderr
    assert "Traceback" not in result.stderr
    assert event_count(tmp_path / "t.db") == 1


def test_under_lang_zh_the_commands_and_the_error_prefix_are_chinese() -> None:
    from renovation.cli.zh_help import SHORT_HELP

    paths = [path.removeprefix("renovation ") for path, _help in every_help(cli, ["renovation"], None)[1:]]
    code, top = invoke("--lang", "zh")
    _code, meter = invoke("--lang", "zh", "meter", "--help")
    bad = CliRunner().invoke(cli, ["--lang", "zh", "ranking", "--period", "2021-13"], env=ENV)

    assert sorted(set(paths) - set(SHORT_HELP)) == []  # every command has its Chinese line
    assert code == 0 and "命令:" in top and "每日待办" in top and "  ranking       赛马：排名榜与计算分的解释。" in top
    assert "更正一笔计量。" in meter and "记录一期计量数量" in meter
    assert bad.exit_code == 2 and bad.output.startswith("错误: --period")


def test_what_a_command_did_is_said(tmp_path: Path) -> None:
    run = Renovation(tmp_path / "r.db")
    run.ok(*REGISTER_JM)
    scores = [part for name in ("quality", "safety", "progress", "civilized", "satisfaction")
              for part in (f"--{name}", "80")]
    run.ok("construction", "start", "JM", "--date", "2021-03-01")
    run.ok("score", "JM", "--period", "2021-03", *scores)

    corrected = run.ok("score", "JM", "--period", "2021-03", *scores, "--correct", "--reason", "复核")
    unscored = run.ok("ranking", "--period", "2021-01")
    digest = run.ok("audit", "digest").output.strip()
    verified = run.ok("audit", "verify", "--digest", digest)
    run.ok("backup", str(tmp_path / "copy.db"))
    restored = Renovation(tmp_path / "other.db").ok("restore", str(tmp_path / "copy.db"))
    before = run("audit", "replay", "JM", "--as-of", "2020-01-01")
    report = run.ok("report", "--html", str(tmp_path / "r.html"), "--period", "2021-01")

    assert corrected.output.strip() == "Corrected the score of JM for 2021-03."
    assert unscored.output.strip() == "nobody was scored for 2021-01"
    assert f"the digest {digest} matched" in verified.output
    assert "events verified" in restored.output
    assert before.exit_code == 1 and "JM was not registered by 2020-01-01" in before.output
    assert "nobody was scored for it" in report.output


def test_a_read_where_there_is_no_store_creates_nothing_on_either_backend(run: Renovation) -> None:
    result = run("progress")

    assert result.exit_code == 2 and "no store at" in result.output
    if isinstance(run.db, str) and run.db.startswith("postgresql://"):
        import psycopg

        base, _, query = run.db.partition("?")
        with psycopg.connect(base) as connection:
            found = connection.execute("SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = %s",
                                       (query.removeprefix("schema="),)).fetchone()
        assert found == (0,)
    else:
        assert not Path(run.db).exists()


@pytest.mark.parametrize("target", ["/dev/stdout", "/dev/null", "/proc/self/fd/1"])
def test_an_output_to_a_device_is_refused(run: Renovation, target: str) -> None:
    run.ok("db", "zone", "Asia/Shanghai")

    result = run("digest", "--html", target)

    assert result.exit_code == 2 and "a device or system path" in result.output
