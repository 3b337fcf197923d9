"""Benchmarks: objfs against local disk and a pyfuse3 passthrough, same run.

Not tests: pytest collects nothing here. Run ``python tests/bench/run.py``
(``make bench``); see ``run.py --help``.
"""
