"""Common mistakes with softmax, cross-entropy and binary cross-entropy, with the hints students see.

A mistake in softmax usually travels: a student's cross_entropy and cross_entropy_grad call their own
softmax. Those mistakes are variants that replace every function built on the faulty piece.
"""

from __future__ import annotations

import torch

from grader.mistakes import MistakeBook
from reference.softmax_ce import log_softmax as _log_softmax
from reference.softmax_ce import softmax as _softmax

CANARY = "dlg-canary-mistakes-softmax_ce-f0d273f1f21a5afd"  # never in a kit (tests/kit)

MISTAKES = MistakeBook("softmax_ce")


def _one_hot(labels: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    return torch.eye(z.shape[-1], dtype=z.dtype, device=z.device)[labels]


def _rows(z: torch.Tensor) -> torch.Tensor:
    return torch.arange(z.shape[0], device=z.device)


# -- normalised along the batch instead of the classes ----------------------------------------------
def _softmax_dim0(z):
    e = torch.exp(z - z.amax(dim=0, keepdim=True))
    return e / e.sum(dim=0, keepdim=True)


def _log_softmax_dim0(z):
    s = z - z.amax(dim=0, keepdim=True)
    return s - torch.log(torch.exp(s).sum(dim=0, keepdim=True))


MISTAKES.add_variant(
    "wrong_axis", name="softmax along the wrong axis",
    hint="Each sample is a row of z (T, C): normalise along the classes, the last dimension (dim=-1, "
         "keepdim=True), so that every row sums to 1. dim=0 mixes the samples of the batch.",
    softmax=_softmax_dim0, log_softmax=_log_softmax_dim0,
    cross_entropy=lambda z, labels: -_log_softmax_dim0(z)[_rows(z), labels].mean(),
    cross_entropy_grad=lambda z, labels: (_softmax_dim0(z) - _one_hot(labels, z)) / z.shape[0])


# -- gradients ------------------------------------------------------------------------------------
MISTAKES.add_variant(
    "missing_1_over_T", name="1/T missing in the gradient",
    hint="The loss is a mean over the T samples, so its gradient carries the 1/T: "
         "(softmax(z) − onehot(labels)) / T and (σ(z) − y) / T. A batch of one sample cannot tell.",
    cross_entropy_grad=lambda z, labels: _softmax(z) - _one_hot(labels, z),
    bce_with_logits_grad=lambda z, y: torch.sigmoid(z) - y.to(z.dtype))


@MISTAKES.add("cross_entropy_grad", name="sign error on the one-hot term",
              hint="∂/∂z of −log softmax(z)[label] is softmax(z) − onehot(label): the one-hot term comes "
                   "with a minus sign (it is the derivative of −z[label]).")
def one_hot_sign(z, labels):
    return (_softmax(z) + _one_hot(labels, z)) / z.shape[0]


# -- BCE ------------------------------------------------------------------------------------------
@MISTAKES.add("bce", name="BCE brackets missing",
              hint="Both terms are inside the sum and the minus sign: −(1/n) Σ [y log p + (1 − y) log(1 − p)]. "
                   "Deck 004 prints the formula without the brackets, which flips the sign of the "
                   "second term.")
def bce_brackets(p, y):
    y = y.to(p.dtype)
    return -(y * torch.log(p)).mean() + ((1 - y) * torch.log(1 - p)).mean()


# -- indexing the labels ------------------------------------------------------------------------------
@MISTAKES.add("cross_entropy", name="labels picked with [:, labels]",
              hint="logp[:, labels] is a T×T matrix (every sample's log-probability of every sample's "
                   "label). Take one entry per row: logp[torch.arange(T), labels]. Deck 001's "
                   "myCrossEntropyLoss writes outputs[(batch_size), labels], which is wrong too.")
def labels_all_rows(z, labels):
    return -_log_softmax(z)[:, labels].sum() / z.shape[0]


MISTAKES.add_variant(
    "labels_from_one", name="classes numbered from 1",
    hint="labels are class indices from 0 to C − 1 (as in PyTorch), not from 1 to C as on deck 001. "
         "Index with labels directly: labels − 1 turns class 0 into index −1, the last class.",
    cross_entropy=lambda z, labels: -_log_softmax(z)[_rows(z), labels - 1].mean(),
    cross_entropy_grad=lambda z, labels: (_softmax(z) - _one_hot(labels - 1, z)) / z.shape[0])


# -- softmax formula and Jacobian ------------------------------------------------------------------
def _sigmoid_of_minus(z):
    return torch.sigmoid(-z)


MISTAKES.add_variant(
    "softmax_as_sigmoid", name="softmax written σ(−a)",
    hint="Deck 001 labels the softmax σ(−a), but its formula is exp(a_n) / Σ_n' exp(a_n'): softmax is "
         "not a sigmoid applied entry by entry, it normalises the exponentials of the whole row.",
    softmax=_sigmoid_of_minus,
    softmax_jacobian=lambda z1: torch.diag(_sigmoid_of_minus(z1)) - torch.outer(_sigmoid_of_minus(z1),
                                                                                 _sigmoid_of_minus(z1)))


@MISTAKES.add("softmax_jacobian", name="s sᵀ computed as a dot product",
              hint="s sᵀ is the outer product, a C×C matrix: torch.outer(s, s) (or s[:, None] * s[None, :]). "
                   "s @ s is the scalar Σ s_i², which broadcasting then subtracts from every entry.")
def jacobian_dot_product(z1):
    s = _softmax(z1)
    return torch.diag(s) - s @ s


def _logsumexp(z):
    m = z.amax(dim=-1, keepdim=True)
    return (m + torch.log(torch.exp(z - m).sum(dim=-1, keepdim=True))).squeeze(-1)


@MISTAKES.add("cross_entropy", name="z[:, labels] in the logit term",
              hint="With the loss written logsumexp(z) − z[label], z[:, labels] is a T×T matrix (every sample's "
                   "logit for every sample's label), and broadcasting it against the T log-sum-exps averages "
                   "T² terms. Take one logit per row: z[torch.arange(T), labels].")
def logit_term_all_rows(z, labels):
    return (_logsumexp(z) - z[:, labels]).mean()


@MISTAKES.add("cross_entropy", name="ε added inside the log: log(p + 1e-5)",
              hint="log(p + 1e-5) is not log p: it changes every loss by about 1e-5/p and caps −log p at "
                   "11.5, so a confident wrong answer costs 11.5 instead of its true cost. The ε hides a "
                   "log of 0 that a stable log-softmax never takes: −log softmax(z)[label] = "
                   "logsumexp(z) − z[label].")
def log_p_plus_epsilon(z, labels):
    return -torch.log(_softmax(z)[_rows(z), labels] + 1e-5).mean()


@MISTAKES.add("bce_with_logits", name="softmax where a sigmoid belongs",
              hint="bce_with_logits takes one logit per sample, z (T,): the probability of class 1 is σ(z_t), "
                   "a sigmoid of each logit on its own. A softmax over z normalises across the samples of "
                   "the batch, which makes no sense here (and is 1 for T = 1).")
def softmax_for_sigmoid(z, y):
    p, y = _softmax(z), y.to(z.dtype)
    return -(y * torch.log(p).clamp_min(-100) + (1 - y) * torch.log1p(-p).clamp_min(-100)).mean()


@MISTAKES.add("softmax_jacobian", name="only the diagonal, diag(s(1 − s))",
              hint="∂s_i/∂z_j is not 0 for i ≠ j: every probability depends on every logit through the "
                   "normalisation. J = diag(s) − s sᵀ: the diagonal is s_i(1 − s_i), the rest −s_i s_j.")
def jacobian_diagonal_only(z1):
    s = _softmax(z1)
    return torch.diag(s * (1 - s))


# -- inputs changed in place ----------------------------------------------------------------------
@MISTAKES.add("softmax", name="logits modified in place",
              hint="z -= z.max(dim=-1, keepdim=True).values changes the caller's tensor: the logits are "
                   "not yours to modify. Write z = z - z.amax(dim=-1, keepdim=True) (a new tensor).")
def softmax_in_place(z):
    z -= z.amax(dim=-1, keepdim=True)
    e = torch.exp(z)
    return e / e.sum(dim=-1, keepdim=True)


# -- mistakes that give inf or NaN come last: a non-finite variant must not be tried before the
#    mistakes that explain a finite wrong value
# -- log(softmax(z)) ------------------------------------------------------------------------------
def _log_of_softmax(z):
    return torch.log(_softmax(z))


MISTAKES.add_variant(
    "log_of_softmax", name="log of softmax instead of log-softmax", nonfinite=True,
    hint="log(softmax(z)) gives −inf as soon as a probability underflows to 0 (a gap of about 104 "
         "between logits in float32, 745 in float64), and the cross-entropy becomes inf. Compute it "
         "directly: log_softmax(z) = (z − m) − log Σ exp(z − m), with m the max of the row.",
    log_softmax=_log_of_softmax,
    cross_entropy=lambda z, labels: -_log_of_softmax(z)[_rows(z), labels].mean())


@MISTAKES.add("bce_with_logits", name="naive BCE with logits: log(σ(z))", nonfinite=True,
              hint="log(σ(z)) is −inf once σ(z) underflows to 0 (z below about −88 in float32) and "
                   "log(1 − σ(z)) is −inf once σ(z) rounds to 1 (z above about 17 in float32). Use "
                   "−log σ(z) = softplus(−z): the loss per sample is max(z, 0) − y·z + log(1 + e^(−|z|)).")
def naive_bce_with_logits(z, y):
    p, y = torch.sigmoid(z), y.to(z.dtype)
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()



# -- softmax computed without subtracting the max ---------------------------------------------------
def _naive_softmax(z):
    e = torch.exp(z)
    return e / e.sum(dim=-1, keepdim=True)


def _naive_log_softmax(z):
    return z - torch.log(torch.exp(z).sum(dim=-1, keepdim=True))


def _naive_cross_entropy(z, labels):
    return -_naive_log_softmax(z)[_rows(z), labels].mean()


def _naive_cross_entropy_grad(z, labels):
    return (_naive_softmax(z) - _one_hot(labels, z)) / z.shape[0]


def _naive_softmax_jacobian(z1):
    s = _naive_softmax(z1)
    return torch.diag(s) - torch.outer(s, s)


MISTAKES.add_variant(
    "no_max_subtraction", name="exp overflows: the max is not subtracted", nonfinite=True,
    hint="Overflow for logits above 88: subtract the max. exp(z) is inf in float32 once z > 88.7 (709 in "
         "float64), and inf / inf is NaN. softmax(z) = softmax(z − m) with m the max of each row changes "
         "nothing mathematically and makes every exponent ≤ 0; for log_softmax use "
         "(z − m) − log Σ exp(z − m).",
    softmax=_naive_softmax, log_softmax=_naive_log_softmax, cross_entropy=_naive_cross_entropy,
    cross_entropy_grad=_naive_cross_entropy_grad, softmax_jacobian=_naive_softmax_jacobian)


@MISTAKES.add("cross_entropy", name="log(p) · onehot: 0 · (−inf) = NaN", nonfinite=True,
              hint="−Σ_c onehot_c · log p_c is NaN as soon as a probability of another class underflows to 0: "
                   "log 0 = −inf and 0 · (−inf) = NaN. Pick the one log-probability you need instead of "
                   "multiplying them all: −log_softmax(z)[torch.arange(T), labels].")
def log_times_onehot(z, labels):
    return -(_one_hot(labels, z) * torch.log(_softmax(z))).sum(dim=-1).mean()


@MISTAKES.add("bce", name="NaN for a confident right answer: 0 · log 0", nonfinite=True,
              hint="At p = 0 with y = 0 the term y·log p is 0 · (−inf) = NaN (and (1 − y)·log(1 − p) at p = 1 "
                   "with y = 1), though a confident right answer costs 0. Clamp each log at −100, as "
                   "torch.nn.functional.binary_cross_entropy does (torch.log(p).clamp_min(-100)), or use "
                   "torch.xlogy(y, p), which is 0 where y = 0.")
def bce_nan_when_confident(p, y):
    y = y.to(p.dtype)
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()
