"""The grader's end of the data-only boundary: what crosses between the grader and a learner's
kernel, and how it is read.

Values travel as an ``.npz`` archive (``numpy.savez``, stored, not compressed) holding a JSON
``spec`` of the structure and one ``.npy`` member per array, base64-encoded. Reading an
answer from a kernel (:func:`decode`) trusts nothing: the size is capped before anything is
parsed, only stored members with expected names are read, arrays are read with
``allow_pickle=False`` and must have a plain numeric dtype, every array becomes an exact
``numpy.ndarray`` (a copy: no subclass, no view of a foreign buffer), and the structure may
only hold None, bool, int, float, str (capped), NumPy scalars, lists, tuples, dicts with str
keys, torch tensors (rebuilt here from the array) and numbered handles of kernel objects.

Bounds: the text at most ``max_bytes`` (as base64) before anything is read, at most
``MAX_ARRAYS`` members, ``MAX_ITEMS`` values, ``MAX_DEPTH`` levels, ``MAX_STR`` characters a
string, and at most ``max_bytes`` of arrays decoded in all, counting every reference to a
member as the copy it becomes (a structure that names one array a thousand times is refused,
not decoded a thousand times). Values cross as they are: NaN and infinities included (the
checks fail on them). The kernel's side is ``autograder.runner.kernel_harness``.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
import zipfile
from collections.abc import Callable

import numpy as np

NUMERIC_KINDS = "biuf"
MAX_ARRAYS = 4_096
MAX_ITEMS = 100_000  # values in one structure
MAX_DEPTH = 32
MAX_STR = 10_000
_MEMBER = re.compile(r"^(spec|a\d{1,5})\.npy$")


class BoundaryError(Exception):
    """An answer from the kernel is not well-formed data (the learner's code sent it)."""


class Handle:
    """A kernel object that is not data (e.g. a torch module): only its number crosses."""

    def __init__(self, number: int, type_name: str) -> None:
        self.number, self.type_name = number, type_name

    def __repr__(self) -> str:
        return f"<{self.type_name} in the learner's kernel>"


class Callback:
    """A grader function passed to the learner's code: it is called back through stdin."""

    def __init__(self, number: int, fn: Callable) -> None:
        self.number, self.fn = number, fn


# -- writing (grader -> kernel) ----------------------------------------------------------------

def _pack(value, arrays: list, callbacks: list) -> dict:
    import torch

    if value is None:
        return {"t": "none"}
    if isinstance(value, np.generic):
        return {"t": "np", "dtype": value.dtype.str, "v": repr(value.item())}
    if isinstance(value, bool):
        return {"t": "bool", "v": value}
    if isinstance(value, int):
        return {"t": "int", "v": str(int(value))}
    if isinstance(value, float):
        return {"t": "float", "v": repr(float(value))}
    if isinstance(value, str):
        return {"t": "str", "v": value}
    if isinstance(value, np.ndarray):
        arrays.append(np.ascontiguousarray(value))
        return {"t": "array", "i": len(arrays) - 1}
    if isinstance(value, torch.Tensor):
        arrays.append(np.ascontiguousarray(value.detach().cpu().numpy()))
        return {"t": "tensor", "i": len(arrays) - 1}
    if isinstance(getattr(value, "_remote_name", None), str):  # a proxy of a learner's name
        return {"t": "name", "v": value._remote_name}
    if isinstance(value, Handle):
        return {"t": "handle", "id": value.number}
    if hasattr(value, "_handle") and isinstance(value._handle, Handle):
        return {"t": "handle", "id": value._handle.number}
    if isinstance(value, tuple | list):
        return {"t": "tuple" if isinstance(value, tuple) else "list",
                "v": [_pack(v, arrays, callbacks) for v in value]}
    if isinstance(value, dict):
        return {"t": "dict", "k": [str(k) for k in value],
                "v": [_pack(v, arrays, callbacks) for v in value.values()]}
    if callable(value):
        callbacks.append(Callback(len(callbacks), value))
        return {"t": "callable", "id": len(callbacks) - 1}
    raise TypeError(f"cannot send a {type(value).__name__} to the learner's kernel")


def encode(value, callbacks: list | None = None) -> str:
    """``value`` as base64 text; grader callables found in it are appended to ``callbacks``."""
    arrays: list = []
    spec = _pack(value, arrays, callbacks if callbacks is not None else [])
    buf = io.BytesIO()
    np.savez(buf, spec=np.frombuffer(json.dumps(spec).encode(), dtype=np.uint8),
             **{f"a{i}": a for i, a in enumerate(arrays)})
    return base64.b64encode(buf.getvalue()).decode("ascii")


# -- reading (kernel -> grader) ----------------------------------------------------------------

def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    if info.compress_type != zipfile.ZIP_STORED:
        raise BoundaryError("a compressed member (only stored members are read)")
    with zf.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version not in ((1, 0), (2, 0)):
            raise BoundaryError("an unknown .npy version")
        header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                  else np.lib.format.read_array_header_2_0)
        shape, fortran, dtype = header(f, max_header_size=10_000)
        if dtype.kind not in NUMERIC_KINDS or dtype.fields is not None or dtype.subdtype:
            raise BoundaryError(f"an array of dtype {dtype} (only numbers cross)")
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if count < 0 or count * dtype.itemsize > info.file_size:
            raise BoundaryError("an array larger than its member")
        data = f.read(count * dtype.itemsize)
    if len(data) != count * dtype.itemsize:
        raise BoundaryError("a truncated array")
    flat = np.frombuffer(data, dtype=dtype).astype(dtype.newbyteorder("="), copy=True)
    arr = flat.reshape(shape, order="F" if fortran else "C")
    return np.array(arr, order="C", copy=True)  # an exact, owned ndarray


