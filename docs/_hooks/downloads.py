"""What a reader can take away from the site: each chapter as a notebook, each page as Markdown.

- `notebooks/<chapter>.ipynb`: the chapter's notebook (`notebooks.py` makes it from the page),
  with the outputs the page shows and a first cell that sets a runtime up.
- `<page>.md` for every page, its embedded code expanded, and `llms.txt` listing them: the
  pages as reading tools and language models take them.
- At the top of each chapter: Run in Colab, Download notebook, View source, and Report a
  problem with this page; on the landing page, "Run it yourself" starts with `git clone`.

The repository's address is configuration: `repo_url` in mkdocs.yml, read from the environment
variable `FLAXGUIDE_REPO_URL`, which the site workflow sets. Without it, the buttons that need
it are left out (Run in Colab, Report a problem) and View source opens the page's Markdown on
this site. Colab opens notebooks from GitHub, so the published notebooks are also pushed to the
repository's `notebooks` branch (`extra.notebooks_branch`) by the site workflow.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
from pathlib import Path
from urllib.parse import quote, urlencode

from locked import locked_versions
from mkdocs.utils import get_relative_url
from notebooks import chapter_notebook, records_read, setup_cell
from page_blocks import CHAPTERS, devices_wanted, expand_snippets

ROOT = Path(__file__).resolve().parents[2]
GITHUB = re.compile(r"^https://github\.com/(?P<owner>[\w.-]+)/(?P<name>[\w.-]+?)(?:\.git)?/?$")
_H1 = re.compile(r"^# .+$", re.MULTILINE)
CLONE_MARKER = "<!-- clone -->"


@functools.cache  # one build, one commit: asked once rather than once per chapter
def site_commit() -> str | None:
    """The commit the site is built from: the workflow's, else the checkout's, else None."""
    if os.environ.get("GITHUB_SHA"):
        return os.environ["GITHUB_SHA"]
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return done.stdout.strip() or None


def repository(config) -> str | None:
    """The repository's address as configured, without a trailing `/` or `.git`; None if unset."""
    url = config["repo_url"]
    return url.rstrip("/").removesuffix(".git") if url else None


def github_repo(repo_url: str | None) -> tuple[str, str] | None:
    """(owner, name) of a GitHub repository address; None for none or another host."""
    match = GITHUB.match(repo_url or "")
    return (match["owner"], match["name"]) if match else None


def package_requirement(repo_url: str | None, commit: str | None) -> str:
    """What the set-up cell installs: the package at the site's commit, or "" if unknown."""
    if not (repo_url and commit):
        return ""
    return f"flaxguide @ git+{repo_url}.git@{commit}"


def colab_url(repo: tuple[str, str], branch: str, chapter: str) -> str:
    """Colab's address for a notebook on a GitHub branch."""
    owner, name = repo
    notebook = Path(chapter).with_suffix(".ipynb").name
    return f"https://colab.research.google.com/github/{owner}/{name}/blob/{branch}/{notebook}"


def issue_url(repo_url: str, title: str, page_url: str) -> str:
    """A new-issue form with the page's title and address filled in."""
    query = urlencode(
        {"title": f"{title}: ", "body": f"Page: {page_url}\n\nWhat is wrong:\n"}, quote_via=quote
    )
    return f"{repo_url}/issues/new?{query}"


