"""No output path destroys the store or anything but the file asked for (issue 12, item 10): `report
--html` and `export` refuse the store and its companions, directories and non-regular files, replace
a symlink rather than write through it, and leave the old file whole when a write fails."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cli_support import REGISTER_JM, Renovation, event_count

OUTPUTS = {
    "report": lambda target: ("report", "--html", str(target)),
    "export": lambda target: ("export", str(target)),
}


@pytest.fixture
def store(tmp_path: Path) -> Renovation:
    run = Renovation(tmp_path / "renovation.db")
    run.ok(*REGISTER_JM)
    return run


@pytest.mark.parametrize("output", sorted(OUTPUTS))
@pytest.mark.parametrize("companion", ["", "-wal", "-shm", "-journal", "-writer.lock"])
def test_the_store_and_its_files_are_refused_as_an_output(store: Renovation, output: str, companion: str) -> None:
    target = Path(str(store.db) + companion)
    events = event_count(store.db)  # (opens the store, which may make its -wal and -shm)
    before = target.read_bytes() if target.exists() else None

    result = store(*OUTPUTS[output](target))

    assert result.exit_code == 2 and "Traceback" not in result.output
    (line,) = store.lines(result)
    assert "the store's own file" in line
    assert (target.read_bytes() if target.exists() else None) == before
    assert event_count(store.db) == events


@pytest.mark.parametrize("output", sorted(OUTPUTS))
def test_a_link_to_the_store_is_refused(store: Renovation, output: str, tmp_path: Path) -> None:
    link = tmp_path / "innocent.html"
    link.symlink_to(Path(store.db))
    events = event_count(store.db)

    result = store(*OUTPUTS[output](link))

    assert result.exit_code == 2 and "the store's own file" in result.output
    assert event_count(store.db) == events


@pytest.mark.parametrize("output", sorted(OUTPUTS))
def test_a_symlink_elsewhere_is_replaced_not_written_through(store: Renovation, output: str,
                                                              tmp_path: Path) -> None:
    other = tmp_path / "someone-elses.txt"
    other.write_text("keep me\n", encoding="utf-8")
    link = tmp_path / "out.txt"
    link.symlink_to(other)

    store.ok(*OUTPUTS[output](link))

    assert other.read_text(encoding="utf-8") == "keep me\n"
    assert link.is_file() and not link.is_symlink()


@pytest.mark.parametrize("output", sorted(OUTPUTS))
@pytest.mark.parametrize("target", ["device", "directory", "fifo"])
def test_directories_and_special_files_are_refused(store: Renovation, output: str, target: str,
                                                   tmp_path: Path) -> None:
    """Never the machine's own /dev/null or /dev/full: a test that failed would replace them (an
    earlier export did exactly that, as root). A device node of the test's own instead."""
    path = tmp_path / f"a-{target}"
    if target == "device":
        try:
            os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # what /dev/null is
        except PermissionError:
            pytest.skip("making a device node needs CAP_MKNOD")
    elif target == "directory":
        path.mkdir()
    else:
        os.mkfifo(path)
    kind = os.stat(path).st_mode

    result = store(*OUTPUTS[output](path))

    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "not a regular file" in result.output
    assert os.stat(path).st_mode == kind  # still what it was (a device, a directory, a fifo)


@pytest.mark.parametrize("output", sorted(OUTPUTS))
def test_a_failed_write_leaves_the_old_file_whole(store: Renovation, output: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills up while the new file is written: the old one is still there, whole, and no
    half-written file is left beside it."""
    target = tmp_path / "out.txt"
    target.write_text("the previous report\n", encoding="utf-8")

    def disk_full(_fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    result = store(*OUTPUTS[output](target))
    monkeypatch.undo()

    assert result.exit_code == 2 and "No space left on device" in result.output
    assert target.read_text(encoding="utf-8") == "the previous report\n"
    assert sorted(p.name for p in tmp_path.iterdir() if "out" in p.name) == ["out.txt"]


@pytest.mark.parametrize("output", sorted(OUTPUTS))
def test_the_files_of_a_store_opened_through_a_link_are_refused(output: str, tmp_path: Path) -> None:
    """SQLite names the write-ahead log after the link's target: that is the file to protect."""
    real = Renovation(tmp_path / "real.db")
    real.ok(*REGISTER_JM)
    (tmp_path / "link.db").symlink_to(tmp_path / "real.db")
    through_link = Renovation(tmp_path / "link.db")
    for target in (tmp_path / "real.db-wal", tmp_path / "real.db", tmp_path / "real.db-writer.lock"):
        result = through_link(*OUTPUTS[output](target))

        assert result.exit_code == 2 and "the store's own file" in result.output, (target, result.output)


@pytest.mark.parametrize("output", sorted(OUTPUTS))
def test_a_replaced_file_keeps_its_permissions(store: Renovation, output: str, tmp_path: Path) -> None:
    target = tmp_path / "private.out"
    target.write_text("old\n", encoding="utf-8")
    target.chmod(0o600)

    store.ok(*OUTPUTS[output](target))

    assert stat.S_IMODE(target.stat().st_mode) == 0o600
