import torch


def sigmoid(z):
    return 1.0 / (1.0 + torch.exp(-z))


def forward(params, X):
    acts = [X]
    h = X
    for l in range(1, 5):
        h = sigmoid(h @ params[f"W{l}"].T + params[f"b{l}"])
        acts.append(h)
    return h, acts


def loss(out, Y):
    return torch.mean((out - Y) ** 2)  # MSE


def backward(params, cache, Y):
    acts = cache
    out = acts[-1]
    grads = {}
    delta = 2 * (out - Y) / out.numel()  # derivative of the MSE
    for l in range(4, 0, -1):
        h = acts[l]
        delta = delta * h * (1 - h)
        grads[f"W{l}"] = delta.T @ acts[l - 1]
        grads[f"b{l}"] = delta.sum(dim=0)
        delta = delta @ params[f"W{l}"]
    grads["X"] = delta
    return grads
