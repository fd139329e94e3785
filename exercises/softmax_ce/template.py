"""Softmax, cross-entropy and binary cross-entropy, numerically stable.

z (T, C): logits, one sample per row. labels (T,): int64 class indices in 0 … C − 1.
y (T,): binary targets in {0, 1}. Every loss is a mean over the T samples.
Return tensors with the dtype and device of the inputs, and never modify an input in place.
"""

import torch


def softmax(z: torch.Tensor) -> torch.Tensor:
    """exp(z_c) / Σ_c' exp(z_c') along the last dimension; same shape as z, finite for |z| up to 1e4."""
    raise NotImplementedError


def log_softmax(z: torch.Tensor) -> torch.Tensor:
    """log softmax(z) along the last dimension; same shape as z, finite for |z| up to 1e4."""
    raise NotImplementedError


def cross_entropy(z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(1/T) Σ_t −log softmax(z)[t, labels[t]], a 0-dim tensor."""
    raise NotImplementedError


def cross_entropy_grad(z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Gradient of cross_entropy(z, labels) with respect to z, shape (T, C)."""
    raise NotImplementedError


def softmax_jacobian(z1: torch.Tensor) -> torch.Tensor:
    """Jacobian of softmax at one sample z1 (C,): J[i, j] = ∂softmax(z1)_i / ∂z1_j, shape (C, C)."""
    raise NotImplementedError


def bce(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of probabilities p (T,) against y (T,), mean over T, a 0-dim tensor.

    p may be exactly 0 where y = 0 and exactly 1 where y = 1: such a sample costs 0.
    """
    raise NotImplementedError


def bce_with_logits(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """bce(σ(z), y) computed from the logits z (T,) without overflow, finite for |z| up to 1e4."""
    raise NotImplementedError


def bce_with_logits_grad(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Gradient of bce_with_logits(z, y) with respect to z, shape (T,)."""
    raise NotImplementedError
