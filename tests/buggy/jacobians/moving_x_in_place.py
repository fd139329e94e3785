import torch


def sigmoid(a):
    return 1 / (1 + torch.exp(-a))


def jac_a_x(W, b, x):
    return W.clone()


def jac_a_b(W, b, x):
    return torch.eye(W.shape[0], dtype=W.dtype, device=W.device)


def jac_a_wd(W, b, x, d):
    return x[d] * torch.eye(W.shape[0], dtype=W.dtype, device=W.device)


def jac_y_a(W, b, x):
    s = sigmoid(W @ x + b)
    return torch.diag(s * (1 - s))


def jac_y_x(W, b, x):
    return jac_y_a(W, b, x) @ W


def jac_y_b(W, b, x):
    return jac_y_a(W, b, x)


def jac_y_wd(W, b, x, d):
    return x[d] * jac_y_a(W, b, x)


def numerical_jacobian(f, x, eps=1e-6):
    fx = f(x)
    J = torch.zeros(fx.shape[0], x.shape[0], dtype=x.dtype, device=x.device)
    for j in range(x.shape[0]):
        x[j] += eps
        f_plus = f(x)
        x[j] -= 2 * eps
        f_minus = f(x)
        x[j] += eps  # put x back
        J[:, j] = (f_plus - f_minus) / (2 * eps)
    return J
