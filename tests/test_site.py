"""The built site: strict build, maths and versions in place, nothing fetched from third parties."""

import json
import re
from importlib import metadata

import pytest
from conftest import ROOT, SITE_URL

# Attributes whose URL a browser fetches on its own (links a reader clicks are not requests).
FETCHED = re.compile(
    r"""<(?:script|link|img|iframe|source|video|audio)\b[^>]*?\b(?:src|href)=["']([^"']+)"""
)


@pytest.fixture(scope="module")
def site(built_site):
    return built_site  # conftest.py: built once per session, strictly


def locked_versions() -> dict[str, str]:
    """The pins of requirements.lock, by package name, read as the site's hook reads them."""
    from test_site_env import site_hook

    return site_hook.locked_versions()


def test_landing_page_lists_the_locked_versions(site):
    from test_site_env import site_hook

    html = (site / "index.html").read_text()
    locked = locked_versions()
    for name in ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "torch", "torchvision"):
        # The page lists what the lock pins (the site may be built without these installed)...
        row = rf"<td>{name}</td>\s*<td><code>{re.escape(locked[name])}</code></td>"
        assert re.search(row, html), name
        # ...and the environment executing the pages here is the lock.
        installed = metadata.version(name)
        assert installed.split("+")[0] == locked[name], (name, installed, locked[name])
    # The Pythons the pages are executed on (pyproject.toml's classifiers, CI's matrix).
    pythons = ", ".join(f"<code>{v}</code>" for v in site_hook.tested_pythons())
    assert pythons.count("<code>") >= 2
    assert re.search(r"<td>Python</td>\s*<td>" + re.escape(pythons) + "</td>", html)
    assert "<!-- versions -->" not in html


def test_maths_is_rendered_by_the_sites_own_katex(site):
    html = (site / "index.html").read_text()
    assert 'class="arithmatex"' in html
    for asset in ("katex.min.js", "katex.min.css", "contrib/auto-render.min.js"):
        assert (site / "assets/katex" / asset).is_file()
    assert list((site / "assets/katex/fonts").glob("KaTeX_Main-Regular.woff2"))


def test_no_page_fetches_from_another_host(site):
    offenders = []
    for page in site.rglob("*.html"):
        # The canonical address names the page, for search engines; a browser fetches nothing.
        html = re.sub(r'<link rel="canonical"[^>]*>', "", page.read_text())
        for url in FETCHED.findall(html):
            if re.match(r"(https?:)?//", url):
                offenders.append(f"{page.relative_to(site)}: {url}")
    for sheet in site.rglob("*.css"):
        offenders += [
            f"{sheet.name}: {u}"
            for u in re.findall(r"url\((?:'|\")?(https?://[^)'\"]+)", sheet.read_text())
        ]
        offenders += [
            f"{sheet.name}: @import"
            for _ in re.findall(r"@import\s+url\(\s*['\"]?https?://", sheet.read_text())
        ]
    assert not offenders, offenders


def test_quality_numbers_come_from_the_manifest(site):
    manifest = json.loads((ROOT / "docs/figures/manifest.json").read_text())
    html = (site / "cvae/index.html").read_text()
    assert "<!-- run-metrics -->" not in html
    assert f"<td>{manifest['metrics']['test_nelbo']:.2f} nats</td>" in html
    assert f"<td>{manifest['metrics']['conditional_accuracy']:.2%}</td>" in html


def test_the_fault_table_lists_every_case_the_tests_try(site):
    from fault_cases import FAULTS

    html = (site / "checkpoints/index.html").read_text()
    assert "<!-- faults -->" not in html
    assert html.count("<tr>") >= len(FAULTS) + 1  # a header row, then one row per fault
    assert "the disk fills up" in html and "a second <code>train --resume</code>" in html


def test_the_landing_page_leads_with_the_result(site):
    manifest = json.loads((ROOT / "docs/figures/manifest.json").read_text())
    html = (site / "index.html").read_text()
    samples, numbers = html.find('src="figures/samples.png"'), html.find("nats</td>")
    chapters = html.find('id="chapter-map"')
    assert 0 < samples < numbers < chapters  # the samples, then the numbers, then the path
    assert f"<td>{manifest['metrics']['test_nelbo']:.2f} nats</td>" in html
    assert "examples/s" in html


def test_the_site_knows_its_address_so_its_sitemap_and_404_page_work_under_a_subpath(site):
    # Built with `site_url` (FLAXGUIDE_SITE_URL), as the site workflow builds it.
    sitemap = (site / "sitemap.xml").read_text()
    listed = re.findall(r"<loc>([^<]+)</loc>", sitemap)
    folders = [page.relative_to(site).as_posix() for page in site.rglob("index.html")]
    pages = [folder.removesuffix("index.html") for folder in folders]
    assert sorted(listed) == sorted(SITE_URL + page for page in pages)
    # GitHub Pages serves 404.html for any missing path, at any depth: its assets must be
    # addressed from the site's root under its subpath, not relative to the missing page.
    missing = (site / "404.html").read_text()
    subpath = re.sub(r"^https://[^/]+", "", SITE_URL)
    assets = FETCHED.findall(missing)
    assert assets and all(url.startswith(subpath) for url in assets if "://" not in url), assets


def test_the_reference_names_every_field_of_config_and_presets_in_words(site):
    import dataclasses

    from flaxguide.config import Config

    html = (site / "reference" / "index.html").read_text()
    config = html.split('id="flaxguide.config.Config"')[1].split(
        'id="flaxguide.config.ConfigError"'
    )[0]
    attributes = config.split("Attributes:")[1].split("</table>")[0]
    described = set(
        re.findall(r'<tr class="doc-section-item">\s*<td><code><span[^>]*>(\w+)<', attributes)
    )
    assert described >= {field.name for field in dataclasses.fields(Config)}, described
    presets = html.split('id="flaxguide.config.PRESETS"')[1].split("</h3>")[0]
    assert "Config(" not in presets  # the heading is the name, not the whole value
