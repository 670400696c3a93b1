"""Joins a checkpoint's safetensors shards (as mha2mla writes them: one per decoder layer, the
embedding, final norm and head in the last) into one model.safetensors in the order a
transformers state_dict has: embedding, layers 0..N-1, the rest. Bytes are copied, not
converted; the header is compact JSON with {"format": "pt"} first, as the bundled demo's.
    python3 scripts/demo/join_shards.py CHECKPOINT_DIR OUT.safetensors
"""
import json
import os
import re
import struct
import sys


def read(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    header.pop("__metadata__", None)
    return [(name, entry, data[entry["data_offsets"][0]:entry["data_offsets"][1]]) for name, entry in header.items()]


def rank(name):
    if name == "model.embed_tokens.weight":
        return (0, 0)
    layer = re.match(r"model\.layers\.(\d+)\.", name)
    return (1, int(layer.group(1))) if layer else (2, 0)


def main(directory, out):
    index = json.load(open(os.path.join(directory, "model.safetensors.index.json")))
    tensors = []
    for shard in sorted(set(index["weight_map"].values())):
        tensors += read(os.path.join(directory, shard))
    tensors.sort(key=lambda t: rank(t[0]))  # stable: a layer's tensors keep their written order
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, entry, raw in tensors:
        header[name] = {"dtype": entry["dtype"], "shape": entry["shape"], "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(out + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for _, _, raw in tensors:
            f.write(raw)
    os.replace(out + ".tmp", out)


if __name__ == "__main__":
    main(*sys.argv[1:3])
