"""The house rules that a reader of the code relies on, checked on the code itself."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from dataclasses import fields
from pathlib import Path

from serving.settings import HostSettings, Settings
from tests.conftest import REPO

PACKAGE = REPO / "serving"


def modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(REPO).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = path
    return out


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Every serving module ``name`` imports, at the top or inside a function."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module
            subs = [f"{base}.{a.name}" for a in node.names]
            found |= {s for s in subs if s in known}
            if base in known and not all(s in known for s in subs):
                found.add(base)
    found.discard(name)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_module_imports_itself_through_others():
    known = modules()
    graph = {name: imports(name, path, known) for name, path in known.items()}
    assert cycles(graph) == []


def test_the_environment_is_read_in_the_settings_module_only():
    readers = [str(p.relative_to(REPO)) for p in PACKAGE.rglob("*.py")
               if re.search(r"\bos\.environ\b|\bos\.getenv\b|\bgetenv\(", p.read_text()) and p.name != "settings.py"]
    assert readers == []


def test_every_setting_names_its_variable_and_says_what_it_is():
    for cls in (Settings, HostSettings):
        for f in fields(cls):
            assert f.metadata.get("help"), f"{cls.__name__}.{f.name} has no help"
            assert f.metadata.get("env") or f.metadata.get("flag"), f"{cls.__name__}.{f.name} is read from nowhere"


def test_serve_help_is_made_from_the_settings_fields():
    out = subprocess.run([sys.executable, "-m", "serving.cli", "serve", "--help"], capture_output=True, text=True,
                         check=True, cwd=REPO).stdout
    flat = " ".join(out.split())
    for f in fields(Settings):
        if f.metadata.get("flag"):
            assert f.metadata["flag"] in flat and " ".join(f.metadata["help"].split()) in flat, f.name


# A distribution and the names it is imported by, where they differ.
IMPORT_NAMES = {"scikit-learn": "sklearn", "pyyaml": "yaml", "prometheus-client": "prometheus_client",
                "xgboost-cpu": "xgboost", "fasttext-numpy2": "fasttext", "protobuf": "google.protobuf"}
# Declared for what the images run, not imported by serving itself: scikit-learn for the
# estimators joblib unpickles.
FOR_SCRIPTS = {"scikit-learn"}


def test_declared_dependencies_are_the_ones_the_code_imports():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = set(project["dependencies"])
    for extra, requirements in project["optional-dependencies"].items():
        if extra != "dev":
            declared |= set(requirements)
    names = {re.split(r"[<>=\[ ]", r, maxsplit=1)[0].lower() for r in declared}
    names = {n for n in names if n != "serving"} - FOR_SCRIPTS
    source = "\n".join(p.read_text() for p in PACKAGE.rglob("*.py"))
    unused = sorted(n for n in names
                    if not re.search(rf"^\s*(import|from) {IMPORT_NAMES.get(n, n.replace('-', '_'))}\b", source, re.M))
    assert unused == []


def test_the_model_framework_lives_beside_the_others():
    from serving.frameworks import FRAMEWORKS

    assert sorted(FRAMEWORKS) == ["blazingtext", "model", "sklearn", "sparkml", "xgboost"]
    for name, target in FRAMEWORKS.items():
        assert target.startswith(f"serving.frameworks.{name}."), target


def test_every_container_variable_is_in_the_settings_table_of_the_docs():
    table = (REPO / "docs" / "serving.md").read_text().split("## Settings", 1)[1].split("\n## ", 1)[0]
    missing = [f.metadata["env"] for f in fields(Settings) if f.metadata["env"] and f"`{f.metadata['env']}`" not in table]
    assert missing == []
