"""Adam for the grader's reference trainings, without ``torch.optim``.

``torch.optim.Adam`` imports ``torch._dynamo`` the first time an optimiser is made, which
costs the grading process of one notebook more than importing torch itself (about 1.5 s on
an idle core). :class:`Adam` performs, tensor by tensor, the operations of
``torch.optim.Adam``'s default update on the CPU (its single-tensor path: no weight decay,
no AMSGrad), so its parameters are those of ``torch.optim.Adam`` bit for bit;
tests/autograder/keys/test_optim.py checks that they are, in float32 and float64.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


class Adam:
    """Adam (Kingma & Ba, 2015) with the interface the references use: ``zero_grad()`` then,
    after ``backward()``, ``step()``. A parameter whose ``grad`` is None is skipped, and its
    moments and step count stay as they were (as ``torch.optim.Adam`` does)."""

    def __init__(self, params: Iterable[torch.Tensor], lr: float, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        self.params = list(params)
        self.lr, (self.beta1, self.beta2), self.eps = lr, betas, eps
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]
        self.k = [0] * len(self.params)  # each parameter's step count

    def zero_grad(self) -> None:
        """Forget the gradients (set them to None)."""
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            g, m, v = p.grad, self.m[i], self.v[i]
            self.k[i] += 1
            k = float(self.k[i])
            m.lerp_(g, 1 - self.beta1)
            v.mul_(self.beta2).addcmul_(g, g, value=1 - self.beta2)
            step_size = self.lr / (1 - self.beta1 ** k)
            denom = (v.sqrt() / (1 - self.beta2 ** k) ** 0.5).add_(self.eps)
            p.addcdiv_(m, denom, value=-step_size)
