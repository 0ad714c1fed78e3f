"""Hostile command lines (issue 7): every write command, with each option drawn from valid values and
from wrong types, non-finite and huge numbers, control characters, lone surrogates, very long strings,
impossible dates and odd offsets. Whatever is typed: no traceback, exit 0, 1 or 2; an error is ONE line
and records nothing; a success records exactly one event.

Each example runs on a copy of one small store built once through the CLI (JM started, with a bill of
quantities, an inspection with a finding, a sample, a metering entry and a feedback ticket; LY only
registered), so examples never see each other's writes.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path

import pytest
from cli_support import BOQ_CSV, ENV, REGISTER_JM, Renovation, checkpoint, event_count
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from renovation.cli import cli

S = st.SearchStrategy[str]

# ------------------------------------------------------------------ hostile values, by what they pretend to be

NUMBERS = [
    "NaN", "nan", "-NaN", "sNaN", "Infinity", "-Infinity", "inf", "-inf", "1e400", "-1e400", "1e-400", "1E+3",
    "4.2E+3", "-0", "0", "0.0", "-0.00", "0.00001", "1_000", "1__0", "_1", "０１２", "١٢٣", "1,000", " 12 ", "12.",
    ".5", "+5", "0x10", "0b1", "1/2", "½", "Ⅻ", "9" * 50, "1" + "0" * 12, "1000000000000.0001",
    "999999999999.9999", "1e12", "100.001", "100.01", "-5", "5-", "12\x00", "1e", "e5", "--1", "true", "null",
    "[]", "{}", "1.2.3", "100000", "100001", "2147483648", "9223372036854775808", "-9223372036854775809",
]
DATES = [
    "2021-02-30", "2021-02-29", "2020-02-29", "9999-12-31", "0001-01-01", "0000-00-00", "2021-3-1", "2021-03-1",
    "20210301", "2021/03/01", "２０２１-０３-０１", "2021-03-01T06:30", "2021-03-01 ", "10000-01-01", "-2021-03-01",
    "2021-13-01", "2021-03-32", "2021-W09-1", "2021-060", "today", "2021-03-01\x00", "٢٠٢١-٠٣-٠١",
    "1899-12-31", "1900-01-01", "2999-12-31", "3000-01-01",
]
MOMENTS = [
    "2021-03-02T06:30+14:00", "2021-03-02T06:30-12:00", "2021-03-02T06:30+23:59", "2021-03-02T06:30+24:00",
    "2021-03-02T06:30-23:59:59.999999", "2021-03-02T06:30+05:45", "2021-03-02T06:30:00.123456789",
    "2021-03-02T24:00", "2021-03-02T06:60", "2021-03-02T06:30Z", "2021-03-02t06:30", "2021-03-02 06:30",
    "0001-01-01T00:00+01:00", "0001-01-01T00:00", "0001-01-01", "9999-12-31T23:59:59-01:00",
    "9999-12-31T23:59:59.999999", "9999-12-31", "2021-02-30T06:30", "2021-03-02T06:30+08:00[Asia/Shanghai]",
    "2021-W09-2T06:30", "20210302T0630", "2021-03-02T06:30 +08:00", "2021-03-02T06:30\x00",
    "１９７０-０１-０１T00:00", "0001-01-01T00:00+14:00", "0001-01-01T05:00+08:00", "9999-12-31T23:59:59-12:00",
    "9999-12-31T20:00-08:00", "1899-12-31T23:59-01:00", "1900-01-01T00:00+14:00", "2999-12-31T23:59-12:00",
]
PERIODS = [
    "2021-00", "2021-1", "2021-13", "2021-99", "21-03", "2021-03-01", "1899-12", "0001-01", "9999-12", "2021/03",
    "２０２１-０３", "2021-3 ", " 2021-03", "2021–03", "202103", "2021-03\n", "-2021-03",
]
CODES = [
    "J M", " JM", "jm", "JM ", "吉明", "ＪＭ", "J\u200bM", "A" * 17, "-JM", "JM-", "correct", "LIST", "Resolve",
    "record", "import", "show", "sample", "result", "JM\x00", "JM\n", "İ", "ß", "ǅ", "JM;DROP TABLE stored_events",
    "JM'", "0", "9" * 16, "XX",
]
IDS = [
    "F0", "F99999999999", "F999999999", "M-1", "M1.0", "m1", "f1", "F01", "F 1", "F１", "F١", "FF1", "1", "F",
    "S0", "T0", "M0", "I1", "Z9", "F1\x00", "ﬀ1", "M1;", "t1",
]
TEXTS = [
    "", " ", "\t", "\x00", "a\x00b", "\x1b[31mred\x1b[0m", "\u202edlrow", "a\u200db", "\ufeffBOM", "\ud800",
    "\udcff", "x\udfffy", "line\nbreak", "cr\rhere", "\u2028", "a\x85b", "\x7f", "\u0301", "🏗️", "%s%s%n",
    "{0}{name}", "' OR 1=1 --", "<script>", "@", "@@", ":",
    "::", "\\", "null", "None",
]
TOKENS = ["--json", "--", "-", "--no-such-option", "--user", "--pass", "--fail", "--correct", "-x"]

ALL_HOSTILE = NUMBERS + DATES + MOMENTS + PERIODS + CODES + IDS + TEXTS + TOKENS
#: Characters that stress text handling, mixed into generated text.
NASTY_CHARS = ["\x00", "\x1b", "\x7f", "\u202e", "\u200b", "\ufeff", "\ud800", "\udcff", "\n", "\r", "\t",
               "\u2028", "\x85", "\u0301", "@", ":", "字"]


def usable(value: str) -> bool:
    """Anything but the help options (those print help and exit 0 on purpose)."""
    return value not in ("--help", "-h")


#: Long values: 101 and 501 characters are just over the limits of names and texts; 5000 digits are over
#: Python's limit for int(); 10,000 characters is what a paste gone wrong looks like.
LONG: S = st.builds(lambda chunk, times: chunk * times, st.sampled_from(["x", "字", "\x00", "9", "\u202e", "1e"]),
                    st.sampled_from([17, 33, 65, 101, 501, 1001, 5000, 10_000]))

HOSTILE: S = st.one_of(
    st.sampled_from(ALL_HOSTILE),
    st.text(st.one_of(st.characters(), st.sampled_from(NASTY_CHARS)), max_size=40),
    LONG,
).filter(usable)


def hostile(*lists: list[str]) -> S:
    """Bad values: mostly of the kind given, some of any kind."""
    return st.one_of(*(st.sampled_from(values) for values in lists), HOSTILE)


# ------------------------------------------------------------------ valid values, for the store's state

SAFE_TEXT: S = st.text(st.characters(categories=("L", "N", "Zs"), exclude_characters="\u3000"), min_size=1,
                       max_size=30).filter(lambda text: bool(text.strip()))


def days(first: date, last: date) -> S:
    return st.dates(first, last).map(date.isoformat)


def moments(first: date, last: date) -> S:
    offsets = st.sampled_from(["", "+08:00", "Z", "+00:00", "-05:00", "+05:45", "+14:00", "-12:00", "+23:59"])
    naive = st.datetimes(datetime.combine(first, time()), datetime.combine(last, time(23, 59)))
    return st.builds(lambda moment, offset: moment.isoformat(timespec="minutes") + offset, naive, offsets)


def quantities(low: str, high: str, places: int = 4) -> S:
    return st.decimals(Decimal(low), Decimal(high), places=places).map(lambda number: format(number, "f"))


CODE_JM: S = st.sampled_from(["JM", "jm", " JM "])
AT: S = moments(date(2021, 3, 4), date(2021, 3, 20))
FINDING: S = st.builds(
    lambda category, severity, text, location: f"{category}:{severity}:{text}{location}",
    st.sampled_from(["quality", "safety", "civilized", "Safety "]), st.sampled_from(["minor", "major", "critical"]),
    SAFE_TEXT.filter(lambda text: "@" not in text), st.one_of(st.just(""), SAFE_TEXT.map(lambda text: "@" + text)),
)
SCORE: S = quantities("0", "100", 2)


@dataclass(frozen=True)
class Param:
    """One argument of a command: an option (``--name VALUE``) or a positional argument (``name`` None)."""

    option: str | None
    valid: S
    bad: S
    required: bool = True


def arg(valid: S, bad: S) -> Param:
    return Param(None, valid, bad)


def opt(option: str, valid: S, bad: S, required: bool = True) -> Param:
    return Param(option, valid, bad, required)


def text_opt(option: str, required: bool = True) -> Param:
    return opt(option, SAFE_TEXT, hostile(TEXTS), required)


CODE_ARG = arg(CODE_JM, hostile(CODES))
LY_ARG = arg(st.sampled_from(["LY", "ly"]), hostile(CODES))
NEW_CODE = arg(st.sampled_from(["HY", "hy", "X-1", "SB9301", "a" * 16, "7"]), hostile(CODES))


def id_arg(*valid: str) -> Param:
    return arg(st.sampled_from(list(valid)), hostile(IDS))


#: Every write command: the words that name it, its arguments in order, and flags it may take.
COMMANDS: dict[str, tuple[tuple[str, ...], list[Param], list[str]]] = {
    "register": (("compound", "register"), [
        NEW_CODE, text_opt("--name"), text_opt("--district"), text_opt("--contractor"),
        opt("--households", st.integers(1, 100_000).map(str), hostile(NUMBERS)),
        opt("--contract-value", quantities("0.01", "999999999999.99", 2), hostile(NUMBERS)),
        opt("--planned-start", days(date(2021, 1, 1), date(2021, 6, 30)), hostile(DATES)),
        opt("--planned-finish", days(date(2021, 7, 1), date(2022, 12, 31)), hostile(DATES)),
    ], []),
    "boq-import": (("boq", "import"), [LY_ARG, arg(st.just("@boq"), st.sampled_from(["@bad-boq", "@missing"]))], []),
    "demolition-record": (("demolition", "record"), [
        LY_ARG, opt("--count", st.integers(1, 10_000).map(str), hostile(NUMBERS))], []),
    "demolition-clear": (("demolition", "clear"), [LY_ARG], []),
    "start": (("construction", "start"), [
        LY_ARG,
        opt("--date", days(date(2021, 3, 1), date(2021, 3, 20)), hostile(DATES), required=False)], []),
    "complete": (("construction", "complete"), [
        CODE_ARG, opt("--date", days(date(2021, 3, 1), date(2021, 4, 30)), hostile(DATES), required=False)], []),
    "accept": (("construction", "accept"), [
        CODE_ARG, opt("--date", days(date(2021, 3, 1), date(2021, 4, 30)), hostile(DATES), required=False)], []),
    "handover": (("construction", "handover"), [
        CODE_ARG, opt("--date", days(date(2021, 3, 1), date(2021, 4, 30)), hostile(DATES), required=False),
        text_opt("--operator", required=False)], []),
    "inspect": (("inspect",), [
        CODE_ARG, opt("--kind", st.sampled_from(["morning", "patrol"]), hostile(["Morning", "MORNING", "晨检"])),
        opt("--at", AT, hostile(MOMENTS, DATES), required=False),
        opt("--finding", FINDING, hostile(TEXTS, ["quality:minor", "quality:minor:", "x:y:z", "quality:fatal:x",
                                                  "safety:major:@", "safety:major:a@", ":::"]), required=False),
        opt("--finding", FINDING, hostile(TEXTS), required=False),
        opt("--due", days(date(2021, 3, 20), date(2021, 6, 30)), hostile(DATES), required=False),
    ], []),
    "rectify": (("finding", "rectify"), [
        CODE_ARG, id_arg("F1", "f1"), text_opt("--note", required=False),
        opt("--at", AT, hostile(MOMENTS, DATES), required=False)], []),
    "close": (("finding", "close"), [
        CODE_ARG, id_arg("F1"), text_opt("--note", required=False),
        opt("--at", AT, hostile(MOMENTS), required=False)], []),
    "reopen": (("finding", "reopen"), [
        CODE_ARG, id_arg("F1"), text_opt("--note", required=False),
        opt("--at", AT, hostile(MOMENTS), required=False)], []),
    "sample": (("material", "sample"), [
        CODE_ARG, text_opt("--material"), opt("--batch", st.sampled_from(["B1", "B-2", "批次3"]), hostile(TEXTS)),
        opt("--regime", st.sampled_from(["routine", "cross", "blind"]), hostile(["Blind", "盲检", ""])),
        text_opt("--witness", required=False), opt("--at", AT, hostile(MOMENTS), required=False)], []),
    "result": (("material", "result"), [
        CODE_ARG, id_arg("S1", "s1"), text_opt("--lab"),
        opt("--report", st.sampled_from(["JC-2021-118", "R1"]), hostile(TEXTS), required=False),
        opt("--at", AT, hostile(MOMENTS), required=False)], ["--pass", "--fail"]),
    "meter": (("meter",), [
        CODE_ARG, opt("--item", st.sampled_from(["A1", "B2", "a1"]), hostile(TEXTS, CODES)),
        opt("--period", st.sampled_from(["2021-03", "2021-04", "2021-05"]), hostile(PERIODS)),
        opt("--quantity", quantities("0.0001", "40"), hostile(NUMBERS))], []),
    "correct": (("meter", "correct"), [
        CODE_ARG, id_arg("M1", "m1"), opt("--quantity", quantities("0", "90"), hostile(NUMBERS)),
        text_opt("--reason")], []),
    "variation": (("variation",), [
        CODE_ARG, opt("--item", st.sampled_from(["A1", "B2"]), hostile(TEXTS, CODES)),
        opt("--quantity", quantities("10", "1000"), hostile(NUMBERS)), text_opt("--reason")], []),
    "score": (("score",), [
        CODE_ARG, opt("--period", st.sampled_from(["2021-03", "2021-04"]), hostile(PERIODS)),
        *(opt(f"--{name}", SCORE, hostile(NUMBERS, ["100.00", "100.001", "101", "99.999", "-0.01"]))
          for name in ("quality", "safety", "progress", "civilized", "satisfaction")),
        text_opt("--reason", required=False)], ["--correct"]),
    "feedback": (("feedback",), [
        CODE_ARG, opt("--channel", st.sampled_from(["hotline", "form", "visit"]), hostile(["Hotline", "email"])),
        text_opt("--text"), opt("--at", AT, hostile(MOMENTS), required=False)], []),
    "resolve": (("feedback", "resolve"), [
        CODE_ARG, id_arg("T1", "t1"), text_opt("--note"), opt("--at", AT, hostile(MOMENTS), required=False)], []),
}

USERS: S = st.one_of(st.just("tester"), st.just("审计-孙工"), st.just("tester"), st.just("[/x] :warning:"),
                     st.just("tester"), st.just("tester"), st.just("tester"), hostile(TEXTS))


@st.composite
def invocations(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A write command's arguments: each argument valid or (a few of them) hostile, options in any order."""
    name = draw(st.sampled_from(sorted(COMMANDS)))
    words, params, flags = COMMANDS[name]
    # A third of the commands are typed right (they mostly succeed); the others have one to three bad values.
    bad = draw(st.one_of(st.just(set[int]()), st.sets(st.integers(0, len(params) - 1), min_size=1, max_size=3),
                         st.sets(st.integers(0, len(params) - 1), min_size=1, max_size=1)))
    positional: list[str] = []
    options: list[list[str]] = []
    for index, param in enumerate(params):
        if param.option is not None and not param.required and index not in bad and draw(st.booleans()):
            continue  # an optional option left out
        value = draw(param.bad if index in bad else param.valid)
        if param.option is None:
            positional.append(value)
        else:
            options.append([param.option, value])
    if flags:
        options.extend([flag] for flag in draw(st.lists(st.sampled_from(flags), max_size=2, unique=True)))
    if draw(st.booleans()):
        options.append(["--json"])
    options = draw(st.permutations(options))
    if options and draw(st.integers(0, 9)) == 0:
        options = options[1:]  # a required option may go missing
    user = draw(USERS)
    lang = draw(st.sampled_from([[], ["--lang", "zh"], ["--lang", "en"]]))
    return name, [*lang, "--user", user, *words, *positional, *(token for option in options for token in option)]


