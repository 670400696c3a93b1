#!/usr/bin/env python3
"""The one way every benchmark here reports a figure: the median of its runs, with the smallest
and largest beside it, "12.3 (11.9-12.8)".

  stats.py [--digits N] [--unit U] VALUE...     prints the figure of the values
Benchmarks written in Python import `figure` from here.
"""
import argparse
import statistics


def figure(values, unit="", digits=1):
    v = sorted(float(x) for x in values)
    suffix = f" {unit}" if unit else ""
    return f"{statistics.median(v):.{digits}f}{suffix} ({v[0]:.{digits}f}-{v[-1]:.{digits}f})"


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--digits", type=int, default=1)
    parser.add_argument("--unit", default="")
    parser.add_argument("values", nargs="+")
    args = parser.parse_args()
    print(figure(args.values, args.unit, args.digits))
