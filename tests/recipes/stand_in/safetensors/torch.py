"""safetensors.torch's load_file and save_file for the transformers stand-in, over the plain
safetensors reader and writer of tests/reference/common.py (on PYTHONPATH beside this folder)."""
from common import load_safetensors, save_safetensors


def load_file(path):
    return load_safetensors(path)


def save_file(tensors, path, metadata=None):
    dtypes = {t.dtype for t in tensors.values()}
    assert len(dtypes) == 1, f"the stand-in writes one dtype per file, not {dtypes}"
    save_safetensors(path, tensors, dtypes.pop())
