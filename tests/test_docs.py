"""Every page of the site runs: each Python block executes and each shown output matches."""

import os
import re
import subprocess
import sys

import pytest
from conftest import DOCS, MKDOCS_YML, ROOT
from docs_harness import run_page

PAGES = sorted(DOCS.rglob("*.md"))
# A page that needs several devices says so; JAX fixes the device count when it starts, so
# such a page runs in a process of its own, with fake CPU devices, under the same strict rules.
DEVICES = re.compile(r"^<!-- devices: (\d+) -->$", re.MULTILINE)


def test_pages_are_found():
    assert DOCS / "index.md" in PAGES


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(DOCS).as_posix() for p in PAGES])
def test_page_runs(page, monkeypatch):
    # Snippet paths in pages are relative to the repository root, as in `mkdocs build`.
    monkeypatch.chdir(ROOT)
    wanted = DEVICES.search(page.read_text(encoding="utf-8"))
    if wanted is None:
        run_page(page, MKDOCS_YML)
    else:
        run_page_on_devices(page, int(wanted[1]))


def run_page_on_devices(page, devices: int) -> None:
    env = os.environ | {"XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
    harness = [sys.executable, "-W", "error", str(ROOT / "tests" / "docs_harness.py")]
    done = subprocess.run(
        [*harness, "--check", "--config", str(MKDOCS_YML), str(page)],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]


def test_a_page_that_asks_for_devices_gets_them(tmp_path):
    code = "```python\nimport jax\n\nprint(jax.device_count())\n```\n"
    page = tmp_path / "page.md"
    page.write_text(f'<!-- devices: 4 -->\n\n{code}\n```text title="Output"\n4\n```\n')
    run_page_on_devices(page, int(DEVICES.search(page.read_text())[1]))
    page.write_text(f'{code}\n```text title="Output"\n3\n```\n')  # a wrong output fails
    with pytest.raises(AssertionError, match="not what the block"):
        run_page_on_devices(page, 3 + 1)
