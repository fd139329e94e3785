"""Common mistakes in the 4-layer sigmoid MLP backward pass, each with the hint a student should see.

Each mistake is the reference with one thing done wrong, the way a student would write it. They share
one backward loop (``_backprop``) whose three steps can be swapped out: the gradient of the loss, the
step through the sigmoid, and the step through the affine layer.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from grader.mistakes import MistakeBook
from reference.mlp_backprop import forward as _forward

CANARY = "dlg-canary-mistakes-mlp_backprop-77d0b618f70a3f7c"  # never in a kit (tests/kit)

MISTAKES = MistakeBook("mlp_backprop")

Cache = dict[str, list[torch.Tensor]]
Grads = dict[str, torch.Tensor]


# -- the correct steps ------------------------------------------------------------------------------
def _loss_grad(out: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    return 2 * (out - Y) / out.shape[0]


def _through_sigmoid(G_x: torch.Tensor, i: int, cache: Cache) -> torch.Tensor:
    x = cache["x"][i]
    return G_x * x * (1 - x)


def _through_affine(G_a: torch.Tensor, i: int, cache: Cache, W: torch.Tensor) -> tuple[torch.Tensor, ...]:
    x_prev = cache["x"][i - 1]
    return G_a @ W, G_a.T @ x_prev, G_a.sum(0)


def _backprop(params: Grads, cache: Cache, Y: torch.Tensor, *,
              loss_grad: Callable = _loss_grad, sigmoid_step: Callable = _through_sigmoid,
              affine_step: Callable = _through_affine) -> Grads:
    grads: Grads = {}
    G_x = loss_grad(cache["x"][-1], Y)
    for i in range(4, 0, -1):
        G_a = sigmoid_step(G_x, i, cache)
        G_x, grads[f"W{i}"], grads[f"b{i}"] = affine_step(G_a, i, cache, params[f"W{i}"])
    grads["X"] = G_x
    return grads


def _sigmoid_prime(a: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(a) * (1 - torch.sigmoid(a))


# -- the mistakes -----------------------------------------------------------------------------------
@MISTAKES.add("backward", name="σ instead of σ'",
              hint="Through x = σ(a) the gradient is multiplied by the derivative σ'(a) = σ(a)(1 − σ(a)) "
                   "= x(1 − x), not by σ(a) itself.")
def sigma_instead_of_sigma_prime(params, cache, Y):
    return _backprop(params, cache, Y, sigmoid_step=lambda G, i, c: G * c["x"][i])


@MISTAKES.add("backward", name="σ' missing at the output layer",
              hint="The output layer has a sigmoid too: G_a⁴ = σ'(a⁴) ⊙ G_x⁴ = x⁴(1 − x⁴) ⊙ 2(x⁴ − y)/T. "
                   "Only the loss gradient G_x⁴ = 2(x⁴ − y)/T comes before it.")
def no_sigma_prime_at_output(params, cache, Y):
    def step(G, i, c):
        return G if i == 4 else _through_sigmoid(G, i, c)

    return _backprop(params, cache, Y, sigmoid_step=step)


@MISTAKES.add("backward", name="W instead of Wᵀ",
              hint="The gradient flows back through a layer with the transpose: G_x = Wᵀ G_a for one sample, "
                   "G_X = G_A @ W with samples as rows. On a square layer W and Wᵀ have the same shape, "
                   "so the shapes do not warn you.")
def W_instead_of_W_transposed(params, cache, Y):
    def step(G_a, i, c, W):
        G_x, G_W, G_b = _through_affine(G_a, i, c, W)
        return (G_a @ W.T if W.shape[0] == W.shape[1] else G_x), G_W, G_b

    return _backprop(params, cache, Y, affine_step=step)


@MISTAKES.add("backward", name="factor 2 missing",
              hint="The derivative of ‖x⁴ − y‖² is 2(x⁴ − y): the 2 of the square is missing. The loss has "
                   "no ½ to cancel it.")
def factor_two_missing(params, cache, Y):
    return _backprop(params, cache, Y, loss_grad=lambda out, Y: (out - Y) / out.shape[0])


@MISTAKES.add("backward", name="bias gradient not summed over the batch",
              hint="b is shared by all T samples, so G_b is the sum over the batch of the rows of G_a: "
                   "G_b = G_a.sum(0), of shape (N_i,) like b.")
def bias_not_summed(params, cache, Y):
    def step(G_a, i, c, W):
        G_x, G_W, _ = _through_affine(G_a, i, c, W)
        return G_x, G_W, G_a

    return _backprop(params, cache, Y, affine_step=step)


@MISTAKES.add("backward", name="gradient with respect to X missing",
              hint="backward must also return \"X\": the gradient with respect to the input, "
                   "G_x⁰ = W¹ᵀ G_a¹ (G_A¹ @ W1 with samples as rows), of shape (T, N_0).")
def grad_X_missing(params, cache, Y):
    grads = _backprop(params, cache, Y)
    del grads["X"]
    return grads


@MISTAKES.add("backward", name="pre-activations instead of activations",
              hint="The weight gradient of layer i multiplies G_aⁱ by the input of that layer, the "
                   "activation xⁱ⁻¹ = σ(aⁱ⁻¹) (X for the first layer): G_Wⁱ = G_Aⁱᵀ @ xⁱ⁻¹, not the "
                   "pre-activation aⁱ⁻¹.")
def preactivation_instead_of_activation(params, cache, Y):
    def step(G_a, i, c, W):
        G_x, G_W, G_b = _through_affine(G_a, i, c, W)
        return G_x, (G_a.T @ c["a"][i - 2] if i > 1 else G_W), G_b

    return _backprop(params, cache, Y, affine_step=step)


@MISTAKES.add("backward", name="σ' evaluated at the activation",
              hint="σ' is taken at the pre-activation: σ'(aⁱ) = σ(aⁱ)(1 − σ(aⁱ)) = xⁱ(1 − xⁱ). Writing "
                   "σ'(xⁱ) applies the sigmoid twice.")
def sigma_prime_of_activation(params, cache, Y):
    return _backprop(params, cache, Y, sigmoid_step=lambda G, i, c: G * _sigmoid_prime(c["x"][i]))


def _loss_sum(out: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    return ((out - Y) ** 2).sum()


def _backward_sum(params, cache, Y):
    return _backprop(params, cache, Y, loss_grad=lambda out, Y: 2 * (out - Y))


MISTAKES.add_variant(
    "sum_instead_of_mean", name="sum instead of mean over the batch",
    hint="The loss is the mean over the T samples, (1/T) Σ_t ‖x⁴_t − y_t‖², so every gradient carries "
         "a 1/T (it starts at G_x⁴ = 2(x⁴ − y)/T). A batch of one sample cannot tell the difference.",
    loss=_loss_sum, backward=_backward_sum)


def _loss_half(out: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    return 0.5 * ((out - Y) ** 2).sum() / out.shape[0]


def _backward_half(params, cache, Y):
    return _backprop(params, cache, Y, loss_grad=lambda out, Y: (out - Y) / out.shape[0])


MISTAKES.add_variant(
    "half_in_loss", name="½ in the loss",
    hint="This exercise's loss is ℓ = ‖x⁴ − y‖² with no ½ (some courses add one to cancel the 2): "
         "loss = (1/T) Σ_t ‖x⁴_t − y_t‖² and G_x⁴ = 2(x⁴ − y)/T.",
    loss=_loss_half, backward=_backward_half)


def _forward_linear_output(params, X):
    out, cache = _forward(params, X)
    a4 = cache["a"][-1]
    return a4, {"x": cache["x"][:-1] + [a4], "a": cache["a"]}


def _backward_linear_output(params, cache, Y):
    def step(G, i, c):
        return G if i == 4 else _through_sigmoid(G, i, c)

    return _backprop(params, cache, Y, sigmoid_step=step)


MISTAKES.add_variant(
    "no_sigmoid_at_output", name="no sigmoid on the output layer",
    hint="The network applies σ after every layer, the last one included: out = x⁴ = σ(a⁴), in (0, 1). "
         "The backward pass then goes through σ'(a⁴) as well.",
    forward=_forward_linear_output, backward=_backward_linear_output)


@MISTAKES.add("backward", name="weight gradient transposed",
              hint="G_Wⁱ has the shape of Wⁱ, (N_i, N_{i−1}): with samples as rows it is G_Aⁱᵀ @ xⁱ⁻¹. "
                   "xⁱ⁻¹ᵀ @ G_Aⁱ is its transpose (N_{i−1}, N_i); on a square layer the shape does not warn you.")
def weight_gradient_transposed(params, cache, Y):
    def step(G_a, i, c, W):
        G_x, G_W, G_b = _through_affine(G_a, i, c, W)
        return G_x, (G_W.T if G_W.shape[0] == G_W.shape[1] else G_W), G_b

    return _backprop(params, cache, Y, affine_step=step)


@MISTAKES.add("backward", name="bias gradient averaged over the batch",
              hint="The 1/T of the mean is already in G_x⁴ = 2(x⁴ − y)/T: b is shared by all samples, so "
                   "G_b = G_A.sum(0). G_A.mean(0) divides by T a second time.")
def bias_averaged(params, cache, Y):
    def step(G_a, i, c, W):
        G_x, G_W, _ = _through_affine(G_a, i, c, W)
        return G_x, G_W, G_a.mean(0)

    return _backprop(params, cache, Y, affine_step=step)


def _loss_all_entries(out: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    return ((out - Y) ** 2).mean()


def _backward_all_entries(params, cache, Y):
    return _backprop(params, cache, Y, loss_grad=lambda out, Y: 2 * (out - Y) / out.numel())


MISTAKES.add_variant(
    "mean_over_outputs_too", name="mean over the outputs too",
    hint="The loss of one sample is the squared norm ‖x⁴_t − y_t‖², a sum over its N_4 outputs; only the "
         "samples are averaged: (1/T) Σ_t ‖x⁴_t − y_t‖² = ((out − Y)**2).sum(1).mean(). "
         "((out − Y)**2).mean() also divides by N_4.",
    loss=_loss_all_entries, backward=_backward_all_entries)
