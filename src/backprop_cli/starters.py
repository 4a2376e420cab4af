"""Commented starter configs written by ``backprop init KIND [PATH]``; each traces as written."""

from __future__ import annotations

from .errors import one_line

HEADER = """\
# A {kind} starter written by `backprop init {kind}`. Trace it with
#   backprop trace {path}
# Editor checking and completion: `backprop schema config > config.schema.json`, then make
# the first line of this file
#   # yaml-language-server: $schema=config.schema.json
"""

LINEAR = """\
#
# The source document's smallest example (§4): fit a line to one point.
#   y_hat = w·x + b,   L = ½(y_hat − y)²,   plain gradient descent with η = 0.1
# Step 1 gives y_hat = 1.1, L = 1.805, ∂L/∂w = −3.8, ∂L/∂b = −1.9, then w = 0.88, b = 0.29.
data:                     # constants: a number, a list (vector) or a nested list (matrix)
  x: 2.0                  # the input
  y: 3.0                  # its label
params:                   # what training changes
  w: 0.5                  # initial slope
  b: 0.1                  # initial intercept
graph:                    # the forward computation, one node per entry, inputs first
  - {name: wx, op: mul, args: [w, x]}                     # w·x
  - {name: y_hat, op: add, args: [wx, b]}                 # y_hat = w·x + b
  - {name: L, op: half_squared_error, args: [y_hat, y]}   # L = ½(y_hat − y)²
objective: L              # the scalar to minimise (default: the last node)
optimizer: {name: sgd, lr: 0.1}
steps: 3                  # watch L fall over three steps
"""

MLP = """\
#
# A one-hidden-layer network with a bias and an ℓ2 term, as in the document's §1:
#   z = W1·x + b1,  h = tanh(z),  o = W2·h,  L = ½‖o − y‖²,  s = λ/2·(‖W1‖² + ‖W2‖²),
#   J = L + s
# (`model: {name: mlp, hidden: [3], activation: tanh, bias: true, l2: 0.01}` builds a graph
# like this one for you; `backprop validate` prints what it expands to.)
data:
  x: [0.5, -1.0]          # one example with 2 features (a column vector)
  y: [1.0]                # its target
params:
  W1: {init: xavier, shape: [3, 2], seed: 1}    # hidden × input, seeded: the same every run
  b1: {init: zeros, shape: [3]}
  W2: {init: xavier, shape: [1, 3], seed: 2}    # output × hidden
graph:
  - {name: W1x, op: matmul, args: [W1, x]}                # × node
  - {name: z, op: add, args: [W1x, b1]}                   # + the bias
  - {name: h, op: tanh, args: [z]}                        # φ node (relu, sigmoid or tanh)
  - {name: o, op: matmul, args: [W2, h]}                  # × node
  - {name: L, op: half_squared_error, args: [o, y]}       # the loss
  - {name: s, op: l2, args: [W1, W2], lambda: 0.01}       # ℓ2 node: λ/2·Σ‖W‖²
  - {name: J, op: add, args: [L, s]}                      # two branches join: J = L + s
objective: J
optimizer: {name: sgd, lr: 0.1}
steps: 2
"""

CLASSIFIER = """\
#
# A small two-class classifier on a batch: the columns of X are four examples, Y their classes
# (logical OR). The network gives one logit per class and example; softmax cross-entropy turns
# them into probabilities and averages −log p(true class) over the examples.
data:
  X:                      # 2 features × 4 examples
    - [0.0, 0.0, 1.0, 1.0]
    - [0.0, 1.0, 0.0, 1.0]
  Y: [0, 1, 1, 1]         # the class of each example: 0 or 1
params:
  W1: {init: xavier, shape: [3, 2], seed: 1}
  b1: {init: zeros, shape: [3, 1]}    # 3×1: added to every column (broadcast, summed back)
  W2: {init: xavier, shape: [2, 3], seed: 2}    # 2 classes × 3 hidden
  b2: {init: zeros, shape: [2, 1]}
graph:
  - {name: W1X, op: matmul, args: [W1, X]}        # 3×4: every example at once
  - {name: Z, op: add, args: [W1X, b1]}
  - {name: H, op: tanh, args: [Z]}
  - {name: W2H, op: matmul, args: [W2, H]}        # 2×4
  - {name: logits, op: add, args: [W2H, b2]}      # one column of class scores per example
  - {name: L, op: softmax_cross_entropy, args: [logits, Y]}   # reduction: mean (the default)
objective: L
optimizer: {name: sgd, lr: 0.5}
steps: 3
"""

EXPRESSION = """\
#
# Any scalar expression, node by node, micrograd style. `a` is used twice, so ∂L/∂a is the sum
# of two paths: the trace shows both terms and their total.
#   f = a·tanh(a·x + b),   L = ½(f − y)²
data:
  x: 2.0
  y: 0.8
params:
  a: 0.5
  b: -0.5
graph:
  - {name: ax, op: mul, args: [a, x]}             # a·x
  - {name: u, op: add, args: [ax, b]}             # u = a·x + b
  - {name: t, op: tanh, args: [u]}                # t = tanh(u)
  - {name: f, op: mul, args: [a, t]}              # f = a·t: the second use of a
  - {name: L, op: half_squared_error, args: [f, y]}
objective: L
optimizer: {name: sgd, lr: 0.1}
steps: 1
"""

STARTERS = {"linear": LINEAR, "mlp": MLP, "classifier": CLASSIFIER, "expression": EXPRESSION}


def starter(kind: str, path: str | None = None) -> str:
    # one line: a newline in the file name would end the YAML comment it stands in
    return HEADER.format(kind=kind, path=one_line(path or f"{kind}.yaml")) + STARTERS[kind]
