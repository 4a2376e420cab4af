"""Broken configs: each gives one exact line on stderr, exit code 2, nothing on stdout."""

from __future__ import annotations

import itertools
import os
import time

import pytest

from backprop_cli import config, yamlsrc

from .helpers import invoke

OK_GRAPH = "graph:\n  - {name: z, op: relu, args: [x]}\n"

# (config text, the exact message after "backprop: error: bad.yaml")
CASES = [
    (
        "",
        ": the file is empty; expected a YAML mapping with a 'graph:' (or 'model:') section",
    ),
    (
        "- 1\n- 2\n",
        ":1:1: expected a YAML mapping at the top level (with 'graph:' or 'model:'), found "
        "the list [1, 2]",
    ),
    (
        "graph: [\n",
        ":2:1: YAML error: expected the node content, but found '<stream end>'",
    ),
    (
        "graph: !!python/object:os.system {}\n",
        ":1:8: YAML error: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/object:os.system'; only plain YAML data is accepted (tags "
        "that build objects are refused)",
    ),
    (
        "data: {x: 1}\ngrpah: []\n",
        ":2:1: grpah: unknown top-level key 'grpah' (did you mean 'graph'?); expected one of "
        "data, params, graph, objective, optimizer, steps, model (and 1 more problem: list "
        "them all with 'backprop validate')",
    ),
    (
        "data: {x: 1}\ngraph:\n  - {name: z, op: matmull, args: [x, x]}\n",
        ":3:19: graph[0].op: node 'z': unknown op 'matmull' (did you mean 'matmul'?); "
        "'backprop ops' lists the 48 ops",
    ),
    (
        "data: {x: 1}\ngraph:\n  - {name: z, op: relu, args: [x, x]}\n",
        ":3:31: graph[0].args: node 'z': relu takes 1 input, found 2",
    ),
    (
        "data: {x: 1}\n"
        "graph:\n"
        "  - {name: z, op: relu, args: [h]}\n"
        "  - {name: h, op: relu, args: [x]}\n",
        ":3:32: graph[0].args[0]: node 'z': input 'h' is defined later, at graph[1]; list a "
        "node after its inputs",
    ),
    (
        "data: {x: 1}\ngraph:\n  - {name: z, op: relu, args: [z]}\n",
        ":3:32: graph[0].args[0]: node 'z': input 'z' is the node itself; a graph has no cycles",
    ),
    (
        "data: {x: 1}\ngraph:\n  - {name: z, op: relu, args: [xx]}\n",
        ":3:32: graph[0].args[0]: node 'z': input 'xx' is undefined; it is not in data, "
        "params or an earlier node (did you mean 'x'?)",
    ),
    (
        "data: {x: 1}\nparams: {w: 1}\ngraph:\n  - {name: w, op: relu, args: [x]}\n",
        ":4:12: graph[0].name: 'w' is already defined (at params.w); a node cannot reuse or "
        "shadow a param",
    ),
    (
        "data: {x: 1}\nparams: {x: 1}\ngraph:\n  - {name: z, op: relu, args: [x]}\n",
        ":2:13: params.x: 'x' is defined twice: in data and in params",
    ),
    (
        "data: {x: [1, 2]}\n"
        "params: {W1: [[1, 2, 3], [4, 5, 6], [1, 1, 1], [2, 2, 2]]}\n"
        "graph:\n"
        "  - {name: z, op: matmul, args: [W1, x]}\n",
        ":4:33: graph[0].args: node 'z' (z = W1·x): W1 has shape 4×3, x has shape 2; matmul "
        "expects the columns of the left operand to match the rows of the right one",
    ),
    (
        "data: {x: [1, 2], y: [1, 2, 3]}\n"
        "graph:\n"
        "  - {name: L, op: half_squared_error, args: [x, y]}\n",
        ":3:45: graph[0].args: node 'L' (L = ½‖x − y‖²): x has shape 2, y has shape 3; "
        "half_squared_error expects the same shape on both sides",
    ),
    (
        "data: {x: [1, 2]}\ngraph:\n  - {name: z, op: relu, args: [x]}\n",
        ":3:5: graph[0]: the objective (by default the last node) 'z' has shape 2, expected a "
        "scalar (reduce it with sum, mean or a loss op)",
    ),
    (
        "data: {x: 1}\ngraph:\n  - {name: z, op: relu, args: [x]}\nobjective: q\n",
        ":4:12: objective: objective 'q' is not a node of the graph; expected the name of the"
        " scalar node to minimise",
    ),
    (
        "data: {x: 1}\ngraph:\n  - {name: z, op: relu, args: [x]}\nobjective: x\n",
        ":4:12: objective: objective 'x' is a data or param tensor, not a node; expected the "
        "name of the scalar node to minimise",
    ),
    (
        "data: {x: [[1, 2], [3]]}\ngraph:\n  - {name: z, op: relu, args: [x]}\n",
        ":1:11: data.x: expected rows of equal length (a rectangular array), but found a "
        "ragged list with row lengths [1, 2]",
    ),
    (
        "data: {x: true}\ngraph:\n  - {name: z, op: relu, args: [x]}\n",
        ":1:11: data.x: expected a number but found the boolean true",
    ),
    (
        "data: {x: [1, abc]}\ngraph:\n  - {name: z, op: relu, args: [x]}\n",
        ":1:11: data.x: expected a number or a list of numbers, but found the string 'abc'",
    ),
    (
        "data: {x: []}\ngraph:\n  - {name: z, op: relu, args: [x]}\n",
        ":1:11: data.x: expected a number or a non-empty list, but found an empty list",
    ),
    (
        "data: {x: 1}\ngraph:\n  - {name: z, op: relu, args: [x]}\nsteps: 0\n",
        ":4:8: steps: expected a whole number of steps from 1 to 1,000,000, found the number 0",
    ),
    (
        "data: {x: 1}\ngraph:\n  - {name: z, op: relu, args: [x]}\nsteps: 2.5\n",
        ":4:8: steps: expected a whole number of steps from 1 to 1,000,000, found the number 2.5",
    ),
    (
        "data: {x: 1}\n"
        "graph:\n"
        "  - {name: z, op: relu, args: [x]}\n"
        "optimizer: {name: sgd, lr: .nan}\n",
        ":4:28: optimizer.lr: lr (the learning rate η): expected a finite number ≥ 0, found "
        "the number nan",
    ),
    (
        "data: {x: 1}\n"
        "graph:\n"
        "  - {name: z, op: relu, args: [x]}\n"
        "optimizer: {name: sgd, lr: fast}\n",
        ":4:28: optimizer.lr: lr (the learning rate η): expected a finite number ≥ 0, found "
        "the string 'fast'",
    ),
    (
        "data: {x: 1}\ngraph:\n  - {name: z, op: relu, args: [x]}\noptimizer: {name: sdg}\n",
        ":4:19: optimizer.name: unknown optimizer 'sdg' (did you mean 'sgd'?); expected one "
        "of sgd, adam, adamw, rmsprop, adagrad",
    ),
    (
        "data: {x: 1}\n"
        "graph:\n"
        "  - {name: z, op: relu, args: [x]}\n"
        "optimizer: {name: sgd, momentun: 0.9}\n",
        ":4:24: optimizer.momentun: unknown sgd option 'momentun' (did you mean 'momentum'?); "
        "expected name, lr, momentum, dampening, nesterov, weight_decay, maximize",
    ),
    (
        "params: {W: 1}\ngraph:\n  - {name: s, op: l2, args: [W], lamda: 0.1}\n",
        ":3:34: graph[0].lamda: node 's': unknown option 'lamda' (did you mean 'lambda'?); l2"
        " takes the options lambda",
    ),
    (
        "params: {W: 1}\ngraph:\n  - {name: s, op: l2, args: [W]}\n",
        ":3:5: graph[0]: node 's': l2 needs the option 'lambda' (the regularisation strength λ)",
    ),
    (
        "params: {W: 1}\ngraph:\n  - {name: s, op: l2, args: [W], lambda: -1}\n",
        ":3:42: graph[0].lambda: node 's': lambda (the regularisation strength λ): expected a "
        "finite number ≥ 0, found the number -1",
    ),
    (
        "data: {x: 1}\ngraph:\n  - {name: z, args: [x]}\n",
        ":3:5: graph[0]: node is missing 'op'; every node has name, op and args",
    ),
    (
        "data: {x: 1}\ngraph:\n  - {name: 2z, op: relu, args: [x]}\n",
        ":3:12: graph[0].name: expected a name made of letters, digits and _ (not starting "
        "with a digit), found the string '2z'",
    ),
    (
        "data: {x: 1}\ngraph: []\n",
        ":2:8: graph: expected a non-empty list of nodes such as {name: z, op: matmul, args: "
        "[W1, x]}, found the list []",
    ),
    (
        "params: {W: {init: gaussian, shape: [2, 2]}}\ngraph:\n  - {name: s, op: sum, args: [W]}\n",
        ":1:20: params.W.init: unknown init 'gaussian'; expected one of zeros, normal, "
        "uniform, xavier",
    ),
    (
        "params: {W: {init: normal, shape: [2, -2]}}\ngraph:\n  - {name: s, op: sum, args: [W]}\n",
        ":1:35: params.W.shape: expected a list of positive whole numbers such as [4, 3], "
        "found the list [2, -2]",
    ),
    (
        "params: {W: {value: 1, init: zeros}}\ngraph:\n  - {name: s, op: sum, args: [W]}\n",
        ":1:24: params.W.init: 'init' goes with 'init:', not with 'value:'; give one or the other",
    ),
    (
        "params: {W: {value: 1, trainable: maybe}}\ngraph:\n  - {name: s, op: sum, args: [W]}\n",
        ":1:35: params.W.trainable: expected true or false, found the string 'maybe'",
    ),
    (
        "data: {x: [1, 2], y: [1]}\nmodel: {name: mlp, hiden: 3}\n",
        ":2:20: model.hiden: unknown mlp model option 'hiden' (did you mean 'hidden'?); "
        "expected name, input, target, loss, hidden, outputs, activation, bias, l1, l2, "
        "init, seed",
    ),
    (
        "data: {x: [1, 2], y: [1]}\nmodel: {name: mlp, activation: softmax}\n",
        ":2:32: model.activation: expected an activation (relu, sigmoid, tanh, leaky_relu, "
        "elu, softplus, gelu), or a list of 1 of them (one per layer), found the string "
        "'softmax'",
    ),
    (
        "data: {x: [1, 2], y: [1]}\nmodel: {name: perceptron}\n",
        ":2:15: model.name: unknown model 'perceptron'; expected one of linear, mlp, rnn, cnn",
    ),
    (
        "data: {inputs: [1, 2], y: [1]}\nmodel: {name: mlp}\n",
        ":2:8: model.input: the model's input is 'x', but data has no 'x'; add it under data:"
        " or name it with model.input",
    ),
    (
        "data: {x: [1, 2], y: [1]}\nparams: {W1: [[1, 2]]}\nmodel: {name: mlp, hidden: [4]}\n",
        ":2:14: params.W1: the model needs 'W1' of shape 4×2, found 1×2",
    ),
    (
        "data: {x: [1, 2], y: [1]}\nmodel: mlp\ngraph: []\n",
        ":3:1: graph: a config has either 'model:' or 'graph:', not both; 'model:' expands "
        "into the graph",
    ),
    (
        "data: {x: 1}\n"
        "graph:\n"
        "  - {name: a, op: add, args: [x, c]}\n"
        "  - {name: b, op: relu, args: [a]}\n"
        "  - {name: c, op: relu, args: [b]}\n",
        ":3:34: graph[0].args[1]: node 'a': input 'c' makes a cycle: 'a', which uses 'c', "
        "which uses 'b', which uses 'a'; a graph has no cycles",
    ),
    (
        "data: {x: 1}\n"
        "graph:\n"
        "  - {name: z, op: relu, args: [x]}\n"
        "  - {name: z, op: relu, args: [x]}\n",
        ":4:12: graph[1].name: 'z' is already defined (at graph[0]); a node cannot reuse "
        "or shadow a name",
    ),
    (
        "data: {x: 1}\ngraph:\n  - {name: z, op: relu, args: [x]}\nsteps: true\n",
        ":4:8: steps: expected a whole number of steps from 1 to 1,000,000, found the boolean true",
    ),
    (
        "data: {x: 1}\ngraph:\n  - {name: z, op: relu, args: [x]}\nsteps: 2000000\n",
        ":4:8: steps: expected at most 1,000,000 steps, found the number 2000000",
    ),
    (
        "data: {x: 1}\ngraph:\n  - {name: z, op: relu, args: [x]}\noptimizer: {lr: -0.1}\n",
        ":4:17: optimizer.lr: lr (the learning rate η): expected a finite number ≥ 0, found "
        "the number -0.1",
    ),
    (
        "data: {x: 1}\ngraph:\n  - {name: z, op: relu, args: [x]}\noptimizer: {lr: .inf}\n",
        ":4:17: optimizer.lr: lr (the learning rate η): expected a finite number ≥ 0, found "
        "the number inf",
    ),
    (
        "data: [1, 2]\ngraph:\n  - {name: z, op: relu, args: [x]}\n",
        ":1:7: data: expected 'data:' (a mapping of name: value), found the list [1, 2] "
        "(and 1 more problem: list them all with 'backprop validate')",
    ),
    (
        "params: 3\ngraph:\n  - {name: z, op: relu, args: [x]}\n",
        ":1:9: params: expected 'params:' (a mapping of name: value), found the number 3 "
        "(and 1 more problem: list them all with 'backprop validate')",
    ),
    (
        "data: {x: 1}\ngraph:\n  - relu(x)\n",
        ":3:5: graph[0]: expected a node mapping such as {name: z, op: matmul, args: [W1, "
        "x]}, found the string 'relu(x)'",
    ),
    (
        "data: {x: 1}\ngraph:\n  - {name: z, op: relu, args: 5}\n",
        ":3:31: graph[0].args: node 'z': expected a list of input names, found the number 5",
    ),
    (
        "data: {x: 1}\ngraph:\n  - {name: s, op: l2, args: [], lambda: 0.1}\n",
        ":3:29: graph[0].args: node 's': l2 takes one or more inputs, found 0",
    ),
    (
        "params: {W: {valu: 1}}\ngraph:\n  - {name: s, op: sum, args: [W]}\n",
        ":1:14: params.W.valu: unknown param field 'valu' (did you mean 'value'?); "
        "expected value (with trainable) or init, shape, seed, scale (and 1 more problem: "
        "list them all with 'backprop validate')",
    ),
    (
        "params: {W: {trainable: false}}\ngraph:\n  - {name: s, op: sum, args: [W]}\n",
        ":1:13: params.W: expected 'value:' or 'init:' in a param mapping",
    ),
    (
        "params: {W: {init: normal, shape: [2], seed: -1}}\n"
        "graph:\n"
        "  - {name: s, op: sum, args: [W]}\n",
        ":1:46: params.W.seed: expected a whole number ≥ 0, found the number -1",
    ),
    (
        "params: {W: {init: normal, shape: [2], scale: 0}}\n"
        "graph:\n"
        "  - {name: s, op: sum, args: [W]}\n",
        ":1:47: params.W.scale: expected a number > 0, found the number 0",
    ),
    (
        "params: {W: {init: zeros, shape: [10001, 1000]}}\n"
        "graph:\n"
        "  - {name: s, op: sum, args: [W]}\n",
        ":1:34: params.W.shape: expected at most 10,000,000 elements, found shape 10001×1000",
    ),
    (
        "data: {x: " + "[" * 70 + "1" + "]" * 70 + "}\ngraph:\n  - {name: s, op: sum, args: [x]}\n",
        ":1:73: lists and mappings are nested more than 64 levels deep",
    ),
    (
        "data: {x: 1, y: 2, x: 3}\ngraph:\n  - {name: s, op: sum, args: [x]}\n",
        ":1:20: data.x: duplicate key 'x' (first at line 1, column 8); a key is given once",
    ),
    (
        "data: {[x]: 1}\ngraph:\n  - {name: s, op: sum, args: [x]}\n",
        ":1:8: YAML error: a mapping key is a list or a mapping; expected a name",
    ),
    (
        "data: {x: 1}\x00\ngraph:\n  - {name: s, op: sum, args: [x]}\n",
        ":1:13: YAML error: character 0x0000 is not allowed in YAML",
    ),
    (
        "params: {W: 1}\ngraph:\n  - {name: s, op: l2, args: [W], lambda: true}\n",
        ":3:42: graph[0].lambda: node 's': lambda (the regularisation strength λ): expected "
        "a finite number ≥ 0, found the boolean true",
    ),
    (
        "params: {W: {value: {a: 1}}}\ngraph:\n  - {name: s, op: sum, args: [W]}\n",
        ":1:21: params.W.value: expected a number or a list of numbers, but found a mapping",
    ),
    (
        "data: {x: null}\ngraph:\n  - {name: s, op: sum, args: [x]}\n",
        ":1:11: data.x: expected a number or a list of numbers, but found nothing (null)",
    ),
    (
        "data: {x: [1, 2], y: [1]}\nmodel: 3\n",
        ":2:8: model: expected a mapping such as {name: mlp, hidden: [4]}, found the number 3",
    ),
    (
        "data: {x: [1, 2], y: [1]}\nmodel: {name: mlp, hidden: [0]}\n",
        ":2:28: model.hidden: expected 1 to 100 hidden layer sizes such as [4] or [8, 8], "
        "found the list [0]",
    ),
    (
        "data: {x: [1, 2], y: [1]}\nmodel: {name: mlp, hidden: [100000, 1000]}\n",
        ":2:28: model.hidden: 'W2' would be 1000×100000; expected at most 10,000,000 "
        "elements per param",
    ),
    (
        "data: {x: [1, 2], y: [1]}\nmodel: {name: mlp, bias: 1}\n",
        ":2:26: model.bias: expected true or false, or a list of 2 of them (one per layer), "
        "found the number 1",
    ),
    (
        "data: {x: [1, 2], y: [1]}\nmodel: {name: mlp, seed: -1}\n",
        ":2:26: model.seed: expected a whole number ≥ 0, found the number -1",
    ),
    (
        "data: {x: [1, 2], y: [1]}\nmodel: {name: mlp, l2: -1}\n",
        ":2:24: model.l2: expected λ, a finite number ≥ 0, found the number -1",
    ),
    (
        "data: {x: [1, 2], y: [1]}\nmodel: {name: mlp, input: [x]}\n",
        ":2:27: model.input: expected the name of a data tensor, found the list ['x']",
    ),
    (
        "data: {x: 1}\ngraph:\n  - {name: z, op: relu, args: [x]}\noptimizer: 5\n",
        ":4:12: optimizer: expected 'optimizer:' (a mapping of name: value), found the number 5",
    ),
    (
        "data: {x: 1}\ngraph:\n  - {name: null, op: relu, args: [x]}\n",
        ":3:12: graph[0].name: expected a name made of letters, digits and _ (not "
        "starting with a digit), found nothing (null)",
    ),
    (
        "data: {x: 1}\n---\ngraph: []\n",
        ":2:1: YAML error: expected a single document in the stream, but found another document",
    ),
    (
        "data:\n\tx: 1\n",
        ":2:1: YAML error: found character '\\t' that cannot start any token",
    ),
    (
        "graph: !!python/name:os.system\n",
        ":1:8: YAML error: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/name:os.system'; only plain YAML data is accepted "
        "(tags that build objects are refused)",
    ),
    (
        "data: {x: [1, 2]}\n"
        "graph:\n"
        "  - {name: z, op: relu, args: [x]}\n"
        "  - {name: s, op: sum, args: [z]}\n"
        "objective: z\n",
        ":5:12: objective: objective 'z' has shape 2, expected a scalar (reduce it with "
        "sum, mean or a loss op)",
    ),
    (
        "data: {x: [1, 2], y: [1, 2, 3]}\ngraph:\n  - {name: z, op: add, args: [x, y]}\n",
        ":3:30: graph[0].args: node 'z' (z = x + y): x has shape 2, y has shape 3; add "
        "expects shapes that broadcast against each other",
    ),
    (
        "data: {x: 2, y: 3}\ngraph:\n  - {name: z, op: matmul, args: [x, y]}\n",
        ":3:33: graph[0].args: node 'z' (z = x·y): x is a scalar, y is a scalar; matmul "
        "expects vectors or matrices (use mul for scalars)",
    ),
    (
        "data: {x: [1, 2], y: [1]}\nmodel: {name: linear, loss: cross_entropy}\n",
        ":2:29: model.loss: unknown loss 'cross_entropy'; expected one of half_squared_error, mse",
    ),
    (
        "data: {x: 1}\ngraph:\n  - {name: z, op: relu, args: [x], name: q}\n",
        ":3:36: graph[0].name: duplicate key 'name' (first at line 3, column 6); a key is "
        "given once",
    ),
    (
        "data: {x: 1}\ngraph:\n  - {name: z, op: relu, args: [x]}\nsteps: -3\n",
        ":4:8: steps: expected a whole number of steps from 1 to 1,000,000, found the number -3",
    ),
]


