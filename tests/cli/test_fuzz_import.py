"""Hostile import files (issue 7): a real export of a two-compound programme, mutated — truncated at any
byte, bytes flipped, invalid UTF-8 and GB18030 text inserted, values replaced by wrong JSON types, huge
and non-finite numbers, bad decimals and dates, control characters and 100k-character strings, unknown
``_type_`` tags, missing and extra fields, deep nesting, lines duplicated, dropped and reordered — and
imported into an empty store. Always exit 0 or 2 without a traceback; exit 2 is ONE line naming the bad
line and stores nothing (all or nothing); exit 0 stores exactly the events the file adds, the chain
verifies and the boards read.

How a mutated file must fare is known for most mutations: a line changed by a "strict" mutation must be
refused (and it is the first bad line, unless the order of the untouched lines fails earlier); for
"lenient" mutations (a flipped byte may still spell valid JSON, a value of another type may still be of
the field's type) either outcome is fine, as long as it is the whole outcome.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from cli_support import ENV, Renovation, checkpoint, event_count, events_of_export
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from renovation.cli import cli

STRICT, LENIENT = "strict", "lenient"


class Export:
    """The export and what the checks need to know of it (not a dataclass: hypothesis would print it all)."""

    def __init__(self, data: bytes, origin: dict[bytes, tuple[str, int]], empty: Path, work: Path,
                 pool: dict[str, list[str]]) -> None:
        self.data = data  # the file as exported
        self.lines = data.splitlines()  # its lines, without line ends
        self.origin = origin  # each line's aggregate and version
        self.empty = empty  # an empty store (tables created), copied for every example
        self.work = work
        self.pool = pool  # for each key, values (raw JSON) it has somewhere in the export

    def __repr__(self) -> str:
        return f"Export({len(self.lines)} lines)"


class Mutated:
    """A mutated file; its repr (what hypothesis prints for a failing example) shows the first changed line."""

    def __init__(self, name: str, data: bytes, mode: str, original: bytes) -> None:
        self.name, self.data, self.mode, self.original = name, data, mode, original

    def __repr__(self) -> str:
        old, new = self.original.split(b"\n"), self.data.split(b"\n")
        first = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), min(len(old), len(new)))
        changed = new[first] if first < len(new) else b"(end of file)"
        return (f"Mutated({self.name!r}, {self.mode}, {len(self.data)} bytes, first change on line {first + 1}: "
                f"{changed[:400]!r}{'...' if len(changed) > 400 else ''})")


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Export:
    folder = tmp_path_factory.mktemp("fuzz-import")
    source = Renovation(folder / "source.db")
    source.ok("demo", "--compounds", "2", "--until", "2021-03-20")
    file = folder / "log.jsonl"
    source.ok("export", str(file))
    data = "".join(events_of_export(file.read_text(encoding="utf-8"))).encode()  # read as a file without a header
    lines = data.splitlines()
    assert len(lines) == event_count(source.db) > 100
    origin = {}
    for line in lines:
        parsed = json.loads(line)
        origin[line] = (parsed["originator_id"], parsed["originator_version"])
    empty = Renovation(folder / "empty.db")
    empty.ok("db", "zone", "Asia/Shanghai")  # an empty store
    checkpoint(Path(empty.db))
    assert event_count(Path(empty.db)) == 0
    work = folder / "work"
    work.mkdir()
    pool: dict[str, set[str]] = {}
    for line in lines:
        parsed = json.loads(line)
        for path in paths(parsed):
            key = path[-1]
            if isinstance(key, str):
                pool.setdefault(key, set()).add(json.dumps(value_at(parsed, path), ensure_ascii=False))
    return Export(data, origin, Path(empty.db), work, {key: sorted(values)[:40] for key, values in pool.items()})


# ------------------------------------------------------------------ what the importer must make of a file


def outcome(data: bytes, origin: dict[bytes, tuple[str, int]]) -> tuple[int | None, int]:
    """(the first bad line or None, events added) for a file whose lines are judged by ``origin``: a line
    not in it is bad; a version must follow the aggregate's last one (a version already seen is skipped);
    a new event may not be recorded before the latest one added before it (the store's time order: a
    line moved up the file, by a duplicate or a swap, may break it). A file without a line is bad as a
    whole: line 0."""
    last: dict[str, int] = {}
    latest: datetime | None = None
    added = 0
    if not data.strip():
        return 0, 0
    for number, raw in enumerate(data.split(b"\n"), start=1):
        line = raw.strip()
        if not line:
            continue
        if line not in origin:
            return number, 0
        aggregate, version = origin[line]
        if version > last.get(aggregate, 0) + 1:
            return number, 0
        if version > last.get(aggregate, 0):
            recorded = datetime.fromisoformat(json.loads(line)["state"]["timestamp"]["_data_"])
            if latest is not None and recorded < latest:
                return number, 0
            latest = recorded if latest is None else max(latest, recorded)
            last[aggregate] = version
            added += 1
    return None, added


def parsed_origin(data: bytes) -> dict[bytes, tuple[str, int]]:
    """Every line of an accepted file by its own aggregate id and version (for lenient mutations)."""
    found = {}
    for raw in data.split(b"\n"):
        line = raw.strip()
        if line:
            parsed = json.loads(line)
            found[line] = (str(parsed["originator_id"]).lower(), parsed["originator_version"])
    return found


# ------------------------------------------------------------------ mutations

#: Values that no field may hold, as raw JSON (None: a 100k-character string, built when used).
BAD_VALUES = [
    "NaN", "-NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1" + "0" * 5000, "1" + "0" * 400,
    "-" + "9" * 30, '"a\\u0000b"', '"\\u001b[31mred"', '"\\u202eevil"', '"\\ud800"', '"x\\udfffy"', '"line\\nbreak"',
    '"\\u0085"', None,
    '{"_type_":"decimal_str","_data_":"NaN"}', '{"_type_":"decimal_str","_data_":"sNaN"}',
    '{"_type_":"decimal_str","_data_":"-Infinity"}', '{"_type_":"decimal_str","_data_":"1e999999"}',
    '{"_type_":"decimal_str","_data_":"1e999999999"}', '{"_type_":"decimal_str","_data_":"-1"}',
    '{"_type_":"decimal_str","_data_":"-0"}', '{"_type_":"decimal_str","_data_":"abc"}',
    '{"_type_":"decimal_str","_data_":"0.000000001"}', '{"_type_":"decimal_str","_data_":NaN}',
    '{"_type_":"decimal_str","_data_":1e400}', '{"_type_":"decimal_str","_data_":"1E+30"}',
    '{"_type_":"no_such_type","_data_":"1"}', '{"_type_":["list"],"_data_":"1"}', '{"_type_":{},"_data_":"1"}',
    '{"_type_":"date_iso","_data_":"2021-02-30"}', '{"_type_":"date_iso","_data_":"0001-01-01"}',
    '{"_type_":"date_iso","_data_":"9999-12-31"}', '{"_type_":"date_iso","_data_":20210301}',
    '{"_type_":"datetime_iso","_data_":"2021-03-01T06:30"}', '{"_type_":"datetime_iso","_data_":"2021-13-01T06:30"}',
    '{"_type_":"datetime_iso","_data_":"0001-01-01T00:00+14:00"}',
    '{"_type_":"datetime_iso","_data_":"9999-12-31T23:59:59-12:00"}',
    '{"_type_":"BoqItem","_data_":{}}', '{"_type_":"BoqItem","_data_":"x"}', '{"_type_":"Finding","_data_":[1]}',
    "[" * 50_000 + "]" * 50_000, '{"a":' * 20_000 + "1" + "}" * 20_000,
]
#: Values of the wrong type for most fields, which some fields (optional, or of that type) may take.
OTHER_VALUES = [
    "0", "1", "-1", "1.5", "-0.0", "true", "false", "null", "[]", "{}", '""', '" "', '"text"', '"2021-03-01"', '"M1"',
    '[{"_type_":"decimal_str","_data_":"1"}]', '{"_type_":"decimal_str","_data_":"1"}',
    '{"_type_":"date_iso","_data_":"2021-03-01"}', '{"_type_":"datetime_iso","_data_":"2021-03-01T06:30:00+08:00"}',
    '"renovation.domain.compound:CompoundProject.Registered"', '"renovation.domain.compound:Nope"',
    '"5dbbf699-195e-5f98-9791-4aef0ec7dfd5"', "100001", "2147483648", "9223372036854775808", "1e3",
]
GARBAGE_LINES = [
    b"{", b"}", b"[]", b"null", b"{}", b"\x00" * 10, b'"just a string"', b"1", b"NaN", b"\xef\xbb\xbf{}",
    "吉明小区 整改".encode("gb18030"), b"\xff\xfe{\x00", b"[" * 100_000, b'{"originator_id":',
    b'{"originator_id":"x","originator_version":1,"topic":"t","state":{}}', b"x" * 1_100_000,
]
INVALID_UTF8 = ["吉明小区".encode("gb18030"), "辽源".encode("gbk"), b"\xff", b"\xfe\xff", b"\xc0\xaf", b"\xed\xa0\x80",
                b"\xe5\x90", b"\x80", b"\xf8\x88\x80\x80\x80"]
#: Bytes that never occur in UTF-8: a flip to one of them breaks the line for sure.
NEVER_UTF8 = {0xC0, 0xC1, *range(0xF5, 0x100)}


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a parsed line (keys of objects, indexes of lists), the line itself excluded."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            found.append((*prefix, key))
            found.extend(paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.append((*prefix, index))
            found.extend(paths(value, (*prefix, index)))
    return found


def value_at(node: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        node = node[key]
    return node


MARK = "\uf8ffRAW\uf8ff"  # stands for the raw JSON until the line is written out


def replaced(line: bytes, path: tuple[Any, ...], raw: str) -> bytes:
    """The line with the value at ``path`` replaced by the raw JSON text ``raw``."""
    parsed = json.loads(line)
    node = parsed
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = MARK
    text = json.dumps(parsed, ensure_ascii=False, separators=(",", ":"))
    return text.replace(json.dumps(MARK, ensure_ascii=False), raw, 1).encode("utf-8", "surrogatepass")


def without(line: bytes, path: tuple[Any, ...]) -> bytes:
    parsed = json.loads(line)
    node = parsed
    for key in path[:-1]:
        node = node[key]
    if isinstance(node, dict):
        del node[path[-1]]
    else:
        node.pop(path[-1])
    # An earlier mutation may have left a lone surrogate (an escaped "\\ud800"): keep it, as invalid UTF-8.
    return json.dumps(parsed, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")


def with_extra(line: bytes, path: tuple[Any, ...], key: str) -> bytes:
    parsed = json.loads(line)
    node = parsed
    for step in path:
        node = node[step]
    if not isinstance(node, dict):
        return line + b" "  # nothing to add a field to: the line, unchanged in meaning
    node[key] = 1
    # An earlier mutation may have left a lone surrogate (an escaped "\\ud800"): keep it, as invalid UTF-8.
    return json.dumps(parsed, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")


def joined(lines: list[bytes]) -> bytes:
    return b"\n".join(lines) + b"\n"


@st.composite
def mutations(draw: st.DrawFn, export: Export) -> Mutated:
    """(what was done, the mutated file, STRICT or LENIENT); one to three mutations in a row."""
    data = export.data
    names: list[str] = []
    lenient = False
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from([
            "truncate", "flip", "flip-invalid", "insert-invalid-utf8", "replace-bad", "replace-other", "hundred-k",
            "control-raw", "missing-field", "extra-field", "garbage-line", "duplicate", "drop", "swap", "cut-line",
            "crlf", "blank-lines", "retarget", "retarget",
        ]))
        names.append(name)
        lines = data.split(b"\n")
        while lines and not lines[-1]:
            lines.pop()
        if not lines:
            lines = [b""]
        index = draw(st.integers(0, len(lines) - 1))
        line = lines[index]
        try:
            parsed: Any = json.loads(line)
        except (ValueError, RecursionError):  # a line an earlier mutation broke, or nested too deep
            parsed = None
        places = paths(parsed) if isinstance(parsed, dict) else []
        if name == "truncate":
            data = data[:draw(st.integers(0, len(data)))]
        elif name in ("flip", "flip-invalid"):
            if not data:
                continue
            where = draw(st.integers(0, len(data) - 1))
            if name == "flip":
                new = data[where] ^ draw(st.sampled_from([0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80]))
                lenient = lenient or new not in NEVER_UTF8
            else:
                new = draw(st.sampled_from(sorted(NEVER_UTF8)))
            data = data[:where] + bytes([new]) + data[where + 1:]
        elif name == "insert-invalid-utf8":
            where = draw(st.integers(0, len(data)))
            data = data[:where] + draw(st.sampled_from(INVALID_UTF8)) + data[where:]
        elif name in ("replace-bad", "replace-other", "hundred-k", "control-raw") and places:
            path = draw(st.sampled_from(places))
            if name == "replace-bad":
                raw = draw(st.sampled_from(BAD_VALUES)) or json.dumps("字" * 100_000)
            elif name == "hundred-k":
                raw = json.dumps(draw(st.sampled_from(["x", "字", "\u202e"])) * 100_000, ensure_ascii=False)
            elif name == "control-raw":  # a raw control character inside a JSON string: not JSON at all
                raw = '"a' + chr(draw(st.integers(0, 31))) + 'b"'
            else:
                raw = draw(st.sampled_from(OTHER_VALUES))
                lenient = True
            lines[index] = replaced(line, path, raw)
            data = joined(lines)
        elif name == "retarget" and places:  # a value another event has under the same key: types hold
            path = draw(st.sampled_from([p for p in places if isinstance(p[-1], str)]))
            if path[-1] not in export.pool:  # a key an earlier mutation garbled
                continue
            lines[index] = replaced(line, path, draw(st.sampled_from(export.pool[path[-1]])))
            data = joined(lines)
            lenient = True
        elif name == "missing-field" and places:
            path = draw(st.sampled_from([p for p in places if isinstance(p[-1], str)]))
            lines[index] = without(line, path)
            data = joined(lines)
            # a value object's field may have a default (a finding's status); without its class_version an
            # event reads as version 1, upcast when loaded; an event without a command id was written before
            # commands had ids (renovation.services.transfer.OPTIONAL_FIELDS)
            lenient = lenient or "_data_" in path or path[-1] in ("class_version", "command_id")
        elif name == "extra-field" and parsed is not None:
            dicts = [()] + [p for p in places if isinstance(p[-1], str)]
            lines[index] = with_extra(line, draw(st.sampled_from(dicts)), draw(st.sampled_from(["x", "_type_"])))
            data = joined(lines)
        elif name == "garbage-line":
            lines.insert(index, draw(st.sampled_from(GARBAGE_LINES)))
            data = joined(lines)
        elif name == "duplicate":
            lines.insert(draw(st.integers(0, len(lines))), line)
            data = joined(lines)
        elif name == "drop":
            del lines[index]
            data = joined(lines)
        elif name == "swap":
            other = draw(st.integers(0, len(lines) - 1))
            lines[index], lines[other] = lines[other], lines[index]
            data = joined(lines)
        elif name == "cut-line":
            lines[index] = line[:draw(st.integers(0, max(len(line) - 1, 0)))]
            data = joined(lines)
        elif name == "crlf":
            data = data.replace(b"\n", b"\r\n")  # the same events: to be accepted
        elif name == "blank-lines":
            lines.insert(index, draw(st.sampled_from([b"", b"   ", b"\t", b"\r"])))
            data = joined(lines)
    return Mutated("+".join(names), data, LENIENT if lenient else STRICT, export.data)


# ------------------------------------------------------------------ the checks

LINE_NUMBER = re.compile(r"\bline (\d+)\b")
READS: list[list[str]] = [
    ["progress", "--json"], ["quality"], ["compound", "list"], ["compound", "show", "JM"], ["compound", "show", "LY"],
    ["ranking", "--by", "compound"], ["audit", "history", "JM"], ["audit", "replay", "LY"], ["ledger", "JM"],
    ["audit", "reconcile"], ["feedback", "list"],
]


def invoke(runner: CliRunner, db: Path, *args: str) -> Result:
    return runner.invoke(cli, ["--db", str(db), "--user", "tester", *args], env=ENV)


def no_traceback(result: Result, *where: object) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), (*where, repr(result.exception))
    assert "Traceback" not in result.output, where


def check_import(export: Export, data: bytes, mode: str, read: list[str]) -> int:
    db = export.work / "target.db"
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(export.empty, db)
    file = export.work / "in.jsonl"
    file.write_bytes(data)
    runner = CliRunner()

    result = invoke(runner, db, "import", str(file))

    where = (mode, result.exit_code, result.output[:1000])
    no_traceback(result, *where)
    assert result.exit_code in (0, 2), where
    bad_line, added = outcome(data, export.origin)
    if mode == STRICT:  # known: refused at the first bad line, or all of it stored
        assert result.exit_code == (0 if bad_line is None else 2), (*where, bad_line)
    if result.exit_code == 2:
        lines = result.output.strip().splitlines()
        assert len(lines) == 1, where
        assert lines[0].startswith("Error: "), where
        if bad_line == 0:  # no line at all
            assert lines[0].endswith("the file holds no line (an export holds at least its header)"), where
        else:
            number = LINE_NUMBER.search(lines[0])
            assert number, where
            if mode == STRICT:
                assert int(number.group(1)) == bad_line, (*where, bad_line)
        assert event_count(db) == 0, where  # all or nothing
        return 2
    if mode == LENIENT:
        _none, added = outcome(data, parsed_origin(data))
    assert event_count(db) == added, (*where, added)
    verified = invoke(runner, db, "audit", "verify")
    no_traceback(verified, *where)
    assert verified.exit_code == 0, (*where, verified.output)
    shown = invoke(runner, db, *read)
    no_traceback(shown, *where, read)
    assert shown.exit_code in (0, 1), (*where, read, shown.output)  # 1: a compound the file does not reach
    if shown.exit_code == 1:
        assert len(shown.output.strip().splitlines()) == 1, (*where, read, shown.output)
    return 0


SETTINGS = settings(max_examples=600, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large, HealthCheck.large_base_example])


@SETTINGS
@given(data=st.data(), read=st.sampled_from(READS))
def test_a_mutated_export_is_imported_whole_or_not_at_all(export: Export, data: st.DataObject,
                                                          read: list[str]) -> None:
    mutated = data.draw(mutations(export), label="mutation")
    exit_code = check_import(export, mutated.data, mutated.mode, read)
    event(f"{mutated.mode} exit {exit_code}")
    for single in mutated.name.split("+"):
        event(f"{single}: exit {exit_code}")


def test_the_unchanged_export_and_duplicated_lines_are_imported(export: Export) -> None:
    """The baselines of the oracle: the export itself, and the export with every line twice."""
    assert check_import(export, export.data, STRICT, ["progress", "--json"]) == 0
    doubled = joined([line for line in export.lines for _ in range(2)])
    assert check_import(export, doubled, STRICT, ["compound", "show", "JM"]) == 0
    assert check_import(export, export.data + export.data, STRICT, ["quality"]) == 0


#: What the fuzzing found: each of these was stored (and tripped a later read), or ended in a traceback.
FOUND = [
    pytest.param("Registered", ("state", "contractor"), '"x\\ud800"', id="lone-surrogate-UnicodeEncodeError"),
    pytest.param("Registered", ("state", "timestamp", "_data_"), "1", id="datetime-not-a-string-AssertionError"),
    pytest.param("Registered", ("state", "households"), "[" * 50_000 + "]" * 50_000, id="deep-nesting-RecursionError"),
    pytest.param("BillOfQuantitiesSet", ("originator_version",), "1", id="version-1-not-registration-KeyError"),
    pytest.param("Registered", ("state", "contract_value"), '{"_type_":"decimal_str","_data_":"1e999999"}',
                 id="decimal-1e999999-stored-as-a-million-digits"),
    pytest.param("Registered", ("state", "households"), "1" + "0" * 400, id="int-10**400-OverflowError-in-progress"),
    pytest.param("Registered", ("state", "name"), '"a\\u0000b"', id="control-character"),
    pytest.param("Registered", ("state", "name"), json.dumps("字" * 100_000), id="100k-characters"),
    pytest.param("Registered", ("state", "timestamp"), '{"_type_":"datetime_iso","_data_":"2021-02-16T09:00:00"}',
                 id="naive-datetime"),
    pytest.param("ConstructionStarted", ("state", "on"),
                 '{"_type_":"datetime_iso","_data_":"2021-02-28T08:00:00+08:00"}', id="datetime-for-a-date"),
    pytest.param("Registered", ("state", "planned_start"), '{"_type_":"date_iso","_data_":"0001-01-01"}',
                 id="year-1"),
    pytest.param("Registered", ("state", "originator_topic"), '"renovation.domain.compound:Nope"',
                 id="originator-topic-TopicError-on-load"),
    pytest.param("FindingRectified", ("state", "finding_id"), '"F999"', id="unknown-finding-KeyError-on-load"),
    pytest.param("MeasurementCorrected", ("state", "entry_id"), '"M99"', id="correction-of-unknown-entry"),
    pytest.param("QuantityMeasured", ("state", "item"), '"999999"', id="item-not-in-bill-KeyError-in-ledger"),
    pytest.param("BillOfQuantitiesSet", ("state", "items"), "[]", id="bill-emptied-after-metering"),
]


@pytest.mark.parametrize(("topic", "path", "raw"), FOUND)
def test_what_the_fuzzing_found_is_refused_at_its_line(export: Export, topic: str, path: tuple[Any, ...],
                                                        raw: str) -> None:
    lines = list(export.lines)
    # the last such line: for a replaced bill of quantities, one after metering began
    index = max(i for i, line in enumerate(lines) if json.loads(line)["topic"].endswith("." + topic))
    if topic == "BillOfQuantitiesSet" and path[-1] == "items":  # a bill set again after metering began
        compound = export.origin[lines[index]][0]
        last = max(version for origin, version in export.origin.values() if origin == compound)
        lines.append(replaced(lines[index], ("originator_version",), str(last + 1)))
        index = len(lines) - 1
    lines[index] = replaced(lines[index], path, raw)
    data = joined(lines)
    assert outcome(data, export.origin)[0] == index + 1
    assert check_import(export, data, STRICT, ["progress"]) == 2
