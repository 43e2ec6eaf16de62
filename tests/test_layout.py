"""The package's layout shows the flow: each stage a folder, no folder reaching up the flow."""
import ast
from pathlib import Path

from conftest import REPO

PACKAGE = REPO / "signseg"
#: The floors, lowest first: a module may import its own floor and those below, never above.
#: Shared vocabulary (errors, labels, cache, the CPU's flags, version) sits below them all;
#: tools that use several floors (the CLI, overlays) sit above.
FLOORS = ["_version", "errors", "quiet", "labels", "cache", "cpu", "weights", "decode", "models", "infer", "postprocess", "store", "run",
          "teacher", "train", "overlay", "video", "readers", "report", "cli", "__init__", "__main__"]


def _floor(module: str) -> int:
    parts = module.split(".")
    assert parts[0] == "signseg", module
    if len(parts) == 1:
        return FLOORS.index("__init__")
    return FLOORS.index(parts[1])


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(REPO).with_suffix("")
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        yield path, name


def _imports(path: Path, name: str):
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                yield ".".join(base + ([node.module] if node.module else [])), node.lineno
            elif node.module and node.module.startswith("signseg"):
                yield node.module, node.lineno
                if node.module == "signseg":
                    for alias in node.names:
                        yield f"signseg.{alias.name}", node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("signseg"):
                    yield alias.name, node.lineno


def test_every_module_sits_on_a_known_floor():
    for path, name in _modules():
        if name != "signseg":
            assert name.split(".")[1] in FLOORS, f"{path}: not on a floor of tests/test_layout.py"


def test_no_module_imports_a_higher_floor():
    upward = []
    for path, name in _modules():
        mine = _floor(name)
        for imported, line in _imports(path, name):
            if imported == "signseg":
                continue
            if _floor(imported) > mine:
                upward.append(f"{path.relative_to(REPO)}:{line} ({FLOORS[mine]}) imports {imported}")
    assert not upward, "\n".join(upward)


def test_the_stages_are_folders():
    for stage in ("decode", "infer", "postprocess", "store", "run", "models", "teacher", "train", "report", "cli"):
        assert (PACKAGE / stage / "__init__.py").is_file(), stage


def test_the_public_names_of_the_readme_resolve():
    """What README.md shows keeps working after the moves."""
    import signseg
    import signseg.readers
    import signseg.video
    from signseg.cli import main
    assert callable(main)
    for name in ("Segmenter", "MaskReader", "MaskFile", "VideoReader", "read_video", "snet", "vgg_unet"):
        assert getattr(signseg, name) is not None, name
    assert signseg.video.VideoReader is signseg.VideoReader
    assert callable(signseg.readers.to_tf_dataset) and callable(signseg.readers.to_torch_dataset)
    assert signseg.Segmenter.stream and signseg.Segmenter.predict_proba


def test_every_signseg_name_in_the_code_and_docs_exists():
    """Docstrings and docs name modules, classes and functions that are there (after moves)."""
    import importlib
    import re
    import subprocess
    files = subprocess.run(["git", "ls-files", "*.py", "*.md"], capture_output=True, text=True, cwd=REPO,
                           check=True).stdout.split()
    missing = set()
    for f in files:
        for name in re.findall(r"\bsignseg(?:\.[A-Za-z_][A-Za-z0-9_]*)+", (REPO / f).read_text()):
            parts = name.split(".")
            for k in range(len(parts), 0, -1):  # the longest importable prefix, then attributes
                try:
                    obj = importlib.import_module(".".join(parts[:k]))
                    break
                except ImportError:
                    continue
            for attr in parts[k:]:
                obj = getattr(obj, attr, None)
                if obj is None:
                    missing.add(f"{f}: {name}")
                    break
    assert not missing, "\n".join(sorted(missing))


def _import_graph() -> dict[str, set[str]]:
    """Module -> the signseg modules it imports (anywhere in it: at the top, in a function, or
    for type checking only), packages' own ``__init__`` left out."""
    modules = dict((name, path) for path, name in _modules())
    packages = {name for name, path in modules.items() if path.name == "__init__.py"}
    graph = {}
    for name, path in modules.items():
        if name in packages:
            continue
        graph[name] = {imported for imported, _ in _imports(path, name)
                       if imported in modules and imported not in packages and imported != name}
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import circle, each once (as a path from its first module back to it)."""
    found, seen = [], set()

    def walk(start, node, path):
        for nxt in sorted(graph.get(node, ())):
            if nxt == start:
                key = frozenset(path)
                if key not in seen:
                    seen.add(key)
                    found.append(path + [start])
            elif nxt not in path and nxt > start:  # each circle from its smallest module only
                walk(start, nxt, path + [nxt])

    for start in sorted(graph):
        walk(start, start, [start])
    return found


def test_no_import_circles():
    """No two modules import each other, directly or round a ring, not even inside a function
    (a circle hides one job split over two files)."""
    circles = _circles(_import_graph())
    assert not circles, "\n".join(" -> ".join(c) for c in circles)


def test_the_circle_finder_finds_circles():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert _circles({"a": {"b"}, "b": set()}) == []