# ------------------------------------------------------------------ the store every example copies


@dataclass(frozen=True)
class Template:
    db: Path
    events: int
    work: Path  # the copy each example runs on, and its files

    def fresh_copy(self) -> Path:
        copy = self.work / "fuzz.db"
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{copy}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(self.db, copy)
        return copy


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    folder = tmp_path_factory.mktemp("fuzz-cli")
    boq = folder / "boq.csv"
    boq.write_text(BOQ_CSV, encoding="utf-8")
    run = Renovation(folder / "template.db")
    run.ok(*REGISTER_JM)
    run.ok("compound", "register", "LY", *REGISTER_JM[3:])
    run.ok("boq", "import", "JM", str(boq))
    run.ok("construction", "start", "JM", "--date", "2021-03-01")
    assert run.json("inspect", "JM", "--kind", "morning", "--at", "2021-03-02T06:30",
                    "--finding", "safety:major:脚手架未挂安全网@3号楼")["finding_ids"] == ["F1"]
    assert run.json("material", "sample", "JM", "--material", "防水卷材", "--batch", "B1", "--regime", "routine",
                    "--at", "2021-03-02T07:00")["sample_id"] == "S1"
    assert run.json("meter", "JM", "--item", "A1", "--period", "2021-03", "--quantity", "10")["entry_id"] == "M1"
    assert run.json("feedback", "JM", "--channel", "hotline", "--text", "楼道施工噪音太早",
                    "--at", "2021-03-03T08:00")["ticket_id"] == "T1"
    run.ok("compound", "show", "JM")
    db = Path(run.db)
    checkpoint(db)
    work = folder / "work"
    work.mkdir()
    (work / "boq.csv").write_text(BOQ_CSV, encoding="utf-8")
    return Template(db, event_count(db), work)


