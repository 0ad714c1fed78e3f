"""What an import's worker spends on a line: ``Importer.check`` (decoding, the shape and types, the zone,
versions and commands, the command run again, encoding) over the first lines of a programme's export, in
this process, in processor time (less moved by other work on the machine than wall time). Medians of
``--runs`` passes, each with a fresh importer on an empty store.

    python benchmarks/import_checks.py [--compounds 200] [--lines 40000] [--runs 5]

Compare two trees by running each one's script with ``PYTHONPATH`` set to the tree.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import statistics
import tempfile
import time
from pathlib import Path

from common import WORK, demo_store

from renovation.cli import YOUNG_OBJECTS
from renovation.services.application import RenovationApp
from renovation.services.transfer import PHOTO_LINE, Importer, _lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--compounds", type=int, default=200)
    parser.add_argument("--lines", type=int, default=40_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    gc.set_threshold(YOUNG_OBJECTS, 10, 10)  # as every command of the CLI runs
    demo_store(args.compounds)
    export = WORK / f"demo-{args.compounds}.jsonl"
    lines = [line for line in itertools.islice(_lines(export), 1, args.lines + 1) if not line[1].startswith(PHOTO_LINE)]
    with tempfile.TemporaryDirectory() as folder:
        app = RenovationApp(str(Path(folder) / "empty.db"))
        app.take_zone("Asia/Shanghai")  # the demo's, as its export's header gives an empty store

        def checked() -> float:
            importer = Importer(app)
            importer.in_order, importer.share = False, (0, 1)  # as a worker checks its share (here: all)
            started = time.process_time()
            for number, raw in lines:
                if importer.check(number, raw).stage is not None:
                    raise SystemExit(f"line {number} was refused: the export is not the demo's")
            spent = time.process_time() - started
            importer.compounds.close()
            return spent

        spent = [checked() for _ in range(args.runs)]
        app.close()
    each = [seconds / len(lines) * 1e6 for seconds in spent]
    print(f"{len(lines)} lines of the {args.compounds}-compound export: Importer.check {statistics.median(each):.1f} "
          f"µs a line (median of {args.runs}; fastest {min(each):.1f})")


if __name__ == "__main__":
    main()
