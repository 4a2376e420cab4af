"""English, the default. Keys are shared by every language (see ``__init__.py``)."""

STRINGS = {
    # ---- a step and its tables --------------------------------------------------------------
    "step.heading": "Step {step} · {objective} = {value}",
    "forward.title": "Forward pass",
    "col.node": "Node",
    "col.equation": "Equation",
    "col.shape": "Shape",
    "col.value": "Value",
    "kind.data": "data",
    "kind.param": "param",
    "kind.frozen": "param (frozen)",
    "shape.scalar": "scalar",
    "backward.title": "Backward pass: upstream × local = global",
    "col.step": "Step",
    "col.target": "Target",
    "col.upstream": "Upstream",
    "col.local": "Local",
    "col.global": "Global",
    "backward.only_node": "rows touching {node} only",
    "sums.title": "Gradients summed over several paths",
    "col.tensor": "Tensor",
    "col.sum": "Sum of terms",
    "updates.title": "Parameter updates ({optimizer}, η = {lr})",
    "col.param": "Param",
    "col.rule": "Rule",
    "col.before": "Before",
    "col.gradient": "Gradient",
    "col.after": "After",
    "updates.frozen": "frozen (not updated): {names}",
    "updates.none": "no trainable params",
    # ---- many steps ----------------------------------------------------------------------
    "summary.title": "{objective} over {steps} steps",
    "summary.sparkline": "{objective} per step: {sparkline}",
    "col.which": "",
    "summary.first": "first",
    "summary.last": "last",
    "summary.best": "best",
    # ---- --explain: one sentence per backward row ------------------------------------------
    "explain.title": "Why",
    "explain.edge.pass": "The {symbol} node hands {upstream} unchanged to {input}{also}: its "
                         "local gradient is 1.",
    "explain.edge.pass.also": " (and the same to {others})",
    "explain.edge.negate": "The − node hands {upstream} to {input} with its sign flipped: the "
                           "local gradient is −1.",
    "explain.edge.product": "At a {symbol} node multiply the upstream gradient by the other "
                            "input, {other}.",
    "explain.edge.matmul.left": "At a × node multiply by the transpose of the other input: "
                                "{upstream} · {other}ᵀ.",
    "explain.edge.matmul.right": "At a × node multiply by the transpose of the other input: "
                                 "{other}ᵀ · {upstream}.",
    "explain.edge.relu": "ReLU lets the gradient through where {input} > 0 and stops it "
                         "elsewhere ({open} of {n} entries pass).",
    "explain.edge.relu.scalar.open": "ReLU lets the gradient through: {input} > 0.",
    "explain.edge.relu.scalar.closed": "ReLU stops the gradient: {input} ≤ 0.",
    "explain.edge.slope": "Multiply elementwise by the slope of {node} = {function}({input}) "
                          "at {input}: {local}.",
    "explain.edge.sum": "A sum hands {upstream} to every element of {input}.",
    "explain.edge.mean": "A mean hands {upstream} to every element of {input}, divided by "
                         "the {n} elements.",
    "explain.edge.error": "The loss's local gradient is the error {local}.",
    "explain.edge.error.low": "The loss's local gradient is the error {local} = {value}: "
                              "negative, the prediction is too low.",
    "explain.edge.error.high": "The loss's local gradient is the error {local} = {value}: "
                               "positive, the prediction is too high.",
    "explain.edge.error.exact": "The loss's local gradient is the error {local} = 0: the "
                                "prediction is exact.",
    "explain.edge.target": "The data tensor {input} is a target, not trained: its gradient "
                           "is recorded but nothing uses it.",
    "explain.edge.l2": "At the ℓ2 node the local gradient is {local}: the regulariser's own "
                       "pull on {input}, towards 0.",
    "explain.edge.terms": " This is term {term} of {terms} of {target}; the other paths add to it.",
    "explain.update.grows": "The gradient is negative, so {param} grows.",
    "explain.update.shrinks": "The gradient is positive, so {param} shrinks.",
    "explain.update.stays": "The gradient is 0, so {param} stays.",
    "explain.update.tensor": "{param} moves against its gradient: {grow} entries grow "
                             "(negative gradient), {shrink} shrink (positive), {stay} stay.",
    # ---- compare -------------------------------------------------------------------------
    "compare.title": "Differences",
}
