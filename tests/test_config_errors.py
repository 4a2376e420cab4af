"""Broken configs: each gives one exact line on stderr, exit code 2, nothing on stdout."""

from __future__ import annotations

import pytest

from .helpers import invoke

OK_GRAPH = "graph:\n  - {name: z, op: relu, args: [x]}\n"

# (config text, the exact message after "backprop: error: bad.yaml")
CASES = [
    (
        '',
        ": the file is empty; expected a YAML mapping with a 'graph:' (or 'model:') section",
    ),
    (
        '- 1\n'
        '- 2\n',
        ":1:1: expected a YAML mapping at the top level (with 'graph:' or 'model:'), found "
        'the list [1, 2]',
    ),
    (
        'graph: [\n',
        ":2:1: YAML error: expected the node content, but found '<stream end>'",
    ),
    (
        'graph: !!python/object:os.system {}\n',
        ':1:8: YAML error: could not determine a constructor for the tag '
        "'tag:yaml.org,2002:python/object:os.system'; only plain YAML data is accepted (tags "
        'that build objects are refused)',
    ),
    (
        'data: {x: 1}\n'
        'grpah: []\n',
        ":2:1: grpah: unknown top-level key 'grpah' (did you mean 'graph'?); expected one of "
        'data, params, graph, objective, optimizer, steps, model (and 1 more problem: list '
        "them all with 'backprop validate')",
    ),
    (
        'data: {x: 1}\n'
        'graph:\n'
        '  - {name: z, op: matmull, args: [x, x]}\n',
        ":3:19: graph[0].op: node 'z': unknown op 'matmull' (did you mean 'matmul'?); "
        "'backprop ops' lists the 31 ops",
    ),
    (
        'data: {x: 1}\n'
        'graph:\n'
        '  - {name: z, op: relu, args: [x, x]}\n',
        ":3:31: graph[0].args: node 'z': relu takes 1 input, found 2",
    ),
    (
        'data: {x: 1}\n'
        'graph:\n'
        '  - {name: z, op: relu, args: [h]}\n'
        '  - {name: h, op: relu, args: [x]}\n',
        ":3:32: graph[0].args[0]: node 'z': input 'h' is undefined; it is defined later, at "
        'graph[1]; a node comes after its inputs (a graph has no cycles)',
    ),
    (
        'data: {x: 1}\n'
        'graph:\n'
        '  - {name: z, op: relu, args: [z]}\n',
        ":3:32: graph[0].args[0]: node 'z': input 'z' is undefined; it is the node itself",
    ),
    (
        'data: {x: 1}\n'
        'graph:\n'
        '  - {name: z, op: relu, args: [xx]}\n',
        ":3:32: graph[0].args[0]: node 'z': input 'xx' is undefined; it is not in data, "
        "params or an earlier node (did you mean 'x'?)",
    ),
    (
        'data: {x: 1}\n'
        'params: {w: 1}\n'
        'graph:\n'
        '  - {name: w, op: relu, args: [x]}\n',
        ":4:12: graph[0].name: 'w' is already defined (at params.w); a node cannot reuse or "
        'shadow a param',
    ),
    (
        'data: {x: 1}\n'
        'params: {x: 1}\n'
        'graph:\n'
        '  - {name: z, op: relu, args: [x]}\n',
        ":2:13: params.x: 'x' is defined twice: in data and in params",
    ),
    (
        'data: {x: [1, 2]}\n'
        'params: {W1: [[1, 2, 3], [4, 5, 6], [1, 1, 1], [2, 2, 2]]}\n'
        'graph:\n'
        '  - {name: z, op: matmul, args: [W1, x]}\n',
        ":4:33: graph[0].args: node 'z' (z = W1·x): W1 is 4×3, x is 2; matmul expects the "
        'columns of the left operand to match the rows of the right one',
    ),
    (
        'data: {x: [1, 2], y: [1, 2, 3]}\n'
        'graph:\n'
        '  - {name: L, op: half_squared_error, args: [x, y]}\n',
        ":3:45: graph[0].args: node 'L' (L = ½‖x − y‖²): x is 2, y is 3; half_squared_error "
        'expects the same shape on both sides',
    ),
    (
        'data: {x: [1, 2]}\n'
        'graph:\n'
        '  - {name: z, op: relu, args: [x]}\n',
        ":3:5: graph[0]: the objective (by default the last node) 'z' is 2, expected a scalar"
        ' (reduce it with sum, mean or a loss op)',
    ),
    (
        'data: {x: 1}\n'
        'graph:\n'
        '  - {name: z, op: relu, args: [x]}\n'
        'objective: q\n',
        ":4:12: objective: objective 'q' is not a node of the graph; expected the name of the"
        ' scalar node to minimise',
    ),
    (
        'data: {x: 1}\n'
        'graph:\n'
        '  - {name: z, op: relu, args: [x]}\n'
        'objective: x\n',
        ":4:12: objective: objective 'x' is a data or param tensor, not a node; expected the "
        'name of the scalar node to minimise',
    ),
    (
        'data: {x: [[1, 2], [3]]}\n'
        'graph:\n'
        '  - {name: z, op: relu, args: [x]}\n',
        ':1:11: data.x: expected rows of equal length (a rectangular array), but found a '
        'ragged list with row lengths [1, 2]',
    ),
    (
        'data: {x: true}\n'
        'graph:\n'
        '  - {name: z, op: relu, args: [x]}\n',
        ':1:11: data.x: expected a number but found the boolean true',
    ),
    (
        'data: {x: [1, abc]}\n'
        'graph:\n'
        '  - {name: z, op: relu, args: [x]}\n',
        ":1:11: data.x: expected a number or a list of numbers, but found the string 'abc'",
    ),
    (
        'data: {x: []}\n'
        'graph:\n'
        '  - {name: z, op: relu, args: [x]}\n',
        ':1:11: data.x: expected a number or a non-empty list, but found an empty list',
    ),
    (
        'data: {x: 1}\n'
        'graph:\n'
        '  - {name: z, op: relu, args: [x]}\n'
        'steps: 0\n',
        ':4:8: steps: expected a whole number of steps from 1 to 1,000,000, found the number '
        '0',
    ),
    (
        'data: {x: 1}\n'
        'graph:\n'
        '  - {name: z, op: relu, args: [x]}\n'
        'steps: 2.5\n',
        ':4:8: steps: expected a whole number of steps from 1 to 1,000,000, found the number '
        '2.5',
    ),
    (
        'data: {x: 1}\n'
        'graph:\n'
        '  - {name: z, op: relu, args: [x]}\n'
        'optimizer: {name: sgd, lr: .nan}\n',
        ':4:28: optimizer.lr: lr (the learning rate η): expected a finite number ≥ 0, found '
        'the number nan',
    ),
    (
        'data: {x: 1}\n'
        'graph:\n'
        '  - {name: z, op: relu, args: [x]}\n'
        'optimizer: {name: sgd, lr: fast}\n',
        ":4:28: optimizer.lr: lr (the learning rate η): expected a finite number ≥ 0, found "
        "the string 'fast'",
    ),
    (
        'data: {x: 1}\n'
        'graph:\n'
        '  - {name: z, op: relu, args: [x]}\n'
        'optimizer: {name: sdg}\n',
        ":4:19: optimizer.name: unknown optimizer 'sdg' (did you mean 'sgd'?); expected one "
        'of sgd, adam, adamw, rmsprop',
    ),
    (
        'data: {x: 1}\n'
        'graph:\n'
        '  - {name: z, op: relu, args: [x]}\n'
        'optimizer: {name: sgd, momentun: 0.9}\n',
        ":4:24: optimizer.momentun: unknown sgd option 'momentun' (did you mean 'momentum'?); "
        'expected name, lr, momentum, nesterov, weight_decay',
    ),
    (
        'params: {W: 1}\n'
        'graph:\n'
        '  - {name: s, op: l2, args: [W], lamda: 0.1}\n',
        ":3:34: graph[0].lamda: node 's': unknown option 'lamda' (did you mean 'lambda'?); l2"
        ' takes the options lambda',
    ),
    (
        'params: {W: 1}\n'
        'graph:\n'
        '  - {name: s, op: l2, args: [W]}\n',
        ":3:5: graph[0]: node 's': l2 needs the option 'lambda' (the regularisation strength "
        'λ)',
    ),
    (
        'params: {W: 1}\n'
        'graph:\n'
        '  - {name: s, op: l2, args: [W], lambda: -1}\n',
        ":3:42: graph[0].lambda: node 's': lambda (the regularisation strength λ): expected a "
        'finite number ≥ 0, found the number -1',
    ),
    (
        'data: {x: 1}\n'
        'graph:\n'
        '  - {name: z, args: [x]}\n',
        ":3:5: graph[0]: node is missing 'op'; every node has name, op and args",
    ),
    (
        'data: {x: 1}\n'
        'graph:\n'
        '  - {name: 2z, op: relu, args: [x]}\n',
        ':3:12: graph[0].name: expected a name made of letters, digits and _ (not starting '
        "with a digit), found the string '2z'",
    ),
    (
        'data: {x: 1}\n'
        'graph: []\n',
        ':2:8: graph: expected a non-empty list of nodes such as {name: z, op: matmul, args: '
        '[W1, x]}, found the list []',
    ),
    (
        'params: {W: {init: gaussian, shape: [2, 2]}}\n'
        'graph:\n'
        '  - {name: s, op: sum, args: [W]}\n',
        ":1:20: params.W.init: unknown init 'gaussian'; expected one of zeros, normal, "
        'uniform, xavier',
    ),
    (
        'params: {W: {init: normal, shape: [2, -2]}}\n'
        'graph:\n'
        '  - {name: s, op: sum, args: [W]}\n',
        ':1:35: params.W.shape: expected a list of positive whole numbers such as [4, 3], '
        'found the list [2, -2]',
    ),
    (
        'params: {W: {value: 1, init: zeros}}\n'
        'graph:\n'
        '  - {name: s, op: sum, args: [W]}\n',
        ":1:24: params.W.init: 'init' goes with 'init:', not with 'value:'; give one or the "
        'other',
    ),
    (
        'params: {W: {value: 1, trainable: maybe}}\n'
        'graph:\n'
        '  - {name: s, op: sum, args: [W]}\n',
        ":1:35: params.W.trainable: expected true or false, found the string 'maybe'",
    ),
    (
        'data: {x: [1, 2], y: [1]}\n'
        'model: {name: mlp, hiden: 3}\n',
        ":2:20: model.hiden: unknown mlp model option 'hiden' (did you mean 'hidden'?); "
        'expected name, input, target, loss, hidden, outputs, activation, bias, l1, l2, '
        'init, seed',
    ),
    (
        'data: {x: [1, 2], y: [1]}\n'
        'model: {name: mlp, activation: softmax}\n',
        ':2:32: model.activation: expected an activation (relu, sigmoid, tanh, leaky_relu, '
        "elu, softplus, gelu), or a list of 1 of them (one per layer), found 'softmax'",
    ),
    (
        'data: {x: [1, 2], y: [1]}\n'
        'model: {name: perceptron}\n',
        ":2:15: model.name: unknown model 'perceptron'; expected one of linear, mlp",
    ),
    (
        'data: {inputs: [1, 2], y: [1]}\n'
        'model: {name: mlp}\n',
        ":2:8: model.input: the model's input is 'x', but data has no 'x'; add it under data:"
        ' or name it with model.input',
    ),
    (
        'data: {x: [1, 2], y: [1]}\n'
        'params: {W1: [[1, 2]]}\n'
        'model: {name: mlp, hidden: [4]}\n',
        ":2:14: params.W1: the model needs 'W1' of shape 4×2, found 1×2",
    ),
    (
        'data: {x: [1, 2], y: [1]}\n'
        'model: mlp\n'
        'graph: []\n',
        ":3:1: graph: a config has either 'model:' or 'graph:', not both; 'model:' expands "
        'into the graph',
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
    (tmp_path / "bad.yaml").write_text(
        "data: {x: true}\ngrpah: 1\nsteps: -1\n", encoding="utf-8")
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


def test_validate_prints_the_expanded_graph() -> None:
    from .conftest import CONFIGS

    result = invoke("validate", str(CONFIGS / "seed_mlp_l2_model.yaml"))
    assert result.exit_code == 0
    for text in ("z = W1·x", "h = relu(z)", "o = W2·h", "L = ½‖o − y‖²", "J = L + s",
                 "objective J"):
        assert text in result.stdout


def test_directory_and_non_utf8(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dir.yaml").mkdir()
    (tmp_path / "latin1.yaml").write_bytes(b"graph: \xff\n")
    assert invoke("trace", "dir.yaml").stderr == \
        "backprop: error: dir.yaml: is a directory; expected a YAML config file\n"
    assert invoke("trace", "latin1.yaml").stderr == \
        "backprop: error: latin1.yaml: is not UTF-8 text (byte 7); expected a YAML config file\n"


def test_alias_bomb_is_refused_quickly(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    lines = ['a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]']
    for prev, name in zip("abcdefg", "bcdefgh"):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    text = "data:\n" + "\n".join("  " + line for line in lines) + "\n" + \
        "graph:\n  - {name: s, op: sum, args: [h]}\n"
    (tmp_path / "bomb.yaml").write_text(text, encoding="utf-8")
    result = invoke("trace", "bomb.yaml")
    assert result.exit_code == 2
    assert "at most 1,000,000 numbers in a literal array" in result.stderr
