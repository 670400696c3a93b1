"""Compares two single-file checkpoints tensor by tensor (names, dtypes, shapes, bytes) and
prints one JSON line: bit_identical, the tensors that differ, the largest |difference|.
    python3 scripts/demo/compare_weights.py BUNDLED_DIR REBUILT_DIR
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "reference"))
from llama_reference import load_safetensors  # noqa: E402  (plain-PyTorch reader, not mha2mla's)


def main(a_dir, b_dir):
    a = load_safetensors(os.path.join(a_dir, "model.safetensors"))
    b = load_safetensors(os.path.join(b_dir, "model.safetensors"))
    same_bytes = open(os.path.join(a_dir, "model.safetensors"), "rb").read() == open(os.path.join(b_dir, "model.safetensors"), "rb").read()
    differing, largest = [], 0.0
    for name in sorted(set(a) | set(b)):
        if name not in a or name not in b or a[name].shape != b[name].shape or a[name].dtype != b[name].dtype:
            differing.append(name)
            largest = float("inf")
            continue
        delta = (a[name].float() - b[name].float()).abs().max().item()
        if delta > 0:
            differing.append(name)
            largest = max(largest, delta)
    print(json.dumps({"bit_identical": same_bytes, "tensors": len(a), "differing_tensors": len(differing),
                      "max_abs_difference": largest, "first_differing": differing[:5]}))


if __name__ == "__main__":
    main(*sys.argv[1:3])
