"""Benchmark 2: how long a user waits for a command, against the imports the lightest use of this
stack cannot avoid, run by the same interpreter in the same run (medians of several runs, the floor
and the command taking turns).

    --help                     vs  python -c "import click"                                  (≤ 1.5×)
    one recorded inspection    vs  python -c "import click, pydantic, eventsourcing.application,
                                                eventsourcing.sqlite"                        (≤ 1.5×)
    ranking --json             vs  python -c "import click, pydantic, sqlalchemy,
                                                eventsourcing.application"                   (≤ 1.5×)

    python benchmarks/cli_latency.py [--runs 9]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from common import demo_store, median_seconds, paired_medians

CLI = [sys.executable, "-c", "from renovation.cli import cli; cli()"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    # As installed: `pip install .` writes the package's bytecode, as it did for click, pydantic and
    # eventsourcing in the floor (a shell with PYTHONDONTWRITEBYTECODE=1 would otherwise compile
    # the project's modules from source on every run).
    import compileall

    import renovation

    compileall.compile_dir(Path(renovation.__file__).parent, quiet=1)
    source = demo_store()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "demo.db"
        shutil.copy(source, db)
        base = [*CLI, "--db", str(db), "--user", "bench"]
        # Catch the read models up once, as the demo's own first read would.
        median_seconds([*base, "ranking", "--json"], 1)
        cases = [
            ("--help", "import click", [*CLI, "--help"]),
            ("inspect LY --kind patrol",
             "import click, pydantic, eventsourcing.application, eventsourcing.sqlite",
             [*base, "inspect", "LY", "--kind", "patrol"]),
            ("ranking --json", "import click, pydantic, sqlalchemy, eventsourcing.application",
             [*base, "ranking", "--json"]),
        ]
        print(f"medians of {args.runs} runs, {sys.executable}")
        for name, imports, command in cases:
            floor, ours = paired_medians([[sys.executable, "-c", imports], command], args.runs)
            print(f"{name:26} {ours * 1000:7.1f} ms   floor `{imports}` {floor * 1000:7.1f} ms   "
                  f"ratio {ours / floor:.2f} (must ≤ 1.5, aim 1.25)")


if __name__ == "__main__":
    main()
