"""`make bench`: the performance figures, each beside its reference, from one run (bench/run.py)."""
