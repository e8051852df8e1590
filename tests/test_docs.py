"""The docs say what the code is: the generated reference pages match the code, README stays a front page,
every link between the pages and into the results resolves, and every result the results page names is on
disk (and every result on disk is named somewhere). `make docs` builds the site strictly on top of this."""

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
RESULTS = ROOT / "benchmarks" / "results"


def _reference_tool():
    spec = importlib.util.spec_from_file_location("docs_reference", ROOT / "tools" / "docs_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _slug(heading: str) -> str:
    """The anchor mkdocs' toc gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\s-]", "", heading.strip().lower())
    return re.sub(r"[\s]+", "-", text).strip("-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    return {_slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.*)$", text, flags=re.M)}


def test_the_generated_reference_pages_match_the_code():
    tool = _reference_tool()
    for name, render in tool.PAGES.items():
        page = DOCS / "reference" / name
        assert page.read_text(encoding="utf-8") == render(), f"{page} is stale: run python tools/docs_reference.py"
    assert tool.main(["--check"]) == 0


def test_the_staleness_check_fails_on_a_page_that_drifted(tmp_path, monkeypatch):
    tool = _reference_tool()
    monkeypatch.setattr(tool, "REFERENCE", tmp_path)
    assert tool.main([]) == 0 and tool.main(["--check"]) == 0
    page = tmp_path / "tables.md"
    page.write_text(page.read_text().replace("`paper-mnist`", "`paper-mnist-old`", 1))
    assert tool.main(["--check"]) == 1


def test_the_reference_pages_cover_every_table_entry_and_command_option():
    from infogan.cli import build_parser
    from infogan.data.datasets import DATASETS
    from infogan.metrics.registry import METRICS
    from infogan.model.architectures import ARCHS
    from infogan.presets import PRESETS

    tables = (DOCS / "reference" / "tables.md").read_text()
    for name in [*PRESETS, *ARCHS, *DATASETS]:
        assert f"`{name}" in tables, name
    metrics = (DOCS / "reference" / "metrics.md").read_text()
    assert all(f"| `{name}` |" in metrics for name in METRICS)
    cli = (DOCS / "reference" / "cli.md").read_text()
    train = build_parser()._subparsers._group_actions[0].choices["train"]
    for action in train._actions:
        long = [o for o in action.option_strings if o.startswith("--") and "_" not in o]
        if long and long[0] != "--help":
            assert f"`{long[0]}`" in cli, long[0]


def test_the_cli_reference_describes_every_argument_under_a_group_named_once_per_command():
    cli = (DOCS / "reference" / "cli.md").read_text()
    for command in cli.split("\n## ")[1:]:
        name = command.splitlines()[0]
        titles = re.findall(r"^\*([^*]+)\*$", command, flags=re.M)
        assert len(titles) == len(set(titles)), (name, titles)  # "arguments" and "options", not "arguments" twice
        undescribed = [row for row in command.splitlines() if row.startswith("| `") and row.rstrip().endswith("|  |")]
        assert undescribed == [], (name, undescribed)


def test_readme_is_a_front_page_of_at_most_200_lines_with_a_picture_first():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200
    first_picture = next(i for i, line in enumerate(lines) if "![" in line)
    assert first_picture < 15  # in the first screen
    assert "make demo" in "\n".join(lines[:30]) and "make test" in "\n".join(lines[:30])


def _links(page: Path):
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if not re.match(r"[a-z]+:", target):
            yield target


@pytest.mark.parametrize("page", [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))], ids=lambda p: p.name)
def test_every_relative_link_and_anchor_resolves(page):
    for target in _links(page):
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        assert resolved.exists(), f"{page.name}: {target} does not exist"
        if anchor and resolved.suffix == ".md":
            assert anchor in _anchors(resolved), f"{page.name}: {target}: no such section"


def test_code_comments_link_to_sections_of_the_results_page_that_exist():
    anchors = {page.relative_to(ROOT).as_posix(): _anchors(page) for page in DOCS.glob("*.md")}
    found = 0
    for source in [*ROOT.glob("infogan/**/*.py"), *ROOT.glob("benchmarks/*.py"), *ROOT.glob("tests/*.py")]:
        for page, anchor in re.findall(r"(docs/[\w-]+\.md)#([\w-]+)", source.read_text(encoding="utf-8")):
            found += 1
            assert anchor in anchors.get(page, set()), f"{source.name}: {page}#{anchor} does not exist"
        assert "BENCHMARKS.md" not in source.read_text(encoding="utf-8") or source.name == "test_docs.py"
    assert found >= 5


def test_every_result_the_results_page_names_exists_and_every_result_is_named():
    page = (DOCS / "results.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`(?:results/)?((?:h200/(?:evidence/)?)?[\w.-]+\.(?:json|log))`", page))
    assert len(named) > 30
    for name in named:
        assert (RESULTS / name).is_file(), f"results.md names {name}, which is not in benchmarks/results/"
    everything = page + "".join(p.read_text(encoding="utf-8") for p in [*DOCS.glob("*.md"), ROOT / "README.md"])
    everything += "".join(p.read_text(encoding="utf-8") for p in ROOT.glob("benchmarks/*.py"))
    for result in RESULTS.glob("*.json"):
        assert result.name in everything, f"{result.name} is cited nowhere: move it to benchmarks/results/archive/"
