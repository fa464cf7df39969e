"""Every third-party import is declared, so the README's install command on a fresh machine
installs everything the code imports (read from the source with `ast`).

- App code (`lab/`, `Home.py`, `pages/`): an import at module level runs whenever the app
  does, so its package must be one of the project's own dependencies; an import inside a
  function runs only for the command or option that needs it (the Ray backend, the
  benchmarks' browser), so its package may come from an extra instead.
- Test code (`tests/`): the dependencies or the `test` extra.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = {"lab"}


def _name(req: str) -> str:
    """The normalised distribution name of a requirement string ("Dask[distributed]==1")."""
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", req).group()).lower()


@cache
def _declared() -> dict[str, set[str]]:
    """Declared distributions: 'app' (dependencies), one entry per extra."""
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    out = {"app": {_name(r) for r in meta["dependencies"]}}
    out.update({k: {_name(r) for r in v} for k, v in meta["optional-dependencies"].items()})
    return out


def _imports(tree: ast.AST) -> list[tuple[str, bool, int]]:
    """(top-level module, imported inside a function, line) for every absolute import."""
    out: list[tuple[str, bool, int]] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        if isinstance(node, ast.Import):
            out.extend((a.name.split(".")[0], lazy, node.lineno) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.append((node.module.split(".")[0], lazy, node.lineno))
        inner = lazy or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(tree, False)
    return out


def undeclared(files: list[Path], allowed: set[str], lazy_allowed: set[str],
               local: set[str]) -> list[str]:
    """'path:line module' for each import that no allowed distribution provides."""
    provides = packages_distributions()  # module -> distributions installed here
    bad = []
    for path in files:
        for module, lazy, line in _imports(ast.parse(path.read_text(), str(path))):
            if module in sys.stdlib_module_names or module in PROJECT | local:
                continue
            dists = {_name(d) for d in provides.get(module, [])}
            if not dists & (lazy_allowed if lazy else allowed):
                where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
                bad.append(f"{where}:{line} {module} (installed from: {sorted(dists) or 'none'})")
    return bad


# the benchmarks and the browser harness: test-only code (the tests run them), so their
# imports may come from the test extra
TEST_TOOLS = ("lab/appbench.py", "lab/appclient.py", "lab/appserver.py", "lab/loadbench.py",
              "lab/screenshots.py")


def _app_files() -> list[Path]:
    return [p for p in [ROOT / "Home.py", *sorted((ROOT / "pages").glob("*.py")),
                        *sorted((ROOT / "lab").rglob("*.py"))]
            if str(p.relative_to(ROOT)) not in TEST_TOOLS]


def test_app_imports_are_declared():
    d = _declared()
    extras = set().union(*(v for k, v in d.items() if k != "app"))
    assert undeclared(_app_files(), d["app"], d["app"] | extras, set()) == []


def test_test_imports_are_declared():
    d = _declared()
    files = [*sorted((ROOT / "tests").glob("*.py")), *(ROOT / p for p in TEST_TOOLS)]
    allowed = d["app"] | d["test"]
    assert undeclared(files, allowed, allowed, {p.stem for p in files}) == []


def test_an_undeclared_import_is_caught(tmp_path):
    """The check can fail: an import of a package outside the allowed set is named, at module
    level and inside a function alike (pytest stands in for a package the app lacks)."""
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nimport pytest\n\ndef f():\n    from pytest import fixture\n")
    app = _declared()["app"]
    assert [r.split()[1] for r in undeclared([bad], app, app, set())] == ["pytest", "pytest"]


def test_requirements_txt_pins_the_app_dependencies():
    """Community Cloud installs requirements.txt, not pyproject.toml: the same packages at the
    same versions (torch as its CPU build)."""
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    want = {_name(r): r.split("==")[1] for r in meta["dependencies"]}
    lines = [ln.strip() for ln in (ROOT / "requirements.txt").read_text().splitlines()]
    got = {_name(ln): ln.split("==")[1].split("+")[0]
           for ln in lines if ln and not ln.startswith(("#", "-"))}
    assert got == want
