#!/usr/bin/env python3
"""Prints two implementations' tokens/s side by side: the median (min-max) of their runs and the ratio.

  side_by_side.py TITLE FIELD NAME_A NAME_B RUN_A... -- RUN_B...
Each RUN is one JSON object with "tokens_per_second" and FIELD (shown from the first run).
"""
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stats import figure  # noqa: E402

title, field, name_a, name_b = sys.argv[1:5]
rest = sys.argv[5:]
split = rest.index("--")
a_runs, b_runs = [json.loads(r) for r in rest[:split]], [json.loads(r) for r in rest[split + 1:]]


def line(name, runs):
    rates = [r["tokens_per_second"] for r in runs]
    value = runs[0][field]
    shown = f"{value:.4f}" if isinstance(value, float) else value
    print(f"{name:14} {figure(rates, 'tokens/s'):>32}   {field.replace('_', ' ')} {shown}")
    return statistics.median(rates)


print(f"{title}, median (min-max) of {len(a_runs)} runs")
a, b = line(name_a, a_runs), line(name_b, b_runs)
print(f"{'ratio':14} {a / b:.3f}x")