# ------------------------------------------------------------------ bills of quantities the file argument names

CELLS: S = st.one_of(st.sampled_from(["A9", "管网", "m", "1", "0.5"]), hostile(NUMBERS, TEXTS))
BOQ_LINES: S = st.one_of(
    st.just("A9,雨水管网,m,10,385.00"),
    st.lists(CELLS, min_size=3, max_size=7).map(lambda cells: ",".join(cells)),
    st.sampled_from(['"A9,"管网",m,10,1', "A9,管网,m,10", "A9,管网,m,10,1,extra", '"unterminated']),
)


def csv_bytes(lines: list[str], encoding: str) -> bytes:
    """A CSV file as saved by an editor: UTF-8 (lone surrogates kept as bytes) or another encoding."""
    text = "\n".join(["item,description,unit,quantity,unit_price", *lines])
    return text.encode(encoding, "surrogatepass" if encoding.startswith("utf") else "replace")


BOQ_FILES: st.SearchStrategy[bytes] = st.one_of(
    st.builds(csv_bytes, st.lists(BOQ_LINES, min_size=0, max_size=4),
              st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "utf-16"])),
    st.binary(max_size=200),
    st.sampled_from([b"", b"\xff\xfe", b"item,description\n", BOQ_CSV.encode()[:50], b"\x00" * 100]),
)


