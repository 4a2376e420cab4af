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
    "tensor.head": "{shape} tensor",
    "tensor.no_finite": ", no finite values",
    "tensor.stats": "mean {mean}  std {std}\nmin {min}  max {max}",
    "tensor.non_finite": "{count} non-finite",
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
    "updates.title": "Parameter updates ({optimizer})",
    "col.param": "Param",
    "col.rule": "Rule",
    "col.before": "Before",
    "col.gradient": "Gradient",
    "col.state": "State after the step",
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
    # Formulas and names arrive as placeholders, already typeset for the output format.
    "explain.title": "Why",
    "explain.edge.pass": "The {symbol} node hands {upstream} unchanged to {input}{also}: its "
    "local gradient is 1.",
    "explain.edge.pass.also": " (and the same to {others})",
    "explain.edge.negate": "The {symbol} node hands {upstream} to {input} with its sign "
    "flipped: the local gradient is {minus_one}.",
    "explain.edge.product": "At a {symbol} node multiply the upstream gradient by the other "
    "input, {other}.",
    "explain.edge.matmul": "At a {symbol} node multiply by the transpose of the other input: "
    "{global_}.",
    "explain.edge.relu": "ReLU lets the gradient through where {open_condition} and stops it "
    "elsewhere ({open} of {n} entries pass).",
    "explain.edge.relu.scalar.open": "ReLU lets the gradient through: {open_condition}.",
    "explain.edge.relu.scalar.closed": "ReLU stops the gradient: {closed_condition}.",
    "explain.edge.slope": "Multiply elementwise by the slope of {function} at {input}: {local}.",
    "explain.edge.sum": "A sum hands {upstream} back to every element of {input} it added up.",
    "explain.edge.mean": "A mean hands {upstream} back to every element of {input} it "
    "averaged, times {local}.",
    "explain.edge.max": "A max hands {upstream} back to the largest element of {input} only "
    "(ties share it): {local}.",
    "explain.edge.pick": "{function} takes each entry from one input: the gradient goes to "
    "{input} where its entry was taken (ties share it): {local}.",
    "explain.edge.stop": "{function} passes nothing back to {input}: its local gradient is 0 "
    "by definition, so {input}'s value acts as a constant here.",
    "explain.edge.jacobian": "{function} mixes the entries of {input}, so the upstream gradient "
    "meets its whole Jacobian {local}, not one slope per entry.",
    "explain.edge.rearrange": "{function} only moves entries around: the gradient goes back "
    "unchanged, to the places they came from in {input}.",
    "explain.edge.cross_entropy": "The cross-entropy's local gradient is the predicted minus "
    "the true probabilities: {local}.",
    "explain.edge.error": "The loss's local gradient is the error {local}.",
    "explain.edge.error.low": "The loss's local gradient is the error {error}: negative, the "
    "prediction is too low.",
    "explain.edge.error.high": "The loss's local gradient is the error {error}: positive, the "
    "prediction is too high.",
    "explain.edge.error.exact": "The loss's local gradient is the error {error}: the "
    "prediction is exact.",
    "explain.edge.target": "{input} is data, the true label: its gradient is recorded, but "
    "nothing is trained with it.",
    "explain.edge.l2": "At the {symbol} node the local gradient is {local}: the regulariser's "
    "own pull on {input}, towards 0.",
    "explain.edge.l1": "At the {symbol} node the local gradient is {local}: a pull of the same "
    "size on every nonzero entry of {input}, towards 0.",
    "explain.edge.conv": "A convolution's gradient is again a correlation: each entry of "
    "{input} collects the upstream gradient of every output whose window it was in, {global_}.",
    "explain.edge.bias": "{input} was added at every position of its channel, so its gradient "
    "sums the upstream gradient over those positions: {global_}.",
    "explain.edge.scale": "{input} scaled the normalised values at every position, so its "
    "gradient sums the upstream gradient times those values over the positions: {global_}.",
    "explain.edge.pool_max": "Max pooling hands each window's gradient to the entry of {input} "
    "that was the window's maximum (on a tie the first in row-major order, as PyTorch); an "
    "entry in several windows adds up what it receives.",
    "explain.edge.pool_avg": "Average pooling shares each window's gradient among the entries "
    "of {input} it averaged, each getting 1/window size; an entry in several windows adds up "
    "what it receives.",
    "explain.edge.norm": "The mean and variance are computed from {input} itself, so every "
    "entry's gradient depends on its whole group: {global_}.",
    "explain.edge.mask": "{function} passes the gradient where the key does not come after the "
    "query; the masked entries were minus infinity, and their gradient is 0.",
    "explain.edge.embedding": "Each column of the output is a row of {input}: the gradient goes "
    "back to the rows that were looked up, and an id used several times sums its columns.",
    "explain.edge.ids": "{input} holds integer ids, labels rather than numbers: they get no "
    "gradient.",
    "explain.edge.dropout": "Dropout passes the gradient, scaled, where its mask kept the "
    "entry, and stops it where the entry was dropped: {local}.",
    "explain.edge.unbroadcast": " {input} was broadcast in the forward pass, so the "
    "gradient is summed back to its shape.",
    "explain.edge.terms": " This is term {term} of {terms} of {target}; the other paths add to it.",
    "explain.update.grows": "The gradient is negative ({grad}), so {param} grows: {move}.",
    "explain.update.shrinks": "The gradient is positive ({grad}), so {param} shrinks: {move}.",
    "explain.update.grows.ascent": "The gradient is positive ({grad}) and the objective is "
    "maximised, so {param} grows: {move}.",
    "explain.update.shrinks.ascent": "The gradient is negative ({grad}) and the objective is "
    "maximised, so {param} shrinks: {move}.",
    "explain.update.tensor.ascent": "{param}: {grow} entries grow, {shrink} shrink, {stay} do "
    "not move; {against} of the {moved} that move go along their gradient (maximize).",
    "explain.update.stays": "{param} does not move: {move}.",
    "explain.update.grows_by_state": "{param} grows ({move}) although its gradient is "
    "{grad}: the optimiser's state (momentum, running "
    "averages) carries it.",
    "explain.update.shrinks_by_state": "{param} shrinks ({move}) although its gradient is "
    "{grad}: the optimiser's state (momentum, running "
    "averages) carries it.",
    "explain.update.tensor": "{param}: {grow} entries grow, {shrink} shrink, {stay} do not "
    "move; {against} of the {moved} that move go against their "
    "gradient.",
    # ---- compare -------------------------------------------------------------------------
    "compare.title": "Paths that differ",
    "compare.col.path": "Path",
    "compare.col.expected": "Expected ({expected})",
    "compare.col.actual": "Actual ({actual})",
    "compare.tolerance": "rtol {rtol}, atol {atol}",
    "compare.same": "{actual} matches {expected} ({read}; {tolerance})",
    "compare.more": "… and {more} more (show them with --max-rows)",
    "compare.differ": "{actual} differs from {expected} at {count} path(s) ({read}; {tolerance})",
    "compare.read": "schema_version {version}, {form}",
    "compare.read.two": "{actual} against {expected}",
    "compare.read.as_v1": ", compared as schema_version 1",
    # ---- a trace stopped by a numerical anomaly ---------------------------------------------
    "anomaly.heading": "Step {step} · numerical anomaly in the {pass_name} pass",
    "anomaly.pass.forward": "forward",
    "anomaly.pass.backward": "backward",
    "anomaly.pass.update": "update",
    "anomaly.not_finite": "Not finite",
    "anomaly.elements": "Elements",
    "anomaly.count": "{bad} of {size} ({counts}): {elements}",
    "anomaly.input": "Input {name}",
    "anomaly.note": "The trace stops here (exit code 3); --allow-nonfinite traces on and marks "
    "non-finite values with ⚠.",
    "anomaly.note.document": "The trace stops here (exit code 3); --allow-nonfinite traces on.",
    # ---- layout of the tables -----------------------------------------------------------------
    "backward.to": "→ {input}",
    "backward.unreached": "no gradient reaches {names} from {objective}: evaluated, but not "
    "used by the objective",
    "backward.data_hidden": "gradients of data ({names}) are not shown; --data-grads shows them",
    "tensor.corners": "corners  {corners}",
    "layout.summarised": "tensors too wide for {width} columns are summarised; --full shows them whole",
    # ---- how to read the sparkline of a run of many steps ---------------------------------
    "summary.title.one": "{objective} over {steps} step",
    "summary.marks": "Each mark is the mean of {steps} steps.",
    "summary.scale.log": "Log scale: ▁ is {low}, █ is {high}.",
    "summary.scale.log_zero": "Log scale: ▁ is {low} (or 0), █ is {high}.",
    "summary.nonfinite": "{mark} marks where {objective} was NaN or ±Inf at least once.",
    # ---- backprop report: the interactive page ---------------------------------------------
    "report.title": "Backpropagation step by step: {config}",
    "report.step": "Training step",
    "report.prev": "← Back",
    "report.next": "Next →",
    "report.mode.backward": "Backward pass",
    "report.mode.forward": "Forward pass",
    "report.large": "Large type",
    "report.keys": "ArrowRight and ArrowLeft (or the buttons) move through the pass one edge at a time; the button beside them switches between the backward and the forward pass. Hover a node for its value, gradient and shape.",
    "report.position.backward": "edge {i} of {n}",
    "report.position.forward": "node {i} of {n}",
    "report.start": "Start at the objective: {formula}",
    "report.edge": "Edge {i} of {n}: {equation}, to {input}",
    "report.node": "Node {i} of {n}: {equation}",
    "report.complete": "{target} is complete, the sum of its {terms} terms:",
    "report.legend": "Squares are tensors (blue: parameters), circles are operators; data flows left to right.",
    "report.layout.dot": "Laid out by Graphviz.",
    "report.layout.fallback": "Graphviz (dot) was not found: a simple layered layout drawn by backprop-cli instead (fallback).",
    "report.plot": "{objective} per training step",
    "report.sampled": "The page holds the tables of {shown} of the {total} steps (the first, evenly spaced ones and the last); the plot shows every step.",
}
