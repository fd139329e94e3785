"""Common mistakes in the `least_squares` exercise, each written the way a student would write it.

Several come straight from the slides: deck 001 prints the affine-fit gradient as 2Wᵀ(Wθ − y) (the
1/T of the mean is lost) and solves with (WᵀW)⁻¹Wᵀy, which is exact on paper and inaccurate in
floating point when W is ill-conditioned.
"""

from __future__ import annotations

import torch

from grader.mistakes import MistakeBook

CANARY = "dlg-canary-mistakes-least_squares-d4cd16428ec15e59"  # never in a kit (tests/kit)

MISTAKES = MistakeBook("least_squares")


# -- ls_loss ----------------------------------------------------------------------------------------
@MISTAKES.add("ls_loss", name="mean instead of sum",
              hint="ls_loss is the sum of the squared residuals ‖Wθ − y‖² = Σ_t (w_tᵀθ − y_t)², with no "
                   "1/T: use .sum(), not .mean().")
def ls_loss_mean(W, theta, y):
    return ((W @ theta - y) ** 2).mean()


@MISTAKES.add("ls_loss", name="norm not squared",
              hint="‖Wθ − y‖ is the Euclidean norm; the loss is its square ‖Wθ − y‖² = Σ_t r_t². "
                   "torch.linalg.norm(r) returns the norm itself: square it, or sum r * r.")
def ls_loss_not_squared(W, theta, y):
    return torch.linalg.norm(W @ theta - y)


@MISTAKES.add("ls_loss", name="½ in the loss",
              hint="ls_loss is ‖Wθ − y‖² with no ½: some courses put a ½ in front to cancel the 2 of the "
                   "derivative, this one does not (and its gradient is 2Wᵀ(Wθ − y)).")
def ls_loss_half(W, theta, y):
    return 0.5 * ((W @ theta - y) ** 2).sum()


# -- ls_grad ----------------------------------------------------------------------------------------
@MISTAKES.add("ls_grad", name="factor 2 missing",
              hint="The gradient of ‖Wθ − y‖² is 2Wᵀ(Wθ − y): the derivative of r² is 2r, and the 2 "
                   "is missing.")
def ls_grad_without_two(W, theta, y):
    return W.T @ (W @ theta - y)


@MISTAKES.add("ls_grad", name="sign of the residual flipped",
              hint="The gradient is 2Wᵀ(Wθ − y). With the residual written y − Wθ, the chain rule brings "
                   "a factor −1 (∂(y − Wθ)/∂θ = −W): 2Wᵀ(y − Wθ) points uphill by the wrong sign.")
def ls_grad_sign(W, theta, y):
    return 2 * W.T @ (y - W @ theta)


@MISTAKES.add("ls_grad", name="2 on one term only",
              hint="Expanding ‖Wθ − y‖² = θᵀWᵀWθ − 2yᵀWθ + yᵀy gives 2WᵀWθ − 2Wᵀy: both terms carry "
                   "the 2. Simpler: 2Wᵀ(Wθ − y).")
def ls_grad_half_two(W, theta, y):
    return 2 * W.T @ W @ theta - W.T @ y


@MISTAKES.add("ls_grad", name="row derivative instead of the gradient",
              hint="The chain rule gives the derivative ∂f/∂θ = 2(Wθ − y)ᵀW as a 1×D row (numerator "
                   "layout). The gradient is its transpose, shaped like θ: a vector of shape (D,), "
                   "2Wᵀ(Wθ − y).")
def ls_grad_row(W, theta, y):
    return 2 * (W @ theta - y)[None, :] @ W


# -- ls_solve ---------------------------------------------------------------------------------------
_NORMAL_EQUATIONS_WHY = (
    "θ = (WᵀW)⁻¹Wᵀy is right on paper, but forming WᵀW squares the condition number: "
    "cond(WᵀW) = cond(W)². With cond(W) = 10⁷ that is 10¹⁴, and float64 (u ≈ 1e-16) keeps only "
    "about 2 correct digits. Solve with a QR factorisation instead (W = QR, then Rθ = Qᵀy with "
    "torch.linalg.solve_triangular), or torch.linalg.lstsq: the error then grows like cond(W)·u only."
)


@MISTAKES.add("ls_solve", name="normal equations with an explicit inverse",
              hint=_NORMAL_EQUATIONS_WHY + " An explicit inverse is never needed to solve a system.")
def ls_solve_inverse(W, y):
    return torch.linalg.inv(W.T @ W) @ W.T @ y


@MISTAKES.add("ls_solve", name="normal equations solved with WᵀW",
              hint="torch.linalg.solve(WᵀW, Wᵀy), or a Cholesky factorisation of WᵀW, avoids the inverse but "
                   "still forms WᵀW. "
                   + _NORMAL_EQUATIONS_WHY)