def actions(page, title: str, config) -> str:
    """The row of links at the top of a chapter whose heading is `title`."""
    chapter = page.file.src_uri
    notebook = Path(chapter).with_suffix(".ipynb").name
    repo_url = repository(config)
    repo = github_repo(repo_url)
    links = []
    if repo:
        branch = config["extra"]["notebooks_branch"]
        links.append(("Run in Colab", colab_url(repo, branch, chapter), ""))
    download = get_relative_url(f"notebooks/{notebook}", page.url)
    links.append(("Download notebook", download, f' download="{notebook}"'))
    if repo_url:
        commit = site_commit() or "HEAD"  # outside a checkout: the default branch's copy
        source = f"{repo_url}/blob/{commit}/docs/{chapter}"
    else:
        source = get_relative_url(chapter, page.url)
    links.append(("View source", source, ""))
    anchors = [
        f'<a class="md-button" href="{href}"{extra}>{label}</a>' for label, href, extra in links
    ]
    if repo_url:
        page_url = (config["site_url"] or "") + page.url
        report = issue_url(repo_url, title, page_url or chapter)
        anchors.append(
            f'<a class="chapter-report" href="{report}">Report a problem with this page</a>'
        )
    return (
        '<nav class="chapter-actions" aria-label="This chapter elsewhere">\n'
        + "\n".join(anchors)
        + "\n</nav>"
    )


def clone_commands(repo_url: str | None) -> str:
    """The first lines of "Run it yourself": a clone of the repository, and into it."""
    if not repo_url:
        return "cd flaxguide                # a clone of this site's repository"
    return f"git clone {repo_url}.git flaxguide\ncd flaxguide"


def on_page_markdown(markdown, page, config, files):
    if CLONE_MARKER in markdown:
        markdown = markdown.replace(CLONE_MARKER, clone_commands(repository(config)))
    if page.file.src_uri not in CHAPTERS:
        return markdown
    title = _H1.search(markdown)
    if title is None:
        return markdown
    row = actions(page, title.group(0)[2:].strip(), config)
    return markdown[: title.end()] + "\n\n" + row + "\n" + markdown[title.end() :]


def chapter_intro(chapter: str, config) -> str:
    """The line under a notebook's title: where it comes from and how to start."""
    site = config["site_url"]
    page = f"[its page]({site}{Path(chapter).stem}/)" if site else "its page on the site"
    return (
        f"*Chapter {CHAPTERS[chapter]} of {config['site_name']}, made from {page}: the same "
        "prose, code and outputs. Run the first cell to set this runtime up (on Colab, a GPU "
        "runtime gets JAX's CUDA build), then run the cells in order.*"
    )


def on_post_build(config):
    """Write the notebooks, the pages as Markdown and `llms.txt` into the built site."""
    locked = locked_versions()
    docs, site = Path(config["docs_dir"]), Path(config["site_dir"])
    package = package_requirement(repository(config), site_commit())
    (site / "notebooks").mkdir(parents=True, exist_ok=True)
    pages = sorted(docs.glob("*.md"))
    for page in pages:
        text = expand_snippets(page.read_text(encoding="utf-8"), config)
        (site / page.name).write_text(text, encoding="utf-8")
        if page.name in CHAPTERS:
            setup = setup_cell(locked, package, devices_wanted(text))
            notebook = chapter_notebook(
                text,
                setup=setup,
                intro=chapter_intro(page.name, config),
                records=records_read(text, ROOT),
                site_url=config["site_url"],
            )
            target = site / "notebooks" / page.with_suffix(".ipynb").name
            target.write_text(json.dumps(notebook, indent=1) + "\n", encoding="utf-8")
    (site / "llms.txt").write_text(llms_txt(config, pages), encoding="utf-8")


def llms_txt(config, pages: list[Path]) -> str:
    """The site's index for language models (llmstxt.org): its pages, as Markdown."""
    base = config["site_url"] or ""
    titles = {}
    for page in pages:
        match = _H1.search(page.read_text(encoding="utf-8"))
        titles[page.name] = match.group(0)[2:].strip() if match else page.stem
    chapters = [name for name in CHAPTERS if name in titles]
    others = [page.name for page in pages if page.name not in CHAPTERS]
    lines = [f"# {config['site_name']}", "", f"> {config['site_description']}", ""]
    lines += ["## Chapters", ""]
    lines += [f"- [{titles[name]}]({base}{name})" for name in chapters]
    lines += ["", "## Optional", ""]
    lines += [f"- [{titles[name]}]({base}{name})" for name in others]
    return "\n".join(lines) + "\n"
