"""Reading a config file into a checked ``Graph``, before any math runs.

Every problem found is reported with the file, the YAML line and column, the field, what was
found and what was expected. Independent problems are all collected, so that ``ConfigError``
lists each of them; problems that make later checks meaningless stop the checking early.
"""

from __future__ import annotations

import errno
import math
import os
import sys
from typing import Any

import numpy as np

from . import arrays, budget, collector, datafiles, files, yamlsrc
from .errors import ConfigError, IOFailure, Problem, describe, quoted, suggest
from .graph import Graph, Node, OptimizerSpec, Tensor, constant_text
from .limits import DEFAULT_MAX_MEMORY
from .limits import MAX_STEPS as MAX_STEPS
from .ops import OPS, equation_text, shape_text
from .optim import OPTIMIZERS
from .yamlsrc import Path, Source

TOP_LEVEL = ("data", "params", "graph", "objective", "optimizer", "steps", "model")
NODE_KEYS = ("name", "op", "args")
PARAM_KEYS = ("value", "trainable", "init", "shape", "seed", "scale")
MAX_FILE_BYTES = 10_000_000  # YAML is parsed in Python: this keeps loading within seconds


def shape_phrase(name: str, shape: tuple[int, ...]) -> str:
    """``x is a scalar``, ``W1 has shape 4×3``: a shape that cannot be read as a value."""
    return f"{name} is a scalar" if shape == () else f"{name} has shape {shape_text(shape)}"


# Names other tools use for optimiser options, and what to write here instead.
OPTIMIZER_ALIASES = {
    "betas": "beta1 and beta2, two options",
    "learning_rate": "lr",
    "eta": "lr",
    "epsilon": "eps",
    "rho": "alpha",
    "decay": "weight_decay",
}


def read_text(path: str) -> tuple[str, str]:
    """The file's text and the name errors use for it (``-`` reads standard input)."""
    name = "<stdin>" if path == "-" else (path or "''")
    try:
        if path == "-":
            if sys.stdin is None:  # closed when we started (<&-)
                raise IOFailure("<stdin>: is closed; nothing can be read (Bad file descriptor)")
            raw = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
        else:
            if os.path.isdir(path):
                raise ConfigError(name, [Problem("is a directory; expected a YAML config file")])
            with files.open_input(path) as fh:
                raw = fh.read(MAX_FILE_BYTES + 1)
    except files.NotRegularFile as exc:
        raise ConfigError(
            name,
            [
                Problem(
                    f"is {exc.kind}, not a regular file; expected a YAML config file "
                    f"('-' reads standard input)"
                )
            ],
        ) from None
    except FileNotFoundError:
        what = "is a symbolic link to a missing file" if os.path.islink(path) else "no such file"
        raise ConfigError(name, [Problem(what)]) from None
    except PermissionError:
        raise ConfigError(name, [Problem("permission denied; the file cannot be read")]) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ConfigError(name, [Problem("is a symbolic link loop")]) from None
        raise ConfigError(name, [Problem(f"cannot be read: {exc.strerror or exc}")]) from None
    if len(raw) > MAX_FILE_BYTES:
        size = os.path.getsize(path) if path != "-" else None
        found = f"the file has {size:,} bytes" if size else "the input is longer"
        raise ConfigError(
            name, [Problem(f"{found}; expected a config of at most {MAX_FILE_BYTES:,} bytes")]
        )
    try:
        return raw.decode("utf-8"), name
    except UnicodeDecodeError as exc:
        raise ConfigError(
            name, [Problem(f"is not UTF-8 text (byte {exc.start}); expected a YAML config file")]
        ) from None


def load_config(
    path: str, allow_outside_data: bool = False, max_memory: int | None = DEFAULT_MAX_MEMORY
) -> Graph:
    """The checked graph of the config at ``path``. Its data files must lie in the config's
    folder (the current folder for stdin) unless ``allow_outside_data``; a run must need at
    most ``max_memory`` bytes (estimated from the shapes; None: no limit)."""
    text, name = read_text(path)
    with collector.paused():  # reading and compiling make no reference cycles
        src = yamlsrc.load(text, name)
        src.base_dir = os.path.dirname(path) if path != "-" else "."
        src.allow_outside_data = allow_outside_data
        src.max_memory = max_memory
        return compile_source(src)


