"""Photos as evidence (issue 13, item 3): `--photo FILE` on inspect, finding rectify and finding close;
kept in the store by their SHA-256, which the event names (so the chain covers them); the capture
time read from EXIF and flagged; non-images and files over [photos] max_mb refused in one line;
`finding photos --out DIR`; `audit verify` checks every photo; export and import carry them."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path

import pytest
from cli_support import ENV, Renovation, event_count
from PIL import Image

from renovation.cli import cli


def jpeg(path: Path, colour: tuple[int, int, int], taken: str | None) -> Path:
    image = Image.new("RGB", (64, 48), colour)
    exif = Image.Exif()
    if taken:
        exif.get_ifd(0x8769)[36867] = taken
    image.save(path, exif=exif)
    return path


@pytest.fixture
def pictures(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "notes.txt").write_text("not an image", encoding="utf-8")
    return {
        "before": jpeg(tmp_path / "before.jpg", (200, 30, 30), "2021:03:02 08:55:00"),
        "after": jpeg(tmp_path / "after.jpg", (30, 200, 30), "2021:03:04 09:30:00"),
        "late": jpeg(tmp_path / "late.jpg", (30, 30, 200), "2021:03:04 11:00:00"),  # after the rectification
        "text": tmp_path / "notes.txt",
    }


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def photographed(run: Renovation, started: str, pictures: dict[str, Path]) -> Renovation:
    run.ok("inspect", "JM", "--kind", "patrol", "--at", "2021-03-02T09:00",
           "--finding", "safety:major:脚手架未挂安全网@3号楼", "--photo", str(pictures["before"]))
    run.ok("finding", "rectify", "JM", "F1", "--at", "2021-03-04T10:00", "--note", "已挂网",
           "--photo", str(pictures["after"]), "--photo", str(pictures["late"]))
    return run


def test_a_finding_shows_its_photos_with_their_capture_times(photographed: Renovation,
                                                             pictures: dict[str, Path]) -> None:
    raised, rectified = photographed.json("finding", "show", "JM", "F1")

    assert raised["photos"] == [f"{sha(pictures['before'])[:12]} (taken 2021-03-02T08:55:00+08:00)"]
    assert rectified["photos"] == [
        f"{sha(pictures['after'])[:12]} (taken 2021-03-04T09:30:00+08:00)",
        f"{sha(pictures['late'])[:12]} (taken 2021-03-04T11:00:00+08:00, taken after)",
    ]


def test_the_event_names_each_photo_by_its_hash(photographed: Renovation, pictures: dict[str, Path],
                                                tmp_path: Path) -> None:
    exported = tmp_path / "out.jsonl"
    photographed.ok("export", str(exported))
    lines = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()[1:]]

    photo_lines = [line for line in lines if "photo" in line]
    events = [line for line in lines if "topic" in line]
    assert {line["photo"] for line in photo_lines} == {sha(path) for name, path in pictures.items() if name != "text"}
    inspected = next(event for event in events if event["topic"].endswith("InspectionRecorded"))
    assert inspected["state"]["photos"] == [sha(pictures["before"])]


def test_photos_come_out_as_they_went_in(photographed: Renovation, pictures: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "f1"

    said = photographed.ok("finding", "photos", "JM", "F1", "--out", str(out))

    assert "3 photos written" in said.output
    written = sorted(out.iterdir())
    assert [path.name.split("-")[0] for path in written] == ["raised", "rectified", "rectified"]
    assert {path.read_bytes() for path in written} == {pictures[name].read_bytes()
                                                       for name in ("before", "after", "late")}


@pytest.mark.parametrize(("name", "said"), [("text", "not an image"), ("missing", "No such file")])
def test_a_photo_that_is_not_one_is_refused_and_nothing_is_recorded(run: Renovation, started: str,
                                                                    pictures: dict[str, Path], tmp_path: Path,
                                                                    name: str, said: str) -> None:
    before = event_count(run.db)
    path = pictures.get(name, tmp_path / "missing.jpg")

    result = run("inspect", "JM", "--kind", "patrol", "--finding", "quality:minor:墙面空鼓", "--photo", str(path))

    assert result.exit_code == 2 and said in result.output and len(run.lines(result)) == 1
    assert event_count(run.db) == before


def test_a_photo_over_the_limit_is_refused(run: Renovation, started: str, tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    Image.frombytes("RGB", (800, 800), os.urandom(800 * 800 * 3)).save(big)  # noise: about 1.9 MB
    config = tmp_path / "small.toml"
    config.write_text("[photos]\nmax_mb = 1\n", encoding="utf-8")
    before = event_count(run.db)

    result = run.runner.invoke(cli, ["--db", str(run.db), "--user", "tester", "--config", str(config), "inspect",
                                     "JM", "--kind", "patrol", "--finding", "quality:minor:墙面空鼓",
                                     "--photo", str(big)], env=ENV)

    assert result.exit_code == 2 and "larger than 1 MB" in result.output
    assert event_count(run.db) == before


def test_an_inspection_without_findings_takes_no_photo(run: Renovation, started: str,
                                                       pictures: dict[str, Path]) -> None:
    result = run("inspect", "JM", "--kind", "patrol", "--photo", str(pictures["before"]))

    assert result.exit_code == 1 and "documents findings" in result.output


def test_an_import_carries_the_photos_and_refuses_an_event_without_its_photo(
        photographed: Renovation, pictures: dict[str, Path], tmp_path: Path) -> None:
    exported = tmp_path / "out.jsonl"
    photographed.ok("export", str(exported))
    copy = Renovation(tmp_path / "copy.db")
    copy.ok("import", str(exported))
    assert "the chain is intact" in copy.ok("audit", "verify").output
    assert copy.json("finding", "show", "JM", "F1") == photographed.json("finding", "show", "JM", "F1")

    header, *rest = exported.read_text(encoding="utf-8").splitlines()
    without = tmp_path / "without.jsonl"
    without.write_text("\n".join([header, *(line for line in rest if not line.startswith('{"photo"'))]) + "\n",
                       encoding="utf-8")
    refused = Renovation(tmp_path / "other.db")("import", str(without))
    assert refused.exit_code == 2 and "is neither in the file (before this line) nor in the store" in refused.output


def tamper(db: Path | str, statement: str, params: tuple[object, ...]) -> None:
    """Change the photos' table behind the application's back (SQLite file, or PostgreSQL schema)."""
    if isinstance(db, str) and db.startswith("postgresql://"):
        import psycopg

        base, _, query = db.partition("?")
        schema = query.removeprefix("schema=")
        with psycopg.connect(base) as connection:
            connection.execute(statement.replace("event_photos", f'"{schema}".event_photos').replace("?", "%s"),
                               params)
        return
    with sqlite3.connect(db) as connection:
        connection.execute(statement, params)


def test_audit_verify_finds_a_photo_changed_or_gone(photographed: Renovation, pictures: dict[str, Path]) -> None:
    name = sha(pictures["late"])
    tamper(photographed.db, "UPDATE event_photos SET data = ? WHERE sha256 = ?", (pictures["after"].read_bytes(), name))
    changed = photographed("audit", "verify")
    tamper(photographed.db, "DELETE FROM event_photos WHERE sha256 = ?", (name,))
    gone = photographed("audit", "verify")

    assert changed.exit_code == 1 and f"photo {name[:12]}: its bytes were changed" in changed.output
    assert gone.exit_code == 1 and f"photo {name[:12]} named by this event is not in the store" in gone.output


def test_the_notice_shows_each_findings_photos_as_thumbnails(photographed: Renovation, tmp_path: Path) -> None:
    page = tmp_path / "notice.html"

    photographed.ok("--today", "2021-03-20", "finding", "notice", "JM", "--html", str(page))

    html = page.read_text(encoding="utf-8")
    assert html.count('<img src="data:image/jpeg;base64,') == 3  # F1: one before, two after
    assert "http" not in html


def test_what_is_not_a_whole_raster_photo_is_refused(run: Renovation, started: str, pictures: dict[str, Path],
                                                     tmp_path: Path) -> None:
    whole = pictures["before"].read_bytes()
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(whole[: len(whole) // 2])
    postscript = tmp_path / "fake.eps"
    postscript.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    bomb = tmp_path / "bomb.png"
    Image.new("1", (8000, 8000)).save(bomb)  # 64 million pixels in a small file
    before = event_count(run.db)

    for path, said in ((truncated, "not an image"), (postscript, "not an image"), (bomb, "8000x8000 pixels")):
        result = run("inspect", "JM", "--kind", "patrol", "--finding", "quality:minor:墙面空鼓", "--photo", str(path))
        assert result.exit_code == 2 and said in result.output and len(run.lines(result)) == 1, result.output

    assert event_count(run.db) == before


def test_a_photo_shown_again_at_a_later_step_is_flagged(run: Renovation, started: str,
                                                        pictures: dict[str, Path]) -> None:
    run.ok("inspect", "JM", "--kind", "patrol", "--at", "2021-03-02T09:00", "--finding", "quality:minor:墙面空鼓",
           "--photo", str(pictures["before"]))
    run.ok("finding", "rectify", "JM", "F1", "--at", "2021-03-04T10:00", "--photo", str(pictures["before"]))

    _raised, rectified = run.json("finding", "show", "JM", "F1")

    assert rectified["photos"] == [f"{sha(pictures['before'])[:12]} (taken 2021-03-02T08:55:00+08:00, the same "
                                   "photo as an earlier step)"]


def test_a_photo_changed_behind_the_applications_back_is_not_passed_on(photographed: Renovation,
                                                                       pictures: dict[str, Path],
                                                                       tmp_path: Path) -> None:
    name = sha(pictures["before"])
    damaged = b"\x00" + pictures["before"].read_bytes()
    tamper(photographed.db, "UPDATE event_photos SET data = ? WHERE sha256 = ?", (damaged, name))

    out = photographed("finding", "photos", "JM", "F1", "--out", str(tmp_path / "out"))
    shown = photographed.json("finding", "show", "JM", "F1")
    notice = photographed("--today", "2021-03-20", "finding", "notice", "JM", "--html", str(tmp_path / "n.html"))

    assert out.exit_code == 1 and "no longer has the bytes it was kept with" in out.output
    assert "its bytes changed since it was kept" in shown[0]["photos"][0]
    assert notice.exit_code == 0 and (tmp_path / "n.html").read_text(encoding="utf-8").count("<img") == 2


def test_what_was_recorded_names_its_photos(run: Renovation, started: str, pictures: dict[str, Path]) -> None:
    inspected = run.json("inspect", "JM", "--kind", "patrol", "--at", "2021-03-02T09:00",
                         "--finding", "quality:minor:墙面空鼓", "--photo", str(pictures["before"]))
    rectified = run.json("finding", "rectify", "JM", "F1", "--at", "2021-03-04T10:00",
                         "--photo", str(pictures["after"]))

    assert inspected["photos"] == [sha(pictures["before"])]
    assert rectified["photos"] == [sha(pictures["after"])]
