"""The learner's end of the data-only boundary: sent as source text into the learner's kernel.

The grader never runs a test in the learner's process. To test a function, it sends a *call*:
the function's name and its arguments as data (an ``.npz`` archive whose member ``spec``
describes the structure and whose other members are the arrays), and this code, running in
the kernel, calls the learner's function and sends back its result, and the arguments as
they are after the call, as data of the same kind. Objects that are not data (a torch module
the learner built) stay in the kernel and travel as numbered handles. A callable argument of
the grader's (the function ``numerical_gradient`` differentiates) becomes a stub here that
asks the grader for each value through the kernel's stdin channel.

Nothing here is secret, and nothing here is trusted: the learner's code can change all of it
(and can write to its channels directly); the grader bounds what it reads from each channel in
time and bytes (``autograder.runner.execute``), checks every answer's form, types and sizes
(``autograder.runner.boundary``), relays no text of the learner's once a hidden case's inputs
have been sent here (``autograder.runner.trusted``), and compares what comes back with its own
references. Only the standard library and NumPy are needed (torch when the assignment has it).
"""

import base64
import io
import json

import numpy as np

_handles: dict = {}
answer = ""
CALLBACK_PREFIX = "\x00rnncourse-callback:"
# The longest answer the grader reads (its sockets drop larger messages); the grader sets it
# from its own limit when it installs this module.
MAX_ANSWER_CHARS = 15 * 2**20


class ResultTooLarge(ValueError):
    """A result too large to send: said at once, instead of a call that never answers."""


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def _pack(value, arrays: list):
    torch = _torch()
    if value is None:
        return {"t": "none"}
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        return {"t": "np", "dtype": value.dtype.str, "v": repr(value.item())}
    if isinstance(value, bool):
        return {"t": "bool", "v": value}
    if isinstance(value, int):
        return {"t": "int", "v": str(int(value))}
    if isinstance(value, float):
        return {"t": "float", "v": repr(float(value))}
    if isinstance(value, str):
        return {"t": "str", "v": value[:10_000]}
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        arrays.append(np.ascontiguousarray(value))
        return {"t": "array", "i": len(arrays) - 1}
    if torch is not None and isinstance(value, torch.Tensor):
        arrays.append(np.ascontiguousarray(value.detach().cpu().numpy()))
        return {"t": "tensor", "i": len(arrays) - 1}
    if isinstance(value, tuple | list):
        return {"t": type(value).__name__ if type(value) in (tuple, list) else "list",
                "v": [_pack(v, arrays) for v in value]}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"t": "dict", "k": list(value), "v": [_pack(v, arrays) for v in value.values()]}
    _handles[id(value)] = value
    return {"t": "handle", "id": id(value), "type": f"{type(value).__module__}."
                                                   f"{type(value).__qualname__}"[:200]}


def encode(value) -> str:
    arrays: list = []
    spec = _pack(value, arrays)
    size = sum(a.nbytes for a in arrays)
    if size * 4 // 3 > MAX_ANSWER_CHARS:  # base64 makes 4 characters of 3 bytes
        raise ResultTooLarge(
            f"the result holds {size / 2**20:.0f} MB of arrays; a call may return at most "
            f"{MAX_ANSWER_CHARS * 3 // 4 / 2**20:.0f} MB: return only what the docstring asks for")
    buf = io.BytesIO()
    members = {f"a{i}": a for i, a in enumerate(arrays)}
    np.savez(buf, spec=np.frombuffer(json.dumps(spec).encode(), dtype=np.uint8), **members)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _unpack(spec, arrays):
    t = spec["t"]
    if t == "none":
        return None
    if t in ("bool", "str"):
        return spec["v"]
    if t == "int":
        return int(spec["v"])
    if t == "float":
        return float(spec["v"])
    if t == "np":
        kind = np.dtype(spec["dtype"]).kind
        value = spec["v"] == "True" if kind == "b" else float(spec["v"]) if kind == "f" else int(
            spec["v"])
        return np.dtype(spec["dtype"]).type(value)
    if t == "array":
        return arrays[f"a{spec['i']}"].copy()
    if t == "tensor":
        return _torch().from_numpy(arrays[f"a{spec['i']}"].copy())
    if t in ("list", "tuple"):
        items = [_unpack(v, arrays) for v in spec["v"]]
        return items if t == "list" else tuple(items)
    if t == "dict":
        return {k: _unpack(v, arrays) for k, v in zip(spec["k"], spec["v"], strict=True)}
    if t == "handle":
        return _handles[spec["id"]]
    if t == "name":
        return _target({"name": spec["v"]})
    if t == "callable":
        return _callback_stub(spec["id"])
    raise ValueError(f"unknown value type {t!r}")


