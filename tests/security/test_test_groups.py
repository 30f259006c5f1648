"""`make test` runs every test file, each once per pass (scripts/run_tests.py's GROUPS name directories, or
files where a directory is split over several groups)."""

from collections import Counter
from pathlib import Path

import pytest

from scripts import run_tests

pytestmark = pytest.mark.storage_independent

ROOT = Path(__file__).resolve().parent.parent.parent


def files_of(path: str) -> list[str]:
    found = ROOT / path
    if found.is_file():
        return [path]
    return [str(file.relative_to(ROOT)) for file in found.rglob("test_*.py")]


def test_every_test_file_is_in_exactly_one_group():
    grouped = Counter(file for _module, paths in run_tests.GROUPS for path in paths for file in files_of(path))
    every = {str(file.relative_to(ROOT)) for file in (ROOT / "tests").rglob("test_*.py")}
    assert set(grouped) == every
    assert [file for file, n in grouped.items() if n > 1] == []


def test_a_group_path_names_a_directory_or_a_test_file_that_exists():
    for _module, paths in run_tests.GROUPS:
        for path in paths:
            assert files_of(path), path


def test_a_split_directory_still_runs_on_the_services():
    assert run_tests.under("tests/browser/test_passkeys.py", run_tests.SERVICES_PATHS)
    assert not run_tests.under("tests/browserish/test_x.py", {"tests/browser"})
