"""The package keeps the shape docs/architecture.md promises: a small root, short modules and
functions (so each piece stays readable as the package grows)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import stream_sentinel

pytestmark = pytest.mark.unit

PACKAGE = Path(stream_sentinel.__file__).parent
ROOT_MODULES = {"__init__", "__main__", "cli", "clock", "domain", "errors"}  # + config/
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 50


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_the_root_holds_only_what_every_layer_uses() -> None:
    loose = {path.stem for path in PACKAGE.glob("*.py")}
    assert loose == ROOT_MODULES
    assert (PACKAGE / "config" / "__init__.py").is_file()


def test_no_module_is_longer_than_400_lines() -> None:
    lengths = {
        str(path.relative_to(PACKAGE)): len(path.read_text().splitlines()) for path in modules()
    }
    assert {name: n for name, n in lengths.items() if n > MAX_MODULE_LINES} == {}
    assert len(lengths) > 100  # the walk found the package


def test_no_function_is_longer_than_50_lines() -> None:
    too_long = {}
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long[f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}"] = length
    assert too_long == {}
