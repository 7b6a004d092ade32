"""The architecture's rules, checked on the source: models/ stays pure PyTorch, gradio
lives only in playground/ui/ (and app.py), and no module or function does two jobs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import ROOT

MAX_FILE_LINES = 450
MAX_FUNCTION_LINES = 80
SOURCES = sorted([*ROOT.glob("models/**/*.py"), *ROOT.glob("playground/**/*.py")])


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_each_layer_imports_only_what_it_may(path):
    imports = _imports(path)
    relative = path.relative_to(ROOT).as_posix()
    if relative.startswith("models/"):
        assert not imports & {"gradio", "playground"}, relative
    elif not relative.startswith("playground/ui/"):
        assert "gradio" not in imports, relative


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_or_function_is_doing_two_jobs(path):
    source = path.read_text(encoding="utf-8")
    assert len(source.splitlines()) <= MAX_FILE_LINES, f"{path.name}: {len(source.splitlines())} lines"
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = node.end_lineno - node.lineno + 1
            assert length <= MAX_FUNCTION_LINES, f"{path.name}:{node.lineno} {node.name} is {length} lines"


@pytest.mark.parametrize("path", sorted(ROOT.glob("tests/test_*_view.py")), ids=lambda p: p.name)
def test_views_are_tested_without_gradio(path):
    assert "gradio" not in _imports(path), path.name
