"""The library in layers: imports run one way, from higher layers down, with no circles
(read from the source, the imports that run: `if TYPE_CHECKING:` blocks are left out)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

LAB = Path(__file__).resolve().parent.parent / "lab"
# lower layers first; a module may import its own layer and the ones before it
LAYERS = ("lab.language", "lab.training", "lab.measure", "lab.data", "lab.studies",
          "lab.service", "lab.ui")
COMMANDS = ("lab.precompute", "lab.report", "lab.bench", "lab.calibrate", "lab.appbench",
            "lab.appserver", "lab.screenshots", "lab.loadbench", "lab.appclient")
# training and measure are one layer pair: the recorders measure with lab.measure, and the
# analyses run the model (lab.training.hooks keeps the recorders clear of the engine)
KNOWN_CIRCLES: list[set[str]] = []


def _modules() -> dict[str, Path]:
    return {".".join(p.relative_to(LAB.parent).with_suffix("").parts).removesuffix(".__init__"): p
            for p in LAB.rglob("*.py")}


def _runtime_imports(tree: ast.AST) -> list[str]:
    """Module names imported outside `if TYPE_CHECKING:` blocks."""
    out: list[str] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            out += [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        todo.extend(ast.iter_child_nodes(node))
    return out


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {m: {i for i in _runtime_imports(ast.parse(p.read_text())) if i in mods and i != m}
            for m, p in mods.items()}


def _circles(g: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in g[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def _layer(module: str) -> int:
    if module.startswith(COMMANDS):
        return len(LAYERS)  # the commands sit above the library, beside the ui
    return next((i for i, p in enumerate(LAYERS) if module.startswith(p)), -1)


def test_no_import_circles():
    assert sorted(map(sorted, _circles(_graph()))) == sorted(map(sorted, KNOWN_CIRCLES))


def test_imports_run_down_the_layers():
    up = []
    for m, targets in _graph().items():
        for t in targets:
            pair = {_layer(m), _layer(t)}
            if _layer(t) > _layer(m) and pair != {1, 2}:  # training <-> measure: see above
                up.append(f"{m} -> {t}")
    assert not up, up


def test_no_service_imports_a_command_and_only_the_ui_imports_streamlit():
    for m, p in _modules().items():
        imported = _runtime_imports(ast.parse(p.read_text()))
        if m.startswith(("lab.service", "lab.studies", "lab.data", "lab.measure",
                         "lab.training", "lab.language")):
            assert not any(i.startswith(COMMANDS) for i in imported), m
        if not m.startswith("lab.ui"):  # a command may speak Streamlit's protocol (loadbench)
            client = m.startswith(COMMANDS)
            assert not any(i.split(".")[0] == "streamlit"
                           and not (client and i.startswith("streamlit.proto"))
                           for i in imported), m


def test_the_readme_layout_names_every_package_and_module():
    """The tree and the README tell the same story: each lab/ package and module is named
    (in backticks) in the README's Layout section."""
    text = (LAB.parent / "README.md").read_text()
    start = text.index("## Layout")
    section = text[start: text.index("\n## ", start + 1)]
    named = set(re.findall(r"`([^`]+)`", section))
    missing = [f"lab/{p.parent.name}/" if p.name == "__init__.py" else str(p.relative_to(LAB))
               for p in LAB.rglob("*.py") if p.parent != LAB or p.name != "__init__.py"
               if (f"lab/{p.parent.name}/" if p.name == "__init__.py" else p.stem) not in named]
    assert not missing, missing
