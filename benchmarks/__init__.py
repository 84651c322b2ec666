"""Benchmarks that print figures (installed as ``vrtherapy_benchmarks``).

Run them with ``vrtherapy bench NAME``.

Tests assert behaviour, never speed: every speed or memory target lives here, as a figure
printed as a ratio (x real time, % of the 11.1 ms frame budget, % of one core).
"""
