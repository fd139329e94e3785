import torch


def forward(params, X):
    pre, post = [], [X]
    for k in range(1, 5):
        a = post[-1] @ params[f"W{k}"].T + params[f"b{k}"]
        pre.append(a)
        post.append(torch.sigmoid(a))
    return post[-1], (pre, post)


def loss(out, Y):
    return ((out - Y) ** 2).sum(dim=1).mean()


def backward(params, cache, Y):
    pre, post = cache
    T = Y.shape[0]
    grads = {}
    dx = 2 * (post[-1] - Y) / T
    for k in range(4, 0, -1):
        a = pre[k - 1]
        da = dx * a * (1 - a)  # sigma'(a) = a(1 - a)
        grads[f"W{k}"] = da.T @ post[k - 1]
        grads[f"b{k}"] = da.sum(0)
        dx = da @ params[f"W{k}"]
    grads["X"] = dx
    return grads
