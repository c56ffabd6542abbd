"""The figures' manifest across redraws: tables of other runs carried from an
earlier manifest.

`figures` writes `manifest.json` beside the figures it draws, with the
published run's record and tables that compare other runs (the ablation, the
twins, the KL-weight sweep). Redrawing the published run's figures should not
need every compared run retrained, so an earlier manifest can supply those
tables, each marked with the command that measured it.
"""

from __future__ import annotations

import json
from pathlib import Path


def read_manifest(path: Path) -> dict:
    """The manifest at `path`, written by an earlier `figures` command.

    Raises:
        ValueError: `path` cannot be read as JSON, or holds no manifest (no
            `command`).
    """
    try:
        manifest = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(
            f"cannot read {path} as a manifest ({err})"
        ) from err
    if not isinstance(manifest, dict) or "command" not in manifest:
        raise ValueError(
            f"{path} is not a manifest written by `figures` (it has "
            "no 'command')"
        )
    return manifest


# the manifest's tables of other runs
TABLES = ("ablation", "twins", "beta_sweep")


def carry_tables(manifest: dict, earlier: dict) -> dict:
    """`manifest` with the tables it lacks taken from `earlier`, each marked
    with where it came from, so that the published run's figures can be
    redrawn without retraining every run the tables compare.

    A carried table keeps the numbers of the command that measured it:
    `carried_tables` names, for each table, that command and the date and
    commit it ran at (the first ones, when `earlier` had carried the table
    itself).

    Args:
        manifest: a manifest just written by this code.
        earlier: a manifest written before, by the same or an earlier
            command.

    Returns:
        A new manifest; a table measured now always wins over a carried one.
    """
    carried = dict(manifest.get("carried_tables", {}))
    result = dict(manifest)
    for table in TABLES:
        if table in manifest or table not in earlier:
            continue
        result[table] = earlier[table]
        drawn = earlier.get("figures_drawn", {})
        source = {
            "command": earlier.get("command"),
            "date": drawn.get("date"),
            "commit": drawn.get("commit"),
        }
        carried[table] = earlier.get("carried_tables", {}).get(table, source)
    if carried:
        result["carried_tables"] = carried
    return result
