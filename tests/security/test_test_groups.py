"""`make test` runs every test directory, each once per pass (scripts/run_tests.py's GROUPS)."""

from collections import Counter
from pathlib import Path

import pytest

from scripts import run_tests

pytestmark = pytest.mark.storage_independent

TESTS = Path(__file__).resolve().parent.parent


def test_every_test_directory_is_in_exactly_one_group():
    grouped = Counter(path for _module, paths in run_tests.GROUPS for path in paths)
    with_tests = {f"tests/{d.name}" for d in TESTS.iterdir() if d.is_dir() and any(d.rglob("test_*.py"))}
    assert set(grouped) == with_tests
    assert [path for path, n in grouped.items() if n > 1] == []
