def d_sigmoid(x):
    return "exp(x)/(1 + exp(x))^2"


def d_tanh(x):
    return "sech(x)^2"


def d_relu(x):
    return "H(x)"


def d_softplus(x):
    return "exp(x)/(1 + exp(x))"


def grad_affine(w, x, b):
    return "w"


def grad_sq_norm(x):
    return "x + x"


def grad_least_squares(W, theta, y):
    return "2 W.T W theta - 2 W.T y"


def d_bce_logit(z, y):
    return "σ(z) - y"
