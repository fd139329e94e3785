import torch


def ls_loss(W, theta, y):
    # total error of the fit
    return torch.sum(torch.abs(W @ theta - y))


def ls_grad(W, theta, y):
    return 2 * W.T @ (W @ theta - y)


def ls_solve(W, y):
    return torch.linalg.lstsq(W, y.unsqueeze(-1)).solution.squeeze(-1)


def fit_affine(x, y):
    x_mean, y_mean = x.mean(), y.mean()
    a = ((x - x_mean) * (y - y_mean)).sum() / ((x - x_mean) ** 2).sum()
    return a, y_mean - a * x_mean


def affine_grad(x, y, theta):
    a, b = theta[0], theta[1]
    r = a * x + b - y
    return torch.stack([2 * (r * x).mean(), 2 * r.mean()])


def ridge_solve(W, y, lam):
    n_features = W.shape[1]
    return torch.linalg.solve(W.T @ W + lam * torch.eye(n_features, dtype=W.dtype, device=W.device), W.T @ y)
