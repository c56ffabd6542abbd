"""Chapter 6's precision runs side by side: what float32 and bfloat16
training reach on the same budget, seed by seed.

Run it on finished runs that differ in their precision (and their seed):
`python -m flaxguide.chapters.precision --runs runs/q60-* --out
docs/figures/precision.json`. It writes each run's settings and final
numbers (`compare_runs`), one row per run; the chapter prints them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from flaxguide.provenance import provenance
from flaxguide.run.directory import compare_runs
from flaxguide.run.record import RunError, read_run


def main(argv: list[str] | None = None) -> None:
    """Tabulate the runs named and write the table, with where and how it
    was made."""
    cli = argparse.ArgumentParser(
        prog="python -m flaxguide.chapters.precision",
        description=__doc__.split("\n\n")[0],
    )
    cli.add_argument(
        "--runs", type=Path, nargs="+", required=True, help="finished runs"
    )
    cli.add_argument("--out", type=Path, required=True, help="a .json file")
    args = cli.parse_args(argv)
    try:
        rows = compare_runs([read_run(run) for run in args.runs])
    except RunError as err:
        cli.exit(2, f"{cli.prog}: error: {err}\n")
    table = {"runs": rows, "tabulated": provenance()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(table, indent=2) + "\n")
    print(f"wrote {args.out}: {len(rows)} runs", file=sys.stderr)


if __name__ == "__main__":
    main()
