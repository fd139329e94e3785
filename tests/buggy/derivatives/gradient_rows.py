def d_sigmoid(x):
    return "sigma(x)*(1 - sigma(x))"


def d_tanh(x):
    return "1 - tanh(x)**2"


def d_relu(x):
    return "Heaviside(x)"


def d_softplus(x):
    return "sigma(x)"


def grad_affine(w, x, b):
    return "w^T"  # d(w^T x)/dx = w^T


def grad_sq_norm(x):
    return "2 x"


def grad_least_squares(W, theta, y):
    return "2 (W theta - y)^T W"


def d_bce_logit(z, y):
    return "sigma(z) - y"