def compile_source(src: Source) -> Graph:
    return _Compiler(src).compile()


# Problems of one file given a "did you mean" and a spelt-out cycle; names shown of a long cycle.
SUGGESTIONS = 50
CYCLES = 5
CYCLE_NAMES = 6


def _uses(entries: list[Any]) -> dict[str, list[str]]:
    """Each node entry's name and the names it uses (the first entry of a name counts)."""
    uses: dict[str, list[str]] = {}
    for e in entries:
        if isinstance(e, dict) and isinstance(e.get("name"), str):
            args = e.get("args")
            args = [args] if isinstance(args, str) else args
            if isinstance(args, list):
                uses.setdefault(e["name"], [a for a in args if isinstance(a, str)])
    return uses


def _components(uses: dict[str, list[str]]) -> dict[str, int]:
    """Tarjan's strongly connected components of the ``uses`` graph, without recursion: each
    name's component number."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    component: dict[str, int] = {}
    number = 0
    for start in uses:
        if start in index:
            continue
        work = [(start, iter(uses.get(start, ())))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in uses:
                    continue
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(uses[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                number += 1
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component[member] = number
                    if member == node:
                        break
    return component


class _Compiler:
    def __init__(self, src: Source):
        self.src = src
        self.problems: list[Problem] = []
        self.suggestions_left = SUGGESTIONS
        self.cycles_left = CYCLES
        self.uses: dict[str, list[str]] = {}
        self.components: dict[str, int] | None = None
        self.paths: dict[str, Path] = {}  # where each tensor and node is defined
        self.literal_budget = [arrays.MAX_LITERAL_ELEMENTS]  # numbers in all literal arrays
        # Names whose definition had a problem already reported: what uses them is not
        # reported again (one typo, one message).
        self.broken: set[str] = set()
        # Literal constants in args, by the text that stands for them (``Graph.constants``).
        self.constants: dict[str, np.ndarray] = {}

    # ---- helpers -------------------------------------------------------------------------

    def problem(self, path: Path, message: str, key: bool = False) -> None:
        self.problems.append(self.src.problem(path, message, key))

    def stop_if_problems(self) -> None:
        if self.problems:
            raise ConfigError(self.src.name, self.problems)

    def mapping(self, value: Any, path: Path, what: str) -> dict[str, Any] | None:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem(
                path, f"expected {what} (a mapping of name: value), found {describe(value)}"
            )
            return None
        return value

    def name_ok(self, name: Any, path: Path) -> bool:
        if not isinstance(name, str) or not name.isidentifier():
            self.problem(
                path,
                f"expected a name made of letters, digits and _ (not starting "
                f"with a digit), found {describe(name)}",
            )
            return False
        return True

    def number(
        self,
        value: Any,
        path: Path,
        what: str,
        minimum: float | None = None,
        positive: bool = False,
        integer: bool = False,
    ) -> float | None:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if integer:
            ok = ok and float(value).is_integer()
        if ok and not math.isfinite(value):
            ok = False
        if ok and minimum is not None and value < minimum:
            ok = False
        if ok and positive and value <= 0:
            ok = False
        if not ok:
            self.problem(path, f"expected {what}, found {describe(value)}")
            return None
        return int(value) if integer else float(value)

    def array(self, value: Any, path: Path) -> Any:
        try:
            return arrays.to_array(value, self.literal_budget)
        except ValueError as exc:
            self.problem(path, f"expected {exc}")
            return None

    # ---- sections ------------------------------------------------------------------------

    def compile(self) -> Graph:
        root = self.src.data
        if not isinstance(root, dict):
            raise self.src.error(
                (),
                f"expected a YAML mapping at the top level (with 'graph:' "
                f"or 'model:'), found {describe(root)}",
            )
        for key in root:
            if key not in TOP_LEVEL:
                self.problem(
                    (key,),
                    f"unknown top-level key '{key}'{suggest(key, TOP_LEVEL)}; "
                    f"expected one of {', '.join(TOP_LEVEL)}",
                    key=True,
                )
        tensors: dict[str, Tensor] = {}
        origin: dict[str, Path] = {}
        known = len(self.problems)
        for name, t in self.data(root.get("data")).items():
            tensors[name], origin[name] = t, ("data", name)
        params = self.params(root.get("params"), tensors, origin)

        graph_entries = root.get("graph")
        expanded = True
        if "model" in root:
            # A model is expanded only over data and params without problems (it would report
            # their absence again); its own problems are all listed with the others.
            inputs_ok = len(self.problems) == known
            if "graph" in root:
                self.problem(
                    ("graph",),
                    "a config has either 'model:' or 'graph:', not both; "
                    "'model:' expands into the graph",
                    key=True,
                )
            expanded = False
            if inputs_ok:
                from . import models  # the shorthands: only for a config that uses one

                try:
                    expansion = models.expand(self.src, root["model"], tensors, params)
                except ConfigError as exc:
                    self.problems.extend(exc.problems)
                else:
                    expanded = True
                    for name, t in expansion.params.items():
                        tensors[name], origin[name] = t, ("model",)
                    graph_entries = expansion.graph
            entry_path = ("model",)
        elif "graph" not in root:
            self.problem((), "missing 'graph:' (the list of nodes to compute) or 'model:'")
            entry_path = None
        else:
            entry_path = None
        for name, t in params.items():
            tensors.setdefault(name, t)
        nodes = self.graph(graph_entries, tensors, origin, entry_path) if expanded else []
        optimizer = self.optimizer(root.get("optimizer", {}))
        steps = 1
        if "steps" in root:
            steps = int(
                self.number(
                    root["steps"],
                    ("steps",),
                    f"a whole number of steps from 1 to {MAX_STEPS:,}",
                    minimum=1,
                    integer=True,
                )
                or 1
            )
            if steps > MAX_STEPS:
                self.problem(
                    ("steps",), f"expected at most {MAX_STEPS:,} steps, found the number {steps}"
                )
        self.stop_if_problems()
        objective = self.objective(root, nodes, tensors)
        self.stop_if_problems()
        graph = Graph(
            source=self.src.name,
            tensors=tensors,
            nodes=nodes,
            objective=objective,
            optimizer=optimizer,
            steps=steps,
            constants=self.constants,
        )
        self.memory(graph, origin)
        return graph

    def memory(self, graph: Graph, origin: dict[str, Path]) -> None:
        """Refuse a run whose estimated memory exceeds ``max_memory``, naming what needs most."""
        limit = self.src.max_memory
        if limit is None:
            return
        total, shares = budget.estimate(graph)
        if total <= limit:
            return
        name, most = shares[0]
        node = next((n for n in graph.nodes if n.name == name), None)
        if node is not None:
            what = f"node '{name}' ({node.equation}, shape {shape_text(node.shape)})"
            path = self.paths.get(name, ("graph",))
        else:
            tensor = graph.tensors[name]
            what = f"{tensor.kind} '{name}' (shape {shape_text(tensor.value.shape)})"
            path = origin.get(name, (tensor.kind + "s",) if tensor.kind == "param" else ("data",))
        raise self.src.error(
            path,
            f"a step of this graph needs about {budget.size_text(total)} of memory, "
            f"{what} about {budget.size_text(most)} of it (its value, gradient and local "
            f"gradients); the limit is {budget.size_text(limit)} (raise it with --max-memory)",
        )

    def data(self, section: Any) -> dict[str, Tensor]:
        out: dict[str, Tensor] = {}
        for name, value in (self.mapping(section, ("data",), "'data:'") or {}).items():
            path = ("data", name)
            if self.name_ok(name, path):
                arr = (
                    self.data_file(value, path)
                    if isinstance(value, dict)
                    else self.array(value, path)
                )
                if arr is not None:
                    out[name] = Tensor(name, "data", arr, trainable=False)
                else:
                    self.broken.add(name)
        return out

    def data_file(self, spec: dict[str, Any], path: Path) -> Any:
        for key in spec:
            if key not in datafiles.KEYS:
                self.problem(
                    (*path, key),
                    f"unknown data file field '{key}'"
                    f"{suggest(key, datafiles.KEYS)}; expected "
                    f"{', '.join(datafiles.KEYS)}",
                    key=True,
                )
                return None
        try:
            return datafiles.load(spec, self.src.base_dir, self.src.allow_outside_data)
        except datafiles.DataFileError as exc:
            self.problem((*path, exc.field) if exc.field in spec else path, str(exc))
            return None

    def params(
        self, section: Any, tensors: dict[str, Tensor], origin: dict[str, Path]
    ) -> dict[str, Tensor]:
        out: dict[str, Tensor] = {}
        for name, spec in (self.mapping(section, ("params",), "'params:'") or {}).items():
            path = ("params", name)
            if not self.name_ok(name, path):
                continue
            if name in tensors:
                self.problem(path, f"'{name}' is defined twice: in data and in params")
                continue
            tensor = self.param(name, spec, path)
            if tensor is not None:
                out[name] = tensor
                origin[name] = path
            else:
                self.broken.add(name)
        return out

    def param(self, name: str, spec: Any, path: Path) -> Tensor | None:
        if not isinstance(spec, dict):
            arr = self.array(spec, path)
            return None if arr is None else Tensor(name, "param", arr, trainable=True)
        for key in spec:
            if key not in PARAM_KEYS:
                self.problem(
                    (*path, key),
                    f"unknown param field '{key}'"
                    f"{suggest(key, PARAM_KEYS)}; expected value "
                    f"(with trainable) or init, shape, seed, scale",
                    key=True,
                )
        trainable = spec.get("trainable", True)
        if not isinstance(trainable, bool):
            self.problem(
                (*path, "trainable"), f"expected true or false, found {describe(trainable)}"
            )
            trainable = True
        if "value" in spec:
            extra = [k for k in ("init", "shape", "seed", "scale") if k in spec]
            if extra:
                self.problem(
                    (*path, extra[0]),
                    f"'{extra[0]}' goes with 'init:', not with 'value:'; give one or the other",
                    key=True,
                )
                return None
            arr = self.array(spec["value"], (*path, "value"))
            return None if arr is None else Tensor(name, "param", arr, trainable=trainable)
        if "init" not in spec:
            self.problem(path, "expected 'value:' or 'init:' in a param mapping")
            return None
        arr = self.initialised(name, spec, path)
        return None if arr is None else Tensor(name, "param", arr, trainable=trainable)

    def initialised(self, name: str, spec: dict[str, Any], path: Path) -> Any:
        init = spec["init"]
        if init not in arrays.INITS:
            self.problem(
                (*path, "init"),
                f"unknown init {quoted(init)}"
                f"{suggest(init, arrays.INITS)}; expected one of "
                f"{', '.join(arrays.INITS)}",
            )
            return None
        shape = spec.get("shape", [])
        if isinstance(shape, int) and not isinstance(shape, bool):
            shape = [shape]
        if (
            not isinstance(shape, list)
            or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape)
            or len(shape) > arrays.MAX_NDIM
        ):
            self.problem(
                (*path, "shape"),
                f"expected a list of positive whole numbers such "
                f"as [4, 3], found {describe(shape)}",
            )
            return None
        if math.prod(shape) > arrays.MAX_ELEMENTS:
            self.problem(
                (*path, "shape"),
                f"expected at most {arrays.MAX_ELEMENTS:,} elements, "
                f"found shape {shape_text(tuple(shape))}",
            )
            return None
        seed = spec.get("seed", arrays.default_seed(name))
        seed = self.number(seed, (*path, "seed"), "a whole number ≥ 0", minimum=0, integer=True)
        scale = self.number(spec.get("scale", 1.0), (*path, "scale"), "a number > 0", positive=True)
        if seed is None or scale is None:
            return None
        optimizer = self.src.data.get("optimizer") if isinstance(self.src.data, dict) else None
        if isinstance(optimizer, dict):
            optimizer = optimizer.get("name", "sgd")
        budget.reserve(self.src, name, math.prod(shape), str(optimizer or "sgd"), path)
        return arrays.initialise(init, tuple(shape), int(seed), scale)

    def graph(
        self,
        entries: Any,
        tensors: dict[str, Tensor],
        origin: dict[str, Path],
        entry_path: Path | None,
    ) -> list[Node]:
        if entries is None and entry_path is None and "graph" not in self.src.data:
            return []
        if not isinstance(entries, list) or not entries:
            self.problem(
                ("graph",),
                f"expected a non-empty list of nodes such as "
                f"{{name: z, op: matmul, args: [W1, x]}}, found "
                f"{describe(entries)}",
            )
            return []
        shapes = {name: t.value.shape for name, t in tensors.items()}
        defined: dict[str, Path] = dict(origin)
        later = {
            e["name"]: i
            for i, e in enumerate(entries)
            if isinstance(e, dict) and isinstance(e.get("name"), str)
        }
        nodes: list[Node] = []
        broken = False
        for i, entry in enumerate(entries):
            path = entry_path or ("graph", i)
            node = self.node(entry, path, i, shapes, defined, later, entries)
            if node is None:
                broken = True
                if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                    self.broken.add(entry["name"])
                continue
            nodes.append(node)
        return [] if broken else nodes

    def node(
        self,
        entry: Any,
        path: Path,
        index: int,
        shapes: dict[str, Any],
        defined: dict[str, Any],
        later: dict[str, Any],
        entries: list[Any],
    ) -> Node | None:
        if not isinstance(entry, dict):
            self.problem(
                path,
                f"expected a node mapping such as {{name: z, op: matmul, "
                f"args: [W1, x]}}, found {describe(entry)}",
            )
            return None
        missing = [k for k in NODE_KEYS if k not in entry]
        if missing:
            self.problem(path, f"node is missing '{missing[0]}'; every node has name, op and args")
            return None
        name, op_name, args = entry["name"], entry["op"], entry["args"]
        if not self.name_ok(name, (*path, "name")):
            return None
        if name in defined:
            where = yamlsrc.path_text(defined[name])
            kind = "param" if defined[name][:1] == ("params",) else "name"
            self.problem(
                (*path, "name"),
                f"'{name}' is already defined (at {where}); a node cannot reuse or shadow a {kind}",
            )
            return None
        if not isinstance(op_name, str) or op_name not in OPS:
            self.problem(
                (*path, "op"),
                f"node '{name}': unknown op {quoted(op_name)}"
                f"{suggest(op_name, OPS)}; 'backprop ops' lists the "
                f"{len(OPS)} ops",
            )
            return None
        op = OPS[op_name]
        if isinstance(args, str):
            args = [args]
        if not isinstance(args, list):
            self.problem(
                (*path, "args"),
                f"node '{name}': expected a list of input names, found {describe(args)}",
            )
            return None
        args = self.constants_in(args, name, path, shapes)
        if args is None:
            return None
        if not op.takes(len(args)):
            self.problem(
                (*path, "args"),
                f"node '{name}': {op_name} takes {op.arity_text()}, found {len(args)}",
            )
            return None
        # Every input is checked, so one node reports all its undefined inputs; an input whose
        # own node was broken is not reported again (its problem is listed already).
        ok = True
        for j, arg in enumerate(args):
            if arg in self.broken:
                ok = False
            elif arg not in defined and arg not in self.constants:
                why = self.missing_input(name, arg, index, defined, later, entries)
                self.problem((*path, "args", j), f"node '{name}': {why}")
                ok = False
        if not ok:
            self.broken.add(name)
            return None
        options = self.options(entry, op, name, path)
        if options is None:
            return None
        in_shapes = [shapes[a] for a in args]
        try:
            shape = op.shape(in_shapes, options)
        except ValueError as exc:
            sizes = ", ".join(shape_phrase(a, s) for a, s in zip(args, in_shapes, strict=False))
            try:
                written = equation_text(op, name, args, in_shapes, options)
            except ValueError:  # an equation that shows the (invalid) shape itself
                written = f"{name} = {op_name}({', '.join(args)})"
            self.problem(
                (*path, "args"), f"node '{name}' ({written}): {sizes}; {op_name} expects {exc}"
            )
            return None
        if len(shape) > arrays.MAX_NDIM:
            self.problem(
                (*path, "args"),
                f"node '{name}': {op_name} would give {len(shape)} dimensions; a tensor has at "
                f"most {arrays.MAX_NDIM}",
            )
            return None
        equation = equation_text(op, name, args, in_shapes, options)
        shapes[name] = shape
        defined[name] = path
        self.paths[name] = path
        where = self.src.problem(path, "").render(self.src.name).rstrip(": ")
        return Node(
            name=name,
            op=op,
            args=tuple(args),
            options=options,
            shape=shape,
            equation=equation,
            where=where,
        )

    def missing_input(
        self,
        name: str,
        arg: str,
        index: int,
        defined: dict[str, Any],
        later: dict[str, Any],
        entries: list[Any],
    ) -> str:
        """Why ``arg``, an input of node ``name``, is not defined where the node needs it."""
        if arg == name:
            return f"input '{arg}' is the node itself; a graph has no cycles"
        if arg in later and later[arg] > index:
            if self.in_cycle(name, arg, entries):
                return f"input '{arg}' makes a cycle: {self.cycle_text(name, arg)}"
            return (
                f"input '{arg}' is defined later, at graph[{later[arg]}]; "
                f"list a node after its inputs"
            )
        return (
            f"input '{arg}' is undefined; it is not in data, params or an "
            f"earlier node{self.suggest(arg, defined)}"
        )

    def constants_in(
        self, args: list[Any], name: str, path: Path, shapes: dict[str, tuple[int, ...]]
    ) -> list[str] | None:
        """The args with each literal constant (``3.0``, ``[1, 2]``) replaced by the text that
        stands for it; the constant's value goes to ``self.constants``."""
        out = []
        for j, arg in enumerate(args):
            if isinstance(arg, str):
                out.append(arg)
                continue
            where = (*path, "args", j)
            if isinstance(arg, bool) or not isinstance(arg, (int, float, list)):
                self.problem(
                    where,
                    f"node '{name}': expected an input name or a constant (a number or a list "
                    f"of numbers), found {describe(arg)}",
                )
                return None
            try:
                value = arrays.to_array(arg)
            except ValueError as exc:
                self.problem(where, f"node '{name}': a constant input: expected {exc}")
                return None
            if not np.isfinite(value).all():
                self.problem(
                    where, f"node '{name}': expected a finite constant, found {describe(arg)}"
                )
                return None
            text = constant_text(value)
            self.constants[text] = value
            shapes[text] = value.shape
            out.append(text)
        return out

    def suggest(self, word: str, known: Any) -> str:
        """``suggest`` for the first ``SUGGESTIONS`` problems of a file: each one compares the
        word with every name, and a file with thousands of typos would take minutes."""
        self.suggestions_left -= 1
        return suggest(word, known) if self.suggestions_left >= 0 else ""

    def in_cycle(self, name: str, arg: str, entries: list[Any]) -> bool:
        """Whether ``arg`` depends on ``name`` through the graph's entries: both lie in one
        strongly connected component (found once per file, in linear time)."""
        if self.components is None:
            self.uses = _uses(entries)
            self.components = _components(self.uses)
        return name in self.components and self.components.get(arg) == self.components[name]

    def cycle_text(self, name: str, arg: str) -> str:
        """The cycle through ``name`` and ``arg``, spelt out for the first few cycles found
        (finding it is linear in the graph), its first names and length when long."""
        self.cycles_left -= 1
        if self.cycles_left < 0:
            return f"'{arg}' depends on '{name}'; a graph has no cycles"
        cycle = self.cycle(name, arg, self.uses)
        if len(cycle) > CYCLE_NAMES + 1:
            shown = ", which uses ".join(f"'{n}'" for n in cycle[:CYCLE_NAMES])
            more = len(cycle) - 1 - CYCLE_NAMES
            text = f"{shown}, … ({more:,} more nodes), back to '{name}'"
        else:
            text = ", which uses ".join(f"'{n}'" for n in cycle)
        return f"{text}; a graph has no cycles"

    @staticmethod
    def cycle(name: str, arg: str, uses: dict[str, list[str]]) -> list[str]:
        """``[name, arg, …, name]`` when ``arg`` depends on ``name`` through ``uses``, else
        ``[]``."""
        stack, came_from = [arg], {arg: name}
        while stack:
            current = stack.pop()
            for nxt in uses.get(current, []):
                if nxt == name:
                    chain = [current]
                    while chain[-1] != arg:
                        chain.append(came_from[chain[-1]])
                    return [name, *reversed(chain), name]
                if nxt not in came_from:
                    came_from[nxt] = current
                    stack.append(nxt)
        return []

    def options(
        self, entry: dict[str, Any], op: Any, name: str, path: Path
    ) -> dict[str, Any] | None:
        ok = True
        for key in entry:
            if key in NODE_KEYS or key in op.options:
                continue
            known = list(op.options) + list(NODE_KEYS)
            expected = (
                f"{op.name} takes the options {', '.join(op.options)}"
                if op.options
                else f"{op.name} takes no options"
            )
            self.problem(
                (*path, key),
                f"node '{name}': unknown option '{key}'{suggest(key, known)}; {expected}",
                key=True,
            )
            ok = False
        if not ok:  # a misspelt option is not reported again as a missing one
            return None
        return self.option_values(entry, op.options, path, f"node '{name}': ", f"{op.name} needs")

    def option_values(
        self, entry: dict[str, Any], specs: dict[str, Any], path: Path, prefix: str, needs: str
    ) -> dict[str, Any] | None:
        """Every option's value: given and checked, or its default."""
        values: dict[str, Any] = {}
        ok = True
        for key, spec in specs.items():
            if key not in entry:
                if spec.required:
                    self.problem(path, f"{prefix}{needs} the option '{key}' ({spec.doc})")
                    ok = False
                else:
                    values[key] = spec.default
                continue
            try:
                values[key] = spec.check(entry[key])
            except ValueError as exc:
                self.problem((*path, key), f"{prefix}{key} ({spec.doc}): {exc}")
                ok = False
        return values if ok else None

    def optimizer(self, section: Any) -> OptimizerSpec:
        if isinstance(section, str):
            section = {"name": section}
        spec = self.mapping(section, ("optimizer",), "'optimizer:'")
        if spec is None:
            return OptimizerSpec()
        name = spec.get("name", "sgd")
        if not isinstance(name, str) or name not in OPTIMIZERS:
            self.problem(
                ("optimizer", "name"),
                f"unknown optimizer {quoted(name)}"
                f"{suggest(name, OPTIMIZERS)}; expected one of "
                f"{', '.join(OPTIMIZERS)}",
            )
            return OptimizerSpec()
        options = OPTIMIZERS[name].options
        allowed = ("name", *tuple(options))
        for key in spec:
            if key not in allowed:
                hint = (
                    f" (did you mean {OPTIMIZER_ALIASES[key]}?)"
                    if key in OPTIMIZER_ALIASES
                    else suggest(key, allowed)
                )
                self.problem(
                    ("optimizer", key),
                    f"unknown {name} option '{key}'{hint}; expected {', '.join(allowed)}",
                    key=True,
                )
        values = self.option_values(spec, options, ("optimizer",), "", f"{name} needs") or {}
        conflict = OPTIMIZERS[name].conflict(values)
        if conflict:
            self.problem(("optimizer",), f"{name}: {conflict}")
        lr = values.pop("lr", options["lr"].default)
        return OptimizerSpec(name=name, lr=lr, options=values)

    def objective(self, root: dict[str, Any], nodes: list[Node], tensors: dict[str, Any]) -> str:
        if not nodes:
            raise self.src.error(("graph",), "the graph has no nodes")
        name = root.get("objective", nodes[-1].name)
        names = [n.name for n in nodes]
        if name not in names:
            what = (
                "a data or param tensor, not a node"
                if isinstance(name, str) and name in tensors
                else f"not a node of the graph{suggest(name, names)}"
            )
            self.problem(
                ("objective",),
                f"objective {quoted(name)} is {what}; expected the "
                f"name of the scalar node to minimise",
            )
            return str(name)
        shape = next(n.shape for n in nodes if n.name == name)
        if math.prod(shape) != 1:
            if "objective" in root:
                path: Path = ("objective",)
                what = f"objective '{name}'"
            else:
                path = ("graph", len(nodes) - 1)
                what = f"the objective (by default the last node) '{name}'"
            self.problem(
                path,
                f"{what} has shape {shape_text(shape)}, expected a scalar "
                f"(reduce it with sum, mean or a loss op)",
            )
        return name
