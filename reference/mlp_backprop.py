"""Reference solution: backpropagation through a 4-layer sigmoid MLP, by hand.

Notation of deck 001 ("The Backpropagation Algorithm"), with samples as rows:

    a^i = x^{i-1} W_iᵀ + b_i      pre-activations, (T, N_i)
    x^i = σ(a^i)                  activations, (T, N_i); x^0 = X, the output is x^4
    L   = (1/T) Σ_t ‖x^4_t − y_t‖²

``G_v`` is the gradient of L with respect to ``v``: it has the shape of ``v``.
No autograd anywhere: each step of the forward pass has its local derivative written next to it.
"""

from __future__ import annotations

import torch

CANARY = "dlg-canary-reference-mlp_backprop-f62f7a21e4190469"  # never in a kit (tests/kit)

_LAYERS = 4


def _sigmoid(a: torch.Tensor) -> torch.Tensor:
    # torch.sigmoid never overflows, unlike 1 / (1 + exp(-a)) for a very negative a.
    return torch.sigmoid(a)


def _sigmoid_prime_from_output(x: torch.Tensor) -> torch.Tensor:
    # σ'(a) = σ(a)(1 − σ(a)): the activation x = σ(a) saved by the forward pass is all we need.
    return x * (1 - x)


def _affine(x: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    # Rows are samples, so a = W x + b for each sample reads x Wᵀ + b for the batch.
    return x @ W.T + b


def _affine_backward(
    G_a: torch.Tensor, x: torch.Tensor, W: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients of the loss with respect to (x, W, b), given G_a for a = x Wᵀ + b."""
    G_x = G_a @ W  # the slide's Wᵀ G_a, one row per sample
    G_W = G_a.T @ x  # Σ_t G_a[t] x[t]ᵀ: each sample contributes an outer product, (N_out, N_in)
    G_b = G_a.sum(dim=0)  # b is shared by every sample: their contributions add up
    return G_x, G_W, G_b


def forward(params: dict[str, torch.Tensor], X: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """Run the network on ``X (T, N_0)``; returns ``out (T, N_4)`` and the cache for ``backward``."""
    xs, as_ = [X], []
    for i in range(1, _LAYERS + 1):
        a = _affine(xs[-1], params[f"W{i}"], params[f"b{i}"])
        as_.append(a)
        xs.append(_sigmoid(a))  # a sigmoid after every layer, the output layer included
    return xs[-1], {"x": xs, "a": as_}


def loss(out: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """L2 loss without ½, averaged over the batch: (1/T) Σ_t ‖out_t − Y_t‖²."""
    T = out.shape[0]
    return ((out - Y) ** 2).sum() / T


def _loss_grad(out: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """G_{x^4}: the derivative of the square gives the 2, the mean over the batch gives the 1/T."""
    T = out.shape[0]
    return 2 * (out - Y) / T


def backward(params: dict[str, torch.Tensor], cache: dict, Y: torch.Tensor) -> dict[str, torch.Tensor]:
    """Gradients of ``loss(forward(params, X)[0], Y)`` for every weight, bias and the input X."""
    xs = cache["x"]
    grads: dict[str, torch.Tensor] = {}
    G_x = _loss_grad(xs[-1], Y)
    for i in range(_LAYERS, 0, -1):
        G_a = G_x * _sigmoid_prime_from_output(xs[i])  # through x^i = σ(a^i), element by element
        G_x, grads[f"W{i}"], grads[f"b{i}"] = _affine_backward(G_a, xs[i - 1], params[f"W{i}"])
    grads["X"] = G_x  # G_{x^0}: how the loss changes with the input itself
    return grads
