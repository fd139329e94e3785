def d_sigmoid(x):
    return f"sigma({x}) * (1 - sigma({x}))"


def d_tanh(x):
    # g'(z) = g(z)(1 - g(z)) with g = tanh (lecture 4)
    return f"tanh({x})*(1 - tanh({x}))"


def d_relu(x):
    return f"Heaviside({x})"


def d_softplus(x):
    return f"1/(1 + exp(-{x}))"


def grad_affine(w, x, b):
    return "w"


def grad_sq_norm(x):
    return "2x"


def grad_least_squares(W, theta, y):
    return "2 W^T (W theta - y)"


def d_bce_logit(z, y):
    return "sigma(z) - y"
