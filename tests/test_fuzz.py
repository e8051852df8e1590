"""Property-based: random bytes and random arrays thrown at every loader and at the checkpoint reader.
Each must give a valid result or a UsageError, never another exception (and never run code)."""

import io
import struct

import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays, scalar_dtypes

from infogan.checkpoint import load_checkpoint
from infogan.data import formats
from infogan.errors import UsageError

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def clean(fn, *args):
    try:
        return fn(*args)
    except UsageError as exc:
        assert str(exc) and "\n" not in str(exc)
        return None


@FUZZ
@given(st.binary(max_size=600))
def test_idx_random_bytes(raw):
    out = clean(formats.parse_idx, raw)
    if out is not None:
        assert isinstance(out, np.ndarray)


@FUZZ
@given(st.lists(st.integers(0, 40), min_size=1, max_size=4), st.binary(max_size=300), st.sampled_from([8, 9, 11, 12]))
def test_idx_plausible_headers(dims, body, code):
    raw = bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims) + body
    out = clean(formats.parse_idx, raw)
    if out is not None:
        assert list(out.shape) == dims


@FUZZ
@given(st.binary(max_size=3 * formats.CIFAR_RECORD + 2))
def test_cifar_random_bytes(raw):
    out = clean(formats.parse_cifar_binary, raw)
    if out is not None:
        images, labels = out
        assert images.shape[1:] == (3, 32, 32) and len(labels) == len(images)


@FUZZ
@given(st.binary(max_size=400))
def test_npz_random_bytes(raw):
    out = clean(formats.load_npz_bytes, raw, "fuzz")
    assert out is None or out.images.dtype == torch.uint8


@FUZZ
@given(
    arrays(scalar_dtypes(), array_shapes(min_dims=1, max_dims=5, max_side=9)),
    st.none() | arrays(scalar_dtypes(), array_shapes(min_dims=1, max_dims=2, max_side=9)),
)
def test_npz_random_arrays(x, y):
    buf = io.BytesIO()
    np.savez(buf, **({"x": x} if y is None else {"x": x, "y": y}))
    out = clean(formats.load_npz_bytes, buf.getvalue(), "fuzz")
    if out is not None:
        assert out.images.dtype == torch.uint8 and out.images.ndim == 4 and out.images.shape[1] in (1, 3)
        assert out.labels is None or len(out.labels) == len(out.images)


@FUZZ
@given(st.binary(max_size=2000))
def test_checkpoint_random_bytes(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("ck") / "last.pt"
    path.write_bytes(raw)
    assert clean(load_checkpoint, path) is None


json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8,
)


@FUZZ
@given(st.dictionaries(st.text(max_size=10), json_like, max_size=6))
def test_checkpoint_random_structures(tmp_path_factory, payload):
    path = tmp_path_factory.mktemp("ck") / "last.pt"
    torch.save(payload, path)
    out = clean(load_checkpoint, path)
    assert out is None or isinstance(out, dict)


@FUZZ
@given(st.lists(st.binary(max_size=200), min_size=1, max_size=3))
def test_folder_random_files(tmp_path_factory, blobs):
    folder = tmp_path_factory.mktemp("imgs")
    for i, blob in enumerate(blobs):
        (folder / f"{i}.png").write_bytes(blob)
    out = clean(formats.load_folder, folder, 8, 3)
    if out is not None:
        assert out.images.shape[1:] == (3, 8, 8)