def resolve_file(value: str, work: Path, bad_boq: bytes) -> str:
    """``@boq`` / ``@bad-boq`` / ``@missing`` name files of the work folder; anything else is typed as is."""
    if value == "@boq":
        return str(work / "boq.csv")
    if value == "@bad-boq":
        (work / "bad.csv").write_bytes(bad_boq)
        return str(work / "bad.csv")
    if value == "@missing":
        return str(work / "missing.csv")
    return value


# ------------------------------------------------------------------ the checks


def check(runner: CliRunner, template: Template, args: list[str]) -> int:
    """Run one command on a fresh copy of the template; the exit code after checking the contract."""
    copy = template.fresh_copy()
    result = runner.invoke(cli, ["--db", str(copy), *args], env=ENV)
    where = (args, result.exit_code, result.output[:2000])
    assert result.exception is None or isinstance(result.exception, SystemExit), (*where, repr(result.exception))
    assert "Traceback" not in result.output, where
    assert result.exit_code in (0, 1, 2), where
    added = event_count(copy) - template.events
    if result.exit_code == 0:
        assert added == 1, (*where, added)
    else:
        lines = result.output.strip().splitlines()
        assert len(lines) == 1, where
        assert lines[0].startswith(("Error: ", "错误: ")), where
        assert result.stdout == "", where  # errors on stderr only
        assert added == 0, (*where, added)
    return result.exit_code


