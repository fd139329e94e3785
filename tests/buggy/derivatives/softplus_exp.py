def d_sigmoid(x):
    return "exp(-x)/(1 + exp(-x))^2"


def d_tanh(x):
    return "1 - tanh(x)^2"


def d_relu(x):
    return "Piecewise((0, x < 0), (1, True))"


def d_softplus(x):
    # derivative of log is 1/u, derivative of e^x is e^x
    return "exp(x)"


def grad_affine(w, x, b):
    return "w"


def grad_sq_norm(x):
    return "2*x"


def grad_least_squares(W, theta, y):
    return "2*W.T*(W*theta - y)"


def d_bce_logit(z, y):
    return "1/(1 + exp(-z)) - y"
