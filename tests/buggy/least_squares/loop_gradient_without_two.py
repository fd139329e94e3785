import torch


def ls_loss(W, theta, y):
    r = W @ theta - y
    return torch.dot(r, r)


def ls_grad(W, theta, y):
    # d/dtheta of sum_t (w_t . theta - y_t)^2, one sample at a time
    T, D = W.shape
    g = torch.zeros(D, dtype=W.dtype, device=W.device)
    for t in range(T):
        err = torch.dot(W[t], theta) - y[t]
        g = g + err * W[t]
    return g


def ls_solve(W, y):
    Q, R = torch.linalg.qr(W)
    return torch.linalg.solve_triangular(R, (Q.T @ y).unsqueeze(1), upper=True).squeeze(1)


def fit_affine(x, y):
    W = torch.stack([x, torch.ones_like(x)], dim=1)
    a, b = ls_solve(W, y)
    return a, b


def affine_grad(x, y, theta):
    W = torch.stack([x, torch.ones_like(x)], dim=1)
    return 2.0 / len(x) * W.T @ (W @ theta - y)


def ridge_solve(W, y, lam):
    D = W.shape[1]
    A = W.T @ W + lam * torch.eye(D, dtype=W.dtype, device=W.device)
    return torch.linalg.solve(A, W.T @ y)
