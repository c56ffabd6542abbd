"""Tables carried from an earlier manifest: marked with their source, never over new ones."""

import json

from flaxguide.figures.manifest import carry_tables, read_manifest

EARLIER = {
    "command": "python -m flaxguide figures --run runs/a --twin runs/a runs/b --sweep runs/s",
    "figures": {"samples.png": "old samples", "beta-sweep.png": "rate against distortion"},
    "figures_drawn": {"date": "2026-11-29T22:21:24+00:00", "commit": "abc"},
    "twins": [{"run": "a"}, {"run": "b"}],
    "beta_sweep": [{"run": "s", "kl_weight": 1.0}],
}
NOW = {
    "command": "python -m flaxguide figures --run runs/a --sweep runs/t",
    "figures": {"samples.png": "new samples", "beta-sweep.png": "rate against distortion"},
    "figures_drawn": {"date": "2026-12-04T23:00:00+00:00", "commit": "def"},
    "beta_sweep": [{"run": "t", "kl_weight": 2.0}],
}


def test_a_missing_table_is_carried_and_marked_with_its_command():
    merged = carry_tables(NOW, EARLIER)
    assert merged["twins"] == EARLIER["twins"]
    assert merged["carried_tables"] == {
        "twins": {"command": EARLIER["command"], "date": EARLIER["figures_drawn"]["date"],
                  "commit": "abc"},
    }  # fmt: skip
    assert merged["figures"]["samples.png"] == "new samples"
    assert "ablation" not in merged  # what neither manifest has stays absent


def test_a_table_measured_now_wins():
    merged = carry_tables(NOW, EARLIER)
    assert merged["beta_sweep"] == NOW["beta_sweep"]
    assert "beta_sweep" not in merged["carried_tables"]
    assert "twins" not in NOW  # the manifest passed in is left as it was


def test_a_table_carried_twice_keeps_the_command_that_measured_it():
    once = carry_tables(NOW, EARLIER)
    again = carry_tables({k: v for k, v in NOW.items() if k != "beta_sweep"}, once)
    assert again["carried_tables"]["twins"]["command"] == EARLIER["command"]
    assert again["carried_tables"]["beta_sweep"]["command"] == NOW["command"]
    assert again["beta_sweep"] == NOW["beta_sweep"]


def test_read_manifest_refuses_what_is_not_one(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(EARLIER))
    assert read_manifest(path) == EARLIER
    for text, reason in [("{", "cannot read"), ('{"twins": []}', "has no 'command'")]:
        path.write_text(text)
        try:
            read_manifest(path)
        except ValueError as err:
            assert reason in str(err)
        else:
            raise AssertionError(f"{text!r} was read as a manifest")
