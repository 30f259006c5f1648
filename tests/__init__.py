"""The test suite. Each group runs under its site's settings module (scripts/run_tests.py)."""
