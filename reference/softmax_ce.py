"""Reference solution: softmax, cross-entropy and binary cross-entropy, numerically stable.

Logits ``z (T, C)``, class indices ``labels (T,)`` (int64, 0 … C−1), binary targets ``y (T,)`` in {0, 1}.
Every loss is a mean over the T samples. Nothing here modifies its inputs.
"""

from __future__ import annotations

import torch

CANARY = "dlg-canary-reference-softmax_ce-236dcc625f27ff0e"  # never in a kit (tests/kit)


def _shifted(z: torch.Tensor) -> torch.Tensor:
    # softmax(z) = softmax(z − m) for any constant m per row. With m = max, every exponent is ≤ 0:
    # exp cannot overflow (float32 overflows above 88.7) and the largest term is exactly 1.
    # Out of place on purpose: `z -= ...` would change the caller's tensor.
    return z - z.amax(dim=-1, keepdim=True)


def softmax(z: torch.Tensor) -> torch.Tensor:
    """exp(z_c) / Σ_c' exp(z_c') along the last dimension."""
    e = torch.exp(_shifted(z))
    return e / e.sum(dim=-1, keepdim=True)


def log_softmax(z: torch.Tensor) -> torch.Tensor:
    """log softmax(z) = (z − m) − log Σ exp(z − m), never log of a probability that underflowed to 0."""
    s = _shifted(z)
    return s - torch.log(torch.exp(s).sum(dim=-1, keepdim=True))  # the sum is ≥ 1: its log is safe


def _one_hot(labels: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    # Row t has a single 1 in column labels[t]; same dtype and device as the logits.
    return torch.zeros_like(like).scatter(-1, labels.unsqueeze(-1), 1.0)


def cross_entropy(z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of −log softmax(z)[t, labels_t]."""
    T = z.shape[0]
    rows = torch.arange(T, device=z.device)  # one entry per row: [rows, labels], not [:, labels]
    return -log_softmax(z)[rows, labels].mean()


def cross_entropy_grad(z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """∂/∂z of cross_entropy: (softmax(z) − onehot(labels)) / T."""
    T = z.shape[0]
    return (softmax(z) - _one_hot(labels, z)) / T


def softmax_jacobian(z1: torch.Tensor) -> torch.Tensor:
    """J[i, j] = ∂s_i/∂z_j = s_i (δ_ij − s_j), i.e. diag(s) − s sᵀ, for one sample z1 (C,)."""
    s = softmax(z1)
    return torch.diag(s) - torch.outer(s, s)


def bce(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean of −[y log p + (1 − y) log(1 − p)] for probabilities p.

    Like PyTorch, each log is clamped at −100, so that a confident right answer (p = 0 with y = 0,
    p = 1 with y = 1) costs 0 instead of 0 · (−inf) = NaN.
    """
    y = y.to(p.dtype)
    log_p = torch.log(p).clamp_min(-100)
    log_1mp = torch.log1p(-p).clamp_min(-100)
    return -(y * log_p + (1 - y) * log_1mp).mean()


def bce_with_logits(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """bce(σ(z), y) without computing σ(z).

    −log σ(z) = softplus(−z) and −log(1 − σ(z)) = softplus(z), and softplus(u) = max(u, 0) + log1p(e^{−|u|}),
    so the loss per sample is max(z, 0) − y z + log1p(e^{−|z|}): no overflow, no log of 0.
    """
    y = y.to(z.dtype)
    return (z.clamp_min(0) - y * z + torch.log1p(torch.exp(-z.abs()))).mean()


def bce_with_logits_grad(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """∂/∂z of bce_with_logits: (σ(z) − y) / T."""
    T = z.numel()
    return (torch.sigmoid(z) - y.to(z.dtype)) / T
