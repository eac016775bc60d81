"""The examples in the package's docstrings run, and say what they show."""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import pkgutil
from pathlib import Path

import pytest

import stream_sentinel

pytestmark = pytest.mark.unit


def modules_with_examples() -> list[str]:
    """Every module of the package whose source holds a docstring example (``>>>``)."""
    found = []
    for module in pkgutil.walk_packages(stream_sentinel.__path__, "stream_sentinel."):
        spec = importlib.util.find_spec(module.name)
        origin = spec.origin if spec is not None else None
        if origin and origin.endswith(".py") and ">>> " in Path(origin).read_text("utf-8"):
            found.append(module.name)
    return sorted(found)


MODULES = modules_with_examples()


def test_the_package_has_examples_to_run() -> None:
    # a walk that finds nothing would pass every doctest vacuously
    assert "stream_sentinel.generator.timing" in MODULES
    assert len(MODULES) >= 10


@pytest.mark.parametrize("name", MODULES)
def test_the_examples_of(name: str) -> None:
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    examples = failed = 0
    report: list[str] = []
    for test in finder.find(module, name):
        examples += len(test.examples)
        failed += runner.run(test, out=report.append).failed
    assert examples > 0, f"{name} has '>>> ' in its source but no docstring example doctest finds"
    assert failed == 0, f"{name}: {failed} failing example(s)\n" + "".join(report)
