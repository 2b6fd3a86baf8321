"""The data-only boundary: what the grader accepts from a learner's kernel, and what it refuses.

Each refusal is a defence: without it, the learner's kernel could send the grader an object
that lies about its value (an ndarray subclass), code to run (a pickle), or a payload that
exhausts the grader's memory or stack.
"""

from __future__ import annotations

import base64
import io
import json
import zipfile

import numpy as np
import pytest
import torch

from autograder.runner import kernel_harness
from autograder.runner.boundary import BoundaryError, Handle, decode, encode

LIMIT = 16 * 2**20


def archive(spec, members: dict | None = None, compress: int = zipfile.ZIP_STORED) -> str:
    """A hand-made answer: ``spec`` plus raw .npy members, as a hostile kernel could send."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compress) as zf:
        for name, arr in {"spec": np.frombuffer(json.dumps(spec).encode(), np.uint8),
                          **(members or {})}.items():
            npy = io.BytesIO()
            np.lib.format.write_array(npy, arr, allow_pickle=True)
            zf.writestr(f"{name}.npy", npy.getvalue())
    return base64.b64encode(buf.getvalue()).decode()


def test_values_round_trip_through_the_kernel_side_codec():
    value = {"Hs": np.arange(6.0).reshape(1, 2, 3), "n": 3, "x": 0.5, "ok": True,
             "name": "h", "none": None, "pair": (np.float64(1.5), [np.int64(2)]),
             "t": torch.ones(2, dtype=torch.float32)}
    back = decode(kernel_harness.encode(value), LIMIT)
    assert type(back["Hs"]) is np.ndarray and back["Hs"].dtype == np.float64
    np.testing.assert_array_equal(back["Hs"], value["Hs"])
    assert (back["n"], back["x"], back["ok"], back["name"], back["none"]) == (3, 0.5, True,
                                                                              "h", None)
    assert type(back["pair"]) is tuple and type(back["pair"][0]) is np.float64
    assert isinstance(back["t"], torch.Tensor) and back["t"].dtype == torch.float32


def test_grader_values_reach_the_kernel_as_the_same_data():
    value = {"X": np.ones((2, 3)), "k": 5, "params": {"W": np.eye(2)}}
    back = kernel_harness.decode(encode(value))
    np.testing.assert_array_equal(back["params"]["W"], np.eye(2))
    assert back["k"] == 5


def test_an_ndarray_subclass_arrives_as_a_plain_ndarray():
    class Liar(np.ndarray):
        def __array_function__(self, func, types, args, kwargs):
            return True  # np.allclose(liar, anything) would say True

    liar = np.zeros(3).view(Liar)
    back = decode(kernel_harness.encode(liar), LIMIT)
    assert type(back) is np.ndarray
    assert not np.allclose(back, np.ones(3))


def test_object_arrays_are_refused():
    text = archive({"t": "array", "i": 0}, {"a0": np.array([object()], dtype=object)})
    with pytest.raises(BoundaryError, match="only numbers cross"):
        decode(text, LIMIT)


def test_structured_and_string_arrays_are_refused():
    for arr in (np.zeros(2, dtype=[("a", "f8")]), np.array(["x"])):
        with pytest.raises(BoundaryError):
            decode(archive({"t": "array", "i": 0}, {"a0": arr}), LIMIT)


def test_compressed_members_are_refused_so_no_zip_bomb_expands():
    text = archive({"t": "array", "i": 0}, {"a0": np.zeros(10_000)}, zipfile.ZIP_DEFLATED)
    with pytest.raises(BoundaryError, match="compressed"):
        decode(text, LIMIT)


def test_unexpected_member_names_are_refused():
    with pytest.raises(BoundaryError, match="unexpected members"):
        decode(archive({"t": "none"}, {"../../etc/passwd": np.zeros(1)}), LIMIT)


def test_an_answer_over_the_size_limit_is_refused_before_parsing():
    text = kernel_harness.encode(np.zeros(10_000))
    with pytest.raises(BoundaryError, match="larger than the limit"):
        decode(text, max_bytes=1_000)


def test_deep_nesting_and_huge_structures_are_refused():
    deep: list = []
    for _ in range(200):
        deep = [deep]
    with pytest.raises(BoundaryError):
        decode(kernel_harness.encode(deep), LIMIT)
    with pytest.raises(BoundaryError, match="too large"):
        decode(kernel_harness.encode(list(range(200_000))), LIMIT)


def test_unknown_value_types_are_refused():
    with pytest.raises(BoundaryError, match="unknown type"):
        decode(archive({"t": "pickle", "v": "cos\nsystem"}), LIMIT)


def test_non_text_answers_are_refused():
    for bad in (b"bytes", "not base64 !!", base64.b64encode(b"not a zip").decode()):
        with pytest.raises(BoundaryError):
            decode(bad, LIMIT)


def test_long_strings_are_capped():
    back = decode(archive({"t": "str", "v": "x" * 1_000_000}), LIMIT)
    assert len(back) == 10_000


def test_objects_that_are_not_data_come_back_as_handles():
    back = decode(kernel_harness.encode(lambda: 1), LIMIT)
    assert isinstance(back, Handle) and back.type_name == "builtins.function"


def test_a_result_too_large_to_send_is_refused_in_the_kernel_with_a_clear_message(monkeypatch):
    # Without the kernel-side check the answer is dropped by the grader's sockets, and the
    # learner reads a time-out instead of what went wrong.
    monkeypatch.setattr(kernel_harness, "MAX_ANSWER_CHARS", 2**20)
    monkeypatch.setattr(kernel_harness, "_user_namespace",
                        lambda: {"big": lambda: np.zeros(2**18)})  # 2 MB
    kernel_harness.call(kernel_harness.encode({"op": "call", "name": "big", "args": [],
                                               "kwargs": {}}))
    reply = kernel_harness.decode(kernel_harness.answer)
    assert reply["ok"] is False and reply["ename"] == "ResultTooLarge"
    assert "2 MB" in reply["evalue"] and "at most 0 MB" not in reply["evalue"]


def test_every_reference_to_an_array_counts_against_the_byte_limit():
    """Does one 1 MB array referred to 100 times (each reference decoded into its own copy:
    100 MB) pass a 16 MB limit? It must not: aliases count as the copies they become."""
    text = archive({"t": "list", "v": [{"t": "array", "i": 0}] * 100},
                   {"a0": np.zeros(2**17)})  # 1 MB
    assert len(text) < 2 * 2**20
    with pytest.raises(BoundaryError, match="each reference"):
        decode(text, LIMIT)


def test_a_few_references_within_the_byte_limit_are_read():
    back = decode(archive({"t": "list", "v": [{"t": "array", "i": 0}] * 3},
                          {"a0": np.arange(4.0)}), LIMIT)
    assert len(back) == 3 and back[0] is not back[1]
    np.testing.assert_array_equal(back[2], np.arange(4.0))


@pytest.mark.parametrize("special", [np.nan, np.inf, -np.inf])
def test_non_finite_values_cross_both_ways_as_they_are(special):
    """Does a NaN or an infinity cross unchanged (so that the checks can fail on it), as an
    array entry, a float, a NumPy scalar and a tensor entry?"""
    value = {"a": np.array([1.0, special]), "f": float(special),
             "s": np.float32(special), "t": torch.tensor([special])}
    for back in (decode(kernel_harness.encode(value), LIMIT),
                 kernel_harness.decode(encode(value))):
        np.testing.assert_array_equal(back["a"], value["a"])
        np.testing.assert_array_equal([back["f"]], [special])
        assert type(back["s"]) is np.float32
        np.testing.assert_array_equal([back["s"]], [np.float32(special)])
        np.testing.assert_array_equal(back["t"].numpy(), [special])