def decode(text: str):
    with np.load(io.BytesIO(base64.b64decode(text)), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    return _unpack(json.loads(arrays.pop("spec").tobytes().decode()), arrays)


def _callback_stub(callback_id):
    def grader_function(*args, **kwargs):
        reply = input(CALLBACK_PREFIX + encode({"id": callback_id, "args": list(args),
                                                "kwargs": kwargs}))
        out = decode(reply)
        if out.get("error"):
            raise RuntimeError(out["error"])
        return out["value"]
    return grader_function


def _user_namespace() -> dict:
    return get_ipython().user_ns  # noqa: F821  (IPython provides it in the kernel)


def _target(request):
    if "handle" in request:
        obj = _handles[request["handle"]]
    else:
        name = request["name"]
        if name not in _user_namespace():
            raise NameError(f"name {name!r} is not defined")
        obj = _user_namespace()[name]
    return getattr(obj, request["method"]) if request.get("method") else obj


def _describe(obj) -> list:
    modules = getattr(obj, "named_modules", None)
    if modules is None:
        return []
    return [[path, f"{type(m).__module__}.{type(m).__qualname__}"] for path, m in modules()]


FIXTURES = {}


def fixture(name):
    def register(fn):
        FIXTURES[name] = fn
        return fn
    return register


@fixture("torch_manual_seed")
def _seed(seed):
    _torch().manual_seed(int(seed))


@fixture("toy_forecaster")
def _toy_forecaster(hidden_size, state):
    """A fixed GRU forecaster built from the grader's weights (to test ``forecast`` on)."""
    torch = _torch()

    class ToyForecaster(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = torch.nn.GRU(1, hidden_size)
            self.head = torch.nn.Linear(hidden_size, 1)

        def forward(self, X, state=None):
            Hs, state = self.rnn(X, state)
            return self.head(Hs), state

    model = ToyForecaster()
    model.load_state_dict(state)
    return model


def _step_norm_recorder():
    """Record the global gradient norm seen by each optimizer step (torch assignments)."""
    torch = _torch()
    norms = []

    def hook(optimizer, args, kwargs):
        grads = [p.grad for g in optimizer.param_groups for p in g["params"]
                 if p.grad is not None]
        norms.append(float(torch.norm(torch.stack([torch.norm(g) for g in grads]))))

    from torch.optim.optimizer import register_optimizer_step_pre_hook

    return norms, register_optimizer_step_pre_hook(hook)


def _name(err) -> str:
    return type(err).__name__[:100]


def _message(err) -> str:
    return str(err)[:2000]


def _safe(get, err, default: str) -> str:
    """``get(err)``, or ``default`` when the learner's exception makes that fail."""
    try:
        value = get(err)
        return value if type(value) is str else default
    except BaseException:  # noqa: BLE001
        return default


def call(payload: str) -> None:
    """Run one request from the grader; leave the encoded answer in ``answer``."""
    global answer
    answer = ""
    request = decode(payload)
    reply = {"ok": True}
    recorder = None
    try:
        op = request["op"]
        if op == "fixture":
            reply["result"] = FIXTURES[request["name"]](**request["kwargs"])
        elif op == "describe":
            reply["result"] = _describe(_target(request))
        elif op == "release":
            _handles.clear()
            reply["result"] = None
        else:
            fn = _target(request)
            args, kwargs = request["args"], request["kwargs"]
            if request.get("record_steps"):
                recorder = _step_norm_recorder()
            reply["result"] = fn(*args, **kwargs)
            reply["args"], reply["kwargs"] = args, kwargs
            if recorder is not None:
                reply["step_grad_norms"] = recorder[0]
    except BaseException as err:  # noqa: BLE001  (everything goes back to the grader as data)
        reply = {"ok": False, "ename": _safe(_name, err, "Error"),
                 "evalue": _safe(_message, err, "(its message could not be read)")}
    finally:
        if recorder is not None:
            recorder[1].remove()
    try:
        answer = encode(reply)
    except ResultTooLarge as err:
        answer = encode({"ok": False, "ename": "ResultTooLarge", "evalue": str(err)})
    except BaseException as err:  # noqa: BLE001
        answer = encode({"ok": False, "ename": type(err).__name__[:100],
                         "evalue": f"the result could not be sent to the grader: {err}"[:2000]})
