"""The package's shape: sub-packages by concern, imports at the top, no import circles, modules a reader
can take in, and the public API that notebooks use."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "infogan"
MAX_LINES = 450


def _modules() -> dict[str, Path]:
    return {
        ".".join(("infogan", *path.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__"): path
        for path in PACKAGE.rglob("*.py")
    }


def _top_level_imports(path: Path) -> set[str]:
    """The infogan modules a module imports when it is itself imported."""
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("infogan"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("infogan"))
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: {m for m in _top_level_imports(path) if m in modules and m != name} for name, path in modules.items()}


def test_no_import_circles():
    graph = _graph()
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node):
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                raise AssertionError("import circle: " + " -> ".join(path[path.index(nxt) :] + [nxt]))
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_sub_packages_group_the_modules():
    top = {p.stem for p in PACKAGE.glob("*.py")}
    assert top <= {"__init__", "__main__", "config", "presets", "sweep", "errors", "files", "checks", "checkpoint"}, top
    for package in ("cli", "model", "data", "train", "metrics", "serve"):
        assert (PACKAGE / package / "__init__.py").read_text().startswith('"""'), package  # each says what it holds


def test_the_public_api_still_imports():
    import infogan

    assert set(infogan.__all__) == {
        "PRESETS", "Encoded", "LatentSpec", "TrainConfig", "UsageError", "encode", "generate", "load_encoder",
        "load_generator", "resume", "train",
    }  # fmt: skip
    for name in infogan.__all__:  # each is what the API page documents: a documented class or function, or the table
        value = getattr(infogan, name)
        assert (callable(value) and (value.__doc__ or "").strip()) or name == "PRESETS" and isinstance(value, dict), (
            name
        )


def test_the_package_imports_its_own_modules_at_the_top():
    """Inside a function only heavy optional dependencies are imported (each with its why); every module of
    the package is imported at the top, where a reader sees what a module depends on."""
    inside = []
    for name, path in _modules().items():
        tree = ast.parse(path.read_text())
        for func in ast.walk(tree):
            if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(func):
                    if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("infogan"):
                        inside.append(f"{name}: from {node.module}")
    assert inside == []


def test_no_module_is_longer_than_a_reader_takes_in():
    long = {name: n for name, path in _modules().items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_the_trainer_stays_a_class_a_reader_takes_in():
    """The loop's class holds the loop: its checkpoint state is run_state.py's, its schedule schedule.py's."""
    tree = ast.parse((PACKAGE / "train" / "loop.py").read_text())
    trainer = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Trainer")
    assert trainer.end_lineno - trainer.lineno + 1 <= 160


def test_an_option_several_commands_take_is_defined_once():
    source = "".join(path.read_text() for path in (PACKAGE / "cli").glob("*.py"))
    for flag in ("--data-dir", "--device", "--classifier", "--samples", "--eval-dataset"):
        assert source.count(f'"{flag}"') == 1, flag
    from infogan.cli import build_parser

    helps = {}
    for command in ("evaluate", "sweep"):
        sub = build_parser()._subparsers._group_actions[0].choices[command]
        helps[command] = next(a.help for a in sub._actions if "--classifier" in a.option_strings)
    assert helps["evaluate"] == helps["sweep"]  # the same text, from the one definition


def test_comments_and_docs_name_only_modules_that_exist():
    """A `*.py` named in a comment, docstring or page is a file of the repository: a path resolves from the
    root, from infogan/ or from the naming file's folder; a bare name is some file's name. OUTSIDE: the files
    the benchmarks read beside the repository."""
    import re
    import subprocess

    root = PACKAGE.parent
    tracked = subprocess.run(["git", "ls-files"], capture_output=True, text=True, cwd=root, check=True).stdout.split()
    outside = {"seed_tf_throughput.py"}  # ../shared/peers/, the seed's TensorFlow step (benchmarks/throughput.py)
    files, names = set(tracked), {Path(f).name for f in tracked} | outside
    mention = re.compile(r"(?<![\w./-])((?:[\w-]+/)*[\w-]+\.py)\b")
    stale = []
    for name in tracked:
        if not re.search(r"\.(py|md|toml)$|^Makefile$|^\.ci/", name) or name.startswith("tests/fixtures/"):
            continue
        text = (root / name).read_text(errors="replace")
        for match in mention.finditer(text):
            ref = match.group(1)
            folder = str(Path(name).parent)
            resolved = {ref, f"infogan/{ref}", str(Path(folder, ref)) if folder != "." else ref}
            if not (resolved & files or ("/" not in ref and ref in names)):
                stale.append(f"{name}:{text[: match.start()].count(chr(10)) + 1}: {ref}")
    assert stale == []


# The package's layers, top to bottom: a module imports only from its own layer or those below it. README.md
# and docs/index.md state this order.
LAYERS = ("cli", "sweep", "train", "metrics", "serve", "checkpoint", "data", "config", "presets", "model", "checks")
LAYERS += ("files", "errors")


def test_imports_run_down_the_layers_and_the_docs_say_so():
    layer = lambda module: module.split(".")[1] if module.count(".") else module  # noqa: E731
    upward = sorted(
        f"{name} -> {target}"
        for name, targets in _graph().items()
        if name not in ("infogan", "infogan.__main__")
        for target in targets
        if LAYERS.index(layer(target)) < LAYERS.index(layer(name))
    )
    assert upward == []
    stated = " -> ".join(LAYERS)
    for page in ("README.md", "docs/index.md"):
        assert stated in " ".join((PACKAGE.parent / page).read_text().split()), page


def test_no_function_is_longer_than_a_screen_or_two():
    long = {
        f"{name}.{node.name}": length
        for name, path in _modules().items()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and (length := node.end_lineno - node.lineno + 1) > 120
    }
    assert long == {}