#: Read commands that show what a write stored (as tables: names pass through rich there), after a success.
READS: list[list[str]] = [
    ["progress"], ["quality"], ["quality", "JM", "--missed"], ["compound", "list"], ["compound", "show", "JM"],
    ["ranking", "--by", "compound"], ["feedback", "list"], ["audit", "history", "JM"], ["audit", "replay", "JM"],
    ["ledger", "JM"], ["audit", "reconcile"], ["report", "--html", "@report"],
]


def read_back(runner: CliRunner, template: Template, args: list[str], read: list[str]) -> None:
    """A read command on the store a successful write left: it shows what was stored, without a traceback."""
    options = args[:args.index("--user") + 2]  # --lang and --user, as the write had them
    command = [str(template.work / "report.html") if word == "@report" else word for word in read]
    result = runner.invoke(cli, ["--db", str(template.work / "fuzz.db"), *options, *command], env=ENV)
    where = (args, read, result.exit_code, result.output[-2000:])
    assert result.exception is None or isinstance(result.exception, SystemExit), (*where, repr(result.exception))
    assert result.exit_code == 0, where


@settings(max_examples=600, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(invocation=invocations(), bad_boq=BOQ_FILES, read=st.sampled_from(READS))
def test_no_command_line_escapes_the_contract(template: Template, invocation: tuple[str, list[str]],
                                             bad_boq: bytes, read: list[str]) -> None:
    name, args = invocation
    args = [resolve_file(value, template.work, bad_boq) for value in args]
    runner = CliRunner()
    exit_code = check(runner, template, args)
    event(f"{name}: exit {exit_code}")
    if exit_code == 0:
        read_back(runner, template, args, read)


def test_the_valid_values_do_record(template: Template) -> None:
    """The strategies' valid values are accepted by the store as built (so the fuzz exercises success too)."""
    runner = CliRunner()
    boq = str(template.work / "boq.csv")
    at = "2021-03-05T06:30"
    for args in (
        ["compound", "register", "HY", *REGISTER_JM[3:]],
        ["boq", "import", "LY", boq],
        ["demolition", "record", "LY", "--count", "3"],
        ["construction", "start", "LY", "--date", "2021-03-05"],
        ["construction", "complete", "JM", "--date", "2021-03-20"],
        ["inspect", "JM", "--kind", "patrol", "--at", at, "--finding", "quality:minor:墙面空鼓"],
        ["finding", "rectify", "JM", "F1", "--note", "已挂安全网", "--at", at],
        ["material", "sample", "JM", "--material", "水泥", "--batch", "B2", "--regime", "blind", "--at", at],
        ["material", "result", "JM", "S1", "--fail", "--lab", "检测站", "--at", at],
        ["meter", "JM", "--item", "B2", "--period", "2021-04", "--quantity", "0.0001"],
        ["meter", "correct", "JM", "M1", "--quantity", "0", "--reason", "复核"],
        ["variation", "JM", "--item", "A1", "--quantity", "120", "--reason", "变更令"],
        ["score", "JM", "--period", "2021-03", "--quality", "100", "--safety", "0", "--progress", "99.99",
         "--civilized", "50", "--satisfaction", "0.5"],
        ["feedback", "JM", "--channel", "visit", "--text", "噪音", "--at", at],
        ["feedback", "resolve", "JM", "T1", "--note", "已调整", "--at", at],
    ):
        assert check(runner, template, ["--user", "tester", *args]) == 0, args


def test_what_the_fuzzing_found(template: Template) -> None:
    """Names that look like rich markup were rendered as markup (MarkupError: a traceback on every table
    showing them); a plan starting in year 1 was stored, and `report` then failed on the month "1-01"."""
    runner = CliRunner()
    register = ["compound", "register", "HY", *REGISTER_JM[3:]]  # --name NAME ... --planned-finish DAY
    markup = [*register[:4], "[/x] [bold]b :warning:", *register[5:]]
    assert check(runner, template, ["--user", "[/u]", *markup]) == 0
    for read in (["compound", "list"], ["compound", "show", "HY"], ["audit", "history", "JM"], ["progress"]):
        read_back(runner, template, ["--user", "[/u]"], read)
    listed = runner.invoke(cli, ["--db", str(template.work / "fuzz.db"), "compound", "list"], env=ENV)
    assert "[/x] [bold]b :warning:" in listed.output
    for day in ("0001-01-01", "1899-12-31", "3000-01-01"):
        planned = [*register[:-4], "--planned-start", day, *register[-2:]]
        assert check(runner, template, ["--user", "tester", *planned]) == 2, day