@pytest.mark.parametrize(("text", "message"), CASES, ids=[str(i) for i in range(len(CASES))])
def test_config_error(text: str, message: str, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.yaml").write_text(text, encoding="utf-8")
    result = invoke("trace", "bad.yaml")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"backprop: error: bad.yaml{message}\n"


def test_messages_are_distinct() -> None:
    messages = [m for _, m in CASES]
    assert len(set(messages)) == len(messages)


def test_validate_lists_every_problem(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.yaml").write_text("data: {x: true}\ngrpah: 1\nsteps: -1\n", encoding="utf-8")
    result = invoke("validate", "bad.yaml")
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines == [
        "backprop: error: bad.yaml:2:1: grpah: unknown top-level key 'grpah' (did you mean "
        "'graph'?); expected one of data, params, graph, objective, optimizer, steps, model",
        "backprop: error: bad.yaml:1:11: data.x: expected a number but found the boolean true",
        "backprop: error: bad.yaml:1:1: missing 'graph:' (the list of nodes to compute) or "
        "'model:'",
        "backprop: error: bad.yaml:3:8: steps: expected a whole number of steps from 1 to "
        "1,000,000, found the number -1",
    ]


def test_validate_checks_inputs_after_an_unknown_op(tmp_path, monkeypatch) -> None:
    """A node with an unknown op does not hide the problems of the nodes after it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "typos.yaml").write_text(
        "data: {x: 2.0, y: 3.0}\n"
        "params: {w: 0.5, b: 0.1}\n"
        "graph:\n"
        "  - {name: p, op: mull, args: [w, x]}\n"
        "  - {name: q, op: add, args: [p, bb]}\n"
        "  - {name: L, op: half_squared_error, args: [q, y]}\n"
        "optimiser: {name: sgd, lr: 0.1}\n",
        encoding="utf-8",
    )
    result = invoke("validate", "typos.yaml")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "backprop: error: typos.yaml:7:1: optimiser: unknown top-level key 'optimiser' (did you "
        "mean 'optimizer'?); expected one of data, params, graph, objective, optimizer, steps, "
        "model",
        "backprop: error: typos.yaml:4:19: graph[0].op: node 'p': unknown op 'mull' (did you "
        "mean 'mul'?); 'backprop ops' lists the 48 ops",
        "backprop: error: typos.yaml:5:34: graph[1].args[1]: node 'q': input 'bb' is undefined; "
        "it is not in data, params or an earlier node (did you mean 'b'?)",
    ]


def test_validate_lists_every_undefined_input_of_a_node(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "two.yaml").write_text(
        "data: {x: 2.0}\ngraph:\n  - {name: q, op: add, args: [aa, bb]}\n", encoding="utf-8"
    )
    lines = invoke("validate", "two.yaml").stderr.splitlines()
    assert [line.split(": node")[0] for line in lines] == [
        "backprop: error: two.yaml:3:31: graph[0].args[0]",
        "backprop: error: two.yaml:3:35: graph[0].args[1]",
    ]


def test_validate_lists_every_problem_of_a_model(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.yaml").write_text(
        "data: {x: [1.0, 2.0], y: [1.0]}\n"
        "model: {name: mlp, hidden: [3], activation: rleu, loss: mse, seed: -1, l2: -0.5,"
        " colour: red}\n"
        "optimizer: {name: sgd, lr: -1}\n",
        encoding="utf-8",
    )
    result = invoke("validate", "model.yaml")
    assert result.exit_code == 2
    fields = [line.split(": ")[3] for line in result.stderr.splitlines()]
    assert fields == [
        "model.colour",
        "model.activation",
        "model.seed",
        "model.l2",
        "optimizer.lr",
    ]


def test_validate_prints_the_expanded_graph() -> None:
    from .conftest import CONFIGS

    result = invoke("validate", str(CONFIGS / "seed_mlp_l2_model.yaml"))
    assert result.exit_code == 0
    for text in (
        "z = W1·x",
        "h = relu(z)",
        "o = W2·h",
        "L = ½‖o − y‖²",
        "J = L + s",
        "objective J",
    ):
        assert text in result.stdout


def test_directory_and_non_utf8(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dir.yaml").mkdir()
    (tmp_path / "latin1.yaml").write_bytes(b"graph: \xff\n")
    assert (
        invoke("trace", "dir.yaml").stderr
        == "backprop: error: dir.yaml: is a directory; expected a YAML config file\n"
    )
    assert (
        invoke("trace", "latin1.yaml").stderr
        == "backprop: error: latin1.yaml: is not UTF-8 text (byte 7); expected a YAML config file\n"
    )


@pytest.mark.parametrize("text", ["# only a comment\n", "\n   \n", "---\n"])
def test_a_file_without_content_is_empty(text: str, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.yaml").write_text(text, encoding="utf-8")
    result = invoke("trace", "bad.yaml")
    assert result.exit_code == 2
    assert (
        result.stderr == "backprop: error: bad.yaml: the file is empty; expected a YAML "
        "mapping with a 'graph:' (or 'model:') section\n"
    )


def test_unreadable_file(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "secret.yaml"
    path.write_text(OK_GRAPH, encoding="utf-8")
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):  # root reads every file: nothing to test
            pytest.skip("running with permission to read a mode-000 file (root)")
        result = invoke("trace", "secret.yaml")
    finally:
        path.chmod(0o644)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert (
        result.stderr
        == "backprop: error: secret.yaml: permission denied; the file cannot be read\n"
    )


def test_validate_lists_all_three_problems(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "three.yaml").write_text(
        "data: {x: [1, 2]}\n"
        "graph:\n"
        "  - {name: z, op: relu, args: [xx]}\n"
        "  - {name: s, op: summ, args: [x]}\n"
        "steps: 0\n",
        encoding="utf-8",
    )
    result = invoke("validate", "three.yaml")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "backprop: error: three.yaml:3:32: graph[0].args[0]: node 'z': input 'xx' is undefined;"
        " it is not in data, params or an earlier node (did you mean 'x'?)",
        "backprop: error: three.yaml:4:19: graph[1].op: node 's': unknown op 'summ' (did you "
        "mean 'sum'?); 'backprop ops' lists the 48 ops",
        "backprop: error: three.yaml:5:8: steps: expected a whole number of steps from 1 to "
        "1,000,000, found the number 0",
    ]
    # trace stops at the first and says how to see the others
    traced = invoke("trace", "three.yaml")
    assert traced.exit_code == 2
    assert traced.stderr.endswith("(and 2 more problems: list them all with 'backprop validate')\n")


def _bomb(levels: int = 8, section: str = "data") -> str:
    """A billion-laughs file: each anchor repeats the one before nine times."""
    lines = ["a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    names = "abcdefghij"
    for prev, name in itertools.pairwise(names[: levels + 1]):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return f"{section}:\n" + "\n".join("  " + line for line in lines) + "\n"


def test_alias_bomb_is_refused_quickly(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    text = _bomb(6) + "graph:\n  - {name: s, op: sum, args: [g]}\n"  # g: 9⁷ numbers
    (tmp_path / "bomb.yaml").write_text(text, encoding="utf-8")
    start = time.monotonic()
    result = invoke("trace", "bomb.yaml")
    assert time.monotonic() - start < 5
    assert result.exit_code == 2
    assert (
        result.stderr == "backprop: error: bomb.yaml:8:6: data.g: expected at most "
        "1,000,000 numbers in all the literal arrays of a file (counted after YAML aliases are "
        "expanded)\n"
    )


@pytest.mark.parametrize(
    "field",
    [
        "steps: *h",
        "graph: *h",
        "graph: [*h]",
        "objective: *h",
        "optimizer: *h",
        "optimizer: {lr: *h}",
        "model: *h",
        "model: {name: *h}",
        "model: {name: mlp, hidden: *h}",
        "params: *h",
        "params: {w: *h}",
        "params: {w: {init: zeros, shape: *h}}",
        "graph: [{name: *h, op: sum, args: [a]}]",
        "graph: [{name: s, op: *h, args: [a]}]",
        "graph: [{name: s, op: sum, args: *h}]",
        "graph: [{name: s, op: l2, args: [a], lambda: *h}]",
    ],
)
def test_alias_bomb_anywhere_ends_quickly(field: str, tmp_path, monkeypatch) -> None:
    """Messages describe a value without expanding it: a bomb is never walked in full."""
    monkeypatch.chdir(tmp_path)
    # The anchors sit under an unknown key (reported, never walked); the field uses the bomb.
    (tmp_path / "bomb.yaml").write_text(_bomb(section="defs") + field + "\n", encoding="utf-8")
    start = time.monotonic()
    result = invoke("validate", "bomb.yaml")
    assert time.monotonic() - start < 5
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("backprop: error: bomb.yaml:")


def test_too_many_yaml_values(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(yamlsrc, "MAX_NODES", 20)
    (tmp_path / "big.yaml").write_text(
        "data:\n  x: [" + ", ".join(["1"] * 30) + "]\n", encoding="utf-8"
    )
    result = invoke("trace", "big.yaml")
    assert result.exit_code == 2
    assert (
        result.stderr == "backprop: error: big.yaml:2:52: the file holds more than 20 YAML "
        "values; a config is expected to be smaller\n"
    )


def test_a_file_too_large_to_read(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(config, "MAX_FILE_BYTES", 100)
    (tmp_path / "big.yaml").write_text("# " + "x" * 200 + "\n", encoding="utf-8")
    result = invoke("trace", "big.yaml")
    assert result.exit_code == 2
    assert (
        result.stderr == "backprop: error: big.yaml: the file has 203 bytes; expected a "
        "config of at most 100 bytes\n"
    )


def test_an_empty_file_name() -> None:
    result = invoke("trace", "")
    assert result.exit_code == 2
    assert result.stderr == "backprop: error: '': no such file\n"


def test_control_characters_in_a_message_are_escaped(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.yaml").write_text('"a\\nb\\e[31m": 1\n' + OK_GRAPH, encoding="utf-8")
    result = invoke("trace", "bad.yaml")
    assert result.exit_code == 2
    assert result.stderr == (
        "backprop: error: bad.yaml:1:1: a\\nb\\x1b[31m: unknown top-level key 'a\\nb\\x1b[31m'; "
        "expected one of data, params, graph, objective, optimizer, steps, model (and 1 more "
        "problem: list them all with 'backprop validate')\n"
    )


def test_the_readme_shows_a_real_message(tmp_path, monkeypatch) -> None:
    from .conftest import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    text, _message = next(c for c in CASES if "W1 has shape 4×3" in c[1])
    (tmp_path / "bad.yaml").write_text(text, encoding="utf-8")
    line = invoke("trace", "bad.yaml").stderr
    assert f"\n{line}" in readme


def test_a_file_that_fails_to_read(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.yaml").write_text(OK_GRAPH, encoding="utf-8")

    def failing_open(*args, **kwargs):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(config.files, "open_input", failing_open)
    result = invoke("trace", "bad.yaml")
    assert result.exit_code == 2
    assert result.stderr == "backprop: error: bad.yaml: cannot be read: Input/output error\n"


def test_an_array_nested_too_deep(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.yaml").write_text(
        "data: {x: " + "[" * 9 + "1" + "]" * 9 + "}\n" + OK_GRAPH, encoding="utf-8"
    )
    result = invoke("validate", "bad.yaml")
    assert result.exit_code == 2
    assert (
        result.stderr == "backprop: error: bad.yaml:1:11: data.x: expected at most 8 levels "
        "of nesting\n"
    )
