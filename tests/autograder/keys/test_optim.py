"""Specifications of the references' Adam (autograder.keys.optim): torch.optim.Adam's
parameters, bit for bit, without importing torch.optim."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from autograder.keys.optim import Adam


def _train(make_optimizer, dtype: torch.dtype, skip_every: int = 0) -> list[torch.Tensor]:
    """A few steps of a small seeded regression; every ``skip_every``-th step the second
    parameter gets no gradient (grad None)."""
    gen = torch.Generator().manual_seed(0)
    W = torch.randn(5, 3, generator=gen, dtype=dtype).requires_grad_()
    b = torch.randn(3, generator=gen, dtype=dtype).requires_grad_()
    X = torch.randn(40, 5, generator=gen, dtype=dtype)
    Y = 10 * torch.randn(40, 3, generator=gen, dtype=dtype)
    opt = make_optimizer([W, b])
    for step in range(1, 26):
        opt.zero_grad()
        ((X @ W + b - Y) ** 2).mean().backward()
        if skip_every and step % skip_every == 0:
            b.grad = None
        opt.step()
    return [W.detach(), b.detach()]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("skip_every", [0, 3])
def test_adam_gives_the_parameters_of_torch_optim_adam_bit_for_bit(dtype, skip_every):
    """Same parameters as torch.optim.Adam after 25 steps, exactly, also when a parameter
    has no gradient at some steps?"""
    ours = _train(lambda p: Adam(p, lr=0.05), dtype, skip_every)
    theirs = _train(lambda p: torch.optim.Adam(p, lr=0.05), dtype, skip_every)
    for a, b in zip(ours, theirs, strict=True):
        assert torch.equal(a, b)


def test_adam_with_other_betas_and_eps_agrees_with_torch_optim_adam():
    kw = {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6}
    ours = _train(lambda p: Adam(p, **kw), torch.float64)
    theirs = _train(lambda p: torch.optim.Adam(p, **kw), torch.float64)
    for a, b in zip(ours, theirs, strict=True):
        assert torch.equal(a, b)


def test_adam_does_not_import_torch_dynamo():
    """The reason it exists: does a training with it leave torch._dynamo unimported?"""
    code = ("import sys, torch\n"
            "from autograder.keys.optim import Adam\n"
            "w = torch.ones(2, requires_grad=True)\n"
            "opt = Adam([w], lr=0.1)\n"
            "(w ** 2).sum().backward()\n"
            "opt.step()\n"
            "print('torch._dynamo' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
