import torch


def _sig(z):
    return torch.sigmoid(z)


def jac_a_x(W, b, x):
    return W


def jac_a_b(W, b, x):
    n = b.shape[0]
    return torch.eye(n, dtype=b.dtype, device=b.device)


def jac_a_wd(W, b, x, d):
    return x[d] * torch.eye(b.shape[0], dtype=b.dtype, device=b.device)


def jac_y_a(W, b, x):
    # y_i only depends on a_i, so only sigma'(a_i) is needed
    s = _sig(W @ x + b)
    return s * (1 - s)


def jac_y_x(W, b, x):
    s = _sig(W @ x + b)
    return (s * (1 - s)).unsqueeze(1) * W


def jac_y_b(W, b, x):
    return jac_y_a(W, b, x)


def jac_y_wd(W, b, x, d):
    return x[d] * jac_y_a(W, b, x)


def numerical_jacobian(f, x, eps=1e-6):
    cols = []
    for j in range(len(x)):
        e = torch.zeros_like(x)
        e[j] = 1.0
        cols.append((f(x + eps * e) - f(x - eps * e)) / (2 * eps))
    return torch.stack(cols, 1)