def ls_solve_normal_equations(W, y):
    return torch.linalg.solve(W.T @ W, W.T @ y)


# -- fit_affine -------------------------------------------------------------------------------------
@MISTAKES.add("fit_affine", name="(b, a) instead of (a, b)",
              hint="With rows w_t = [1, x_t] the solution is θ = [b, a]: return the slope a first, then "
                   "the intercept b. The slide's rows are w_t = [x_t, 1], so that θ = [a, b].")
def fit_affine_swapped(x, y):
    W = torch.stack([torch.ones_like(x), x], dim=1)
    theta = torch.linalg.lstsq(W, y[:, None]).solution[:, 0]
    return theta[0], theta[1]


@MISTAKES.add("fit_affine", name="column of ones missing",
              hint="The model a·x + b has an intercept: each row of W is w_t = [x_t, 1]. Without the "
                   "column of ones the line is forced through the origin (b = 0).")
def fit_affine_no_intercept(x, y):
    a = (x @ y) / (x @ x)
    return a, torch.zeros_like(a)


# -- affine_grad ------------------------------------------------------------------------------------
@MISTAKES.add("affine_grad", name="1/T missing (the slide's formula)",
              hint="g(θ) = (1/T)‖Wθ − y‖² is a mean, so its gradient is (2/T)Wᵀ(Wθ − y). The slide writes "
                   "2Wᵀ(Wθ − y), the gradient of the sum: it has the same zero, but it is T times too "
                   "large as a gradient.")
def affine_grad_slide(x, y, theta):
    W = torch.stack([x, torch.ones_like(x)], dim=1)
    return 2 * W.T @ (W @ theta - y)


@MISTAKES.add("affine_grad", name="2/T missing",
              hint="The gradient of g(θ) = (1/T) Σ_t (a x_t + b − y_t)² is (2/T)Wᵀ(Wθ − y): the 2 comes from "
                   "the square, the 1/T from the mean. Wᵀ(Wθ − y) has neither.")
def affine_grad_no_factor(x, y, theta):
    W = torch.stack([x, torch.ones_like(x)], dim=1)
    return W.T @ (W @ theta - y)


@MISTAKES.add("affine_grad", name="factor 2 missing",
              hint="The derivative of (a x_t + b − y_t)² is 2(a x_t + b − y_t)·[x_t, 1]: with the mean, "
                   "(2/T)Wᵀ(Wθ − y). The 2 from the square is missing.")
def affine_grad_no_two(x, y, theta):
    W = torch.stack([x, torch.ones_like(x)], dim=1)
    return W.T @ (W @ theta - y) / x.shape[0]


@MISTAKES.add("affine_grad", name="columns of W swapped: rows [1, x_t]",
              hint="θ = (a, b) goes with rows w_t = [x_t, 1], so that Wθ = a·x_t + b. With rows [1, x_t] the "
                   "same θ describes the line b·x_t + a, and the gradient is that of another model.")
def affine_grad_columns_swapped(x, y, theta):
    W = torch.stack([torch.ones_like(x), x], dim=1)
    return 2 * W.T @ (W @ theta - y) / x.shape[0]


# -- ridge_solve ------------------------------------------------------------------------------------
@MISTAKES.add("ridge_solve", name="λ added to every entry of WᵀW",
              hint="The penalty λ‖θ‖² has gradient 2λθ = 2λIθ: λ goes on the diagonal only, "
                   "(WᵀW + λI)θ = Wᵀy. WᵀW + λ adds λ to every entry (a matrix of ones).")
def ridge_lambda_ones(W, y, lam):
    return torch.linalg.solve(W.T @ W + lam, W.T @ y)


@MISTAKES.add("ridge_solve", name="λ/2 instead of λ",
              hint="The gradient of ‖Wθ − y‖² + λ‖θ‖² is 2Wᵀ(Wθ − y) + 2λθ: both terms have the 2, so "
                   "(WᵀW + λI)θ = Wᵀy. Differentiating λ‖θ‖² as λθ gives WᵀW + (λ/2)I.")
def ridge_half_lambda(W, y, lam):
    eye = torch.eye(W.shape[1], dtype=W.dtype, device=W.device)
    return torch.linalg.solve(W.T @ W + lam / 2 * eye, W.T @ y)


@MISTAKES.add("ridge_solve", name="λ scaled by T",
              hint="Here the data term is the sum ‖Wθ − y‖², not the mean, so the solution is "
                   "(WᵀW + λI)⁻¹Wᵀy. Multiplying λ by T belongs to the mean-loss convention "
                   "(1/T)‖Wθ − y‖² + λ‖θ‖², which is not the one asked.")
def ridge_lambda_times_t(W, y, lam):
    eye = torch.eye(W.shape[1], dtype=W.dtype, device=W.device)
    return torch.linalg.solve(W.T @ W + lam * W.shape[0] * eye, W.T @ y)
