# Correct answers written as strings with the student's own parameter names (not the contract's): a string
# answer's names are the parameters of the student's function (shared/CONVENTIONS.md).


def d_sigmoid(t):
    return "exp(-t) / (1 + exp(-t))^2"


def d_tanh(u):
    return "1 - tanh(u)^2"


def d_relu(s):
    return "Heaviside(s, 0)"


def d_softplus(a):
    return "1 / (1 + exp(-a))"


def grad_affine(weights, inputs, bias):
    return "weights"


def grad_sq_norm(v):
    return "2 v"


def grad_least_squares(A, p, b):
    return "2 A.T (A p - b)"


def d_bce_logit(logit, label):
    return "sigmoid(logit) - label"