class _Budget:
    """What one answer may still decode: values, and bytes of arrays (each reference to an
    array is a copy, so each counts, aliases included)."""

    def __init__(self, items: int, nbytes: int) -> None:
        self.items, self.nbytes, self.max_bytes = items, nbytes, nbytes

    def item(self, depth: int) -> None:
        self.items -= 1
        if self.items < 0 or depth > MAX_DEPTH:
            raise BoundaryError("a structure too large or too deeply nested")

    def array(self, arr: np.ndarray) -> None:
        self.nbytes -= arr.nbytes
        if self.nbytes < 0:
            raise BoundaryError(f"arrays of more than {self.max_bytes} bytes in all, counting "
                                "each reference to an array as the copy it becomes")


def _unpack(spec, arrays: dict, budget: _Budget, depth: int, make_handle: Callable):
    budget.item(depth)
    if type(spec) is not dict or type(spec.get("t")) is not str:
        raise BoundaryError("a malformed value")
    t = spec["t"]
    if t == "none":
        return None
    if t == "bool" and type(spec.get("v")) is bool:
        return spec["v"]
    if t == "str" and type(spec.get("v")) is str:
        return spec["v"][:MAX_STR]
    if t in ("int", "float", "np") and type(spec.get("v")) is str and len(spec["v"]) < 400:
        try:
            if t == "int":
                return int(spec["v"])
            if t == "float":
                return float(spec["v"])
            dtype = np.dtype(str(spec.get("dtype")))
            if dtype.kind not in NUMERIC_KINDS or dtype.fields is not None:
                raise BoundaryError(f"a scalar of dtype {dtype}")
            kind = dtype.kind
            value = (spec["v"] == "True" if kind == "b" else float(spec["v"]) if kind == "f"
                     else int(spec["v"]))
            return dtype.type(value)
        except (ValueError, TypeError, OverflowError) as err:
            raise BoundaryError(f"an unreadable number ({err})") from err
    if t in ("array", "tensor") and type(spec.get("i")) is int:
        key = f"a{spec['i']}"
        if key not in arrays:
            raise BoundaryError("a reference to a missing array")
        budget.array(arrays[key])
        arr = arrays[key].copy()
        if t == "array":
            return arr
        import torch

        return torch.from_numpy(arr)
    if t in ("list", "tuple") and type(spec.get("v")) is list:
        items = [_unpack(v, arrays, budget, depth + 1, make_handle) for v in spec["v"]]
        return items if t == "list" else tuple(items)
    if t == "dict" and type(spec.get("k")) is list and type(spec.get("v")) is list:
        keys = spec["k"]
        if len(keys) != len(spec["v"]) or any(type(k) is not str for k in keys):
            raise BoundaryError("a malformed dict")
        return {k[:200]: _unpack(v, arrays, budget, depth + 1, make_handle)
                for k, v in zip(keys, spec["v"], strict=True)}
    if t == "handle" and type(spec.get("id")) is int and type(spec.get("type", "")) is str:
        return make_handle(Handle(spec["id"], spec.get("type", "object")[:200]))
    raise BoundaryError(f"a value of unknown type {t[:40]!r}")


def decode(text, max_bytes: int, make_handle: Callable = lambda h: h):
    """Read a value sent by a kernel; raise BoundaryError if it is not well-formed data."""
    if type(text) is not str or len(text) > max_bytes * 4 // 3 + 8:
        raise BoundaryError("an answer that is not text, or larger than the limit")
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
        zf = zipfile.ZipFile(io.BytesIO(raw))
    except (binascii.Error, UnicodeEncodeError, zipfile.BadZipFile, ValueError) as err:
        raise BoundaryError(f"an answer that is not an archive ({err})") from err
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_ARRAYS + 1 or any(not _MEMBER.match(i.filename) for i in infos):
            raise BoundaryError("an archive with unexpected members")
        try:
            arrays = {i.filename[:-4]: _read_member(zf, i) for i in infos}
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as err:
            raise BoundaryError(f"an unreadable array ({err})") from err
    spec_bytes = arrays.pop("spec", None)
    if spec_bytes is None or spec_bytes.dtype != np.uint8 or spec_bytes.ndim != 1:
        raise BoundaryError("an archive without its description")
    try:
        spec = json.loads(spec_bytes.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise BoundaryError(f"an unreadable description ({err})") from err
    try:
        return _unpack(spec, arrays, _Budget(MAX_ITEMS, max_bytes), 0, make_handle)
    except RecursionError as err:
        raise BoundaryError("a structure nested too deeply") from err
