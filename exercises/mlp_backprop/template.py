"""Backpropagation through a 4-layer sigmoid MLP, written by hand.

Samples are rows: X has shape (T, N_0). params["Wi"] has shape (N_i, N_{i-1}), params["bi"] has shape (N_i,).
Layer i computes a^i = x^{i-1} @ Wiᵀ + bi, then x^i = σ(a^i), for i = 1..4, with x^0 = X; the output is x^4.
The loss is the mean over the batch of ‖x^4_t − y_t‖² (no ½).

torch.autograd, Tensor.backward and torch.func are not allowed: use the chain rule.
"""

import torch


def forward(params: dict[str, torch.Tensor], X: torch.Tensor) -> tuple[torch.Tensor, object]:
    """Run the network on X (T, N_0).

    Returns (out, cache): out = x^4 of shape (T, N_4), and a cache holding whatever backward will need
    (for instance the activations of every layer). The cache is yours: only your backward reads it.
    """
    raise NotImplementedError


def loss(out: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """(1/T) Σ_t ‖out_t − Y_t‖², a 0-dim tensor. out and Y have shape (T, N_4)."""
    raise NotImplementedError


def backward(params: dict[str, torch.Tensor], cache: object, Y: torch.Tensor) -> dict[str, torch.Tensor]:
    """Gradients of loss(forward(params, X)[0], Y), by hand.

    Returns a dict with keys "W1".."W4", "b1".."b4" and "X" (the gradient with respect to the input),
    each shaped like its variable, with the dtype and device of the inputs.
    """
    raise NotImplementedError
