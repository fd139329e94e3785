import torch


def ls_loss(W, theta, y):
    r = y.view(-1)
    r -= W @ theta  # residual (sign does not matter, it is squared)
    return (r * r).sum()


def ls_grad(W, theta, y):
    return 2 * W.T @ (W @ theta - y)


def ls_solve(W, y):
    return torch.linalg.lstsq(W, y[:, None]).solution[:, 0]


def fit_affine(x, y):
    W = torch.stack([x, torch.ones_like(x)], 1)
    theta = torch.linalg.lstsq(W, y[:, None]).solution[:, 0]
    return theta[0], theta[1]


def affine_grad(x, y, theta):
    W = torch.stack([x, torch.ones_like(x)], 1)
    return 2 * W.T @ (W @ theta - y) / len(y)


def ridge_solve(W, y, lam):
    d = W.shape[1]
    return torch.linalg.solve(W.T @ W + lam * torch.eye(d, dtype=W.dtype, device=W.device), W.T @ y)
