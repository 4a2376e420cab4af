"""Safe YAML loading that remembers where every value stood in the file.

Only ``yaml.SafeLoader`` constructs values (no tags that build Python objects). The node tree is
walked once to note the line and column of every mapping key and sequence item, so that errors can
point at the line the user has to change.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import ConfigError, Problem

Path = tuple[Any, ...]


# Bounds on what a file may hold, so that parsing ends quickly: values (scalars, lists and
# mappings, an alias counting once) and levels of nesting.
MAX_NODES = 200_000
MAX_DEPTH = 64
# Integers: float64's largest finite value is about 1.8e308; longer digit strings are refused
# before Python converts them (its own limit is 4,300 digits).
MAX_FLOAT_INT = int(sys.float_info.max)
MAX_INT_DIGITS = 400


def _construct_int(loader: Any, node: Any) -> Any:
    """An integer, refused (with its line and column) when float64 cannot hold it: every
    number of a config becomes a float64 somewhere, and ``10**400`` would overflow there."""
    digits = node.value.replace("_", "").lstrip("+-")
    value = (
        yaml.SafeLoader.construct_yaml_int(loader, node) if len(digits) <= MAX_INT_DIGITS else None
    )
    if value is None or abs(value) > MAX_FLOAT_INT:
        shown = digits if len(digits) <= 20 else f"{digits[:8]}…{digits[-4:]}"
        raise yaml.constructor.ConstructorError(
            None,
            None,
            f"the integer {shown} ({len(digits)} digits) is too large; expected a number "
            f"of at most about 1.8e308 (float64)",
            node.start_mark,
        )
    return value


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads ``1e-3`` as a float (YAML 1.2 does; PyYAML's 1.1 rules don't)
    and refuses files with too many values or too deep a nesting while composing them."""

    source_name = "<config>"
    nodes = 0
    depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):  # an alias reuses a node: not expanded here
            return super().compose_node(parent, index)
        mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
        self.nodes += 1
        self.depth += 1
        try:
            if self.nodes > MAX_NODES:
                raise self._too_large(
                    mark,
                    f"the file holds more than {MAX_NODES:,} YAML "
                    f"values; a config is expected to be smaller",
                )
            if self.depth > MAX_DEPTH:
                raise self._too_large(
                    mark, f"lists and mappings are nested more than {MAX_DEPTH} levels deep"
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def _too_large(self, mark: Any, message: str) -> ConfigError:
        return _too_large(self.source_name, mark, message)


def _too_large(name: str, mark: Any, message: str) -> ConfigError:
    return ConfigError(name, [Problem(message, line=mark.line + 1, column=mark.column + 1)])


_RESOLVERS = {
    k: [r for r in v if r[0] != "tag:yaml.org,2002:float"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.yaml_implicit_resolvers = _RESOLVERS
_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)

_CLoader: type | None = None
if getattr(yaml, "__with_libyaml__", False):

    class _CSafe(yaml.CSafeLoader):
        """The same rules with libyaml's parser, 20 to 50 times faster than PyYAML's."""

    _CSafe.yaml_implicit_resolvers = {
        k: list(v) for k, v in _Loader.yaml_implicit_resolvers.items()
    }
    _CSafe.add_constructor("tag:yaml.org,2002:int", _construct_int)
    _CLoader = _CSafe

# A YAML error found by libyaml in a text this short is reported again by PyYAML, whose
# messages ("expected <block end>, but found …") the tests and users know; longer texts keep
# libyaml's message, so that an error at the end of a large file is reported within seconds.
REPARSE_BELOW = 1_000_000


@dataclass
class Source:
    """A loaded config: its data and the position of every value in it."""

    name: str
    data: Any
    # the start marks of values and of their keys, made into (line, column) when asked:
    # a config of 1000 nodes has 26,000 of them, and few are ever asked for
    positions: dict[Path, Any] = field(default_factory=dict)  # of values
    key_positions: dict[Path, Any] = field(default_factory=dict)  # of their keys
    base_dir: str = "."  # where paths in the config are relative to
    allow_outside_data: bool = False  # data files may lie outside base_dir
    max_memory: int | None = None  # bytes a run may need (--max-memory); None: no limit
    reserved: int = 0  # bytes of the params initialised so far, counted against max_memory

    def where(self, path: Path, key: bool = False) -> tuple[int | None, int | None]:
        """Line and column (1-based) of the value at ``path`` (or of its key), or of the
        nearest parent that has one."""
        if key and path in self.key_positions:
            return _place(self.key_positions[path])
        while path:
            if path in self.positions:
                return _place(self.positions[path])
            path = path[:-1]
        return _place(self.positions[()]) if () in self.positions else (None, None)

    def problem(self, path: Path, message: str, key: bool = False) -> Problem:
        line, column = self.where(path, key)
        return Problem(message=message, field=path_text(path), line=line, column=column)

    def error(self, path: Path, message: str, key: bool = False) -> ConfigError:
        return ConfigError(self.name, [self.problem(path, message, key)])


def path_text(path: Path) -> str:
    """``("graph", 2, "op")`` -> ``graph[2].op``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _mark(node: yaml.Node) -> tuple[int, int]:
    return _place(node.start_mark)


def _place(mark: Any) -> tuple[int, int]:
    """A YAML mark as a 1-based line and column."""
    return mark.line + 1, mark.column + 1


def _positions(root: yaml.Node, name: str) -> tuple[dict[Path, Any], dict[Path, Any]]:
    """The start mark of every value (and of every key) by its path."""
    positions: dict[Path, Any] = {(): root.start_mark}
    keys: dict[Path, Any] = {}
    stack: list[tuple[yaml.Node, Path]] = [(root, ())]
    seen: set[int] = set()
    while stack:
        node, path = stack.pop()
        if id(node) in seen:  # an alias: its node is walked once, never expanded
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[str, yaml.Node] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    if key.value in first and key.tag != "tag:yaml.org,2002:merge":
                        line, column = _mark(first[key.value])
                        problem = Problem(
                            f"duplicate key '{key.value}' (first at line {line}, "
                            f"column {column}); a key is given once",
                            field=path_text((*path, key.value)),
                            line=_mark(key)[0],
                            column=_mark(key)[1],
                        )
                        raise ConfigError(name, [problem])
                    first[key.value] = key
                    child = (*path, key.value)
                    keys[child] = key.start_mark
                    positions[child] = value.start_mark
                    stack.append((value, child))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                child = (*path, i)
                positions[child] = item.start_mark
                stack.append((item, child))
    return positions, keys


def load(text: str, name: str) -> Source:
    """Parse YAML text; ``name`` is how errors refer to the file."""
    if _CLoader is None:
        return _load(_Loader, text, name)
    _check_size(text, name)
    try:
        return _load(_CLoader, text, name)
    except ConfigError:
        if len(text) >= REPARSE_BELOW:
            raise
    return _load(_Loader, text, name)


def _check_size(text: str, name: str) -> None:
    """What ``_Loader.compose_node`` checks, from libyaml's events before anything is built
    (libyaml composes recursively, in C)."""
    parser = _CLoader(text)  # type: ignore[misc]
    nodes = depth = 0
    try:
        while True:
            event = parser.get_event()
            if isinstance(event, yaml.StreamEndEvent):
                return
            if isinstance(event, (yaml.CollectionEndEvent)):
                depth -= 1
                continue
            if not isinstance(event, yaml.NodeEvent) or isinstance(event, yaml.AliasEvent):
                continue
            nodes += 1
            opens = isinstance(event, yaml.CollectionStartEvent)
            mark = event.start_mark
            if nodes > MAX_NODES:
                raise _too_large(
                    name,
                    mark,
                    f"the file holds more than {MAX_NODES:,} YAML values; a config is "
                    f"expected to be smaller",
                )
            if depth + 1 > MAX_DEPTH:
                raise _too_large(
                    name,
                    mark,
                    f"lists and mappings are nested more than {MAX_DEPTH} levels deep",
                )
            depth += opens
    except yaml.YAMLError:
        return  # reported, with its place, by the loading that follows
    finally:
        parser.dispose()


def _load(loader_class: Any, text: str, name: str) -> Source:
    loader = None
    try:
        loader = loader_class(text)  # checks the characters of the whole text
        loader.source_name = name
        root = loader.get_single_node()
        if root is None or (
            isinstance(root, yaml.ScalarNode) and root.value == "" and not root.style
        ):  # nothing, or only "---"
            raise ConfigError(
                name,
                [
                    Problem(
                        "the file is empty; expected a YAML mapping with a "
                        "'graph:' (or 'model:') section"
                    )
                ],
            )
        positions, keys = _positions(root, name)
        data = loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or exc.context or "invalid YAML"
        if isinstance(exc, yaml.constructor.ConstructorError) and "tag" in what:
            what = f"{what}; only plain YAML data is accepted (tags that build objects are refused)"
        elif "unhashable key" in what:
            what = "a mapping key is a list or a mapping; expected a name"
        elif exc.context and what.startswith("but "):  # "expected a single document …"
            what = f"{exc.context}, {what}"
        elif isinstance(exc, yaml.constructor.ConstructorError) and exc.context:
            what = f"{exc.context}: {what}"
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise ConfigError(
            name, [Problem(f"YAML error: {what}", line=line, column=column)]
        ) from None
    except yaml.reader.ReaderError as exc:
        # A character YAML does not allow (a control character such as NUL).
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        what = (
            f"character {exc.character:#06x} is not allowed in YAML"
            if isinstance(exc.character, int)
            else exc.reason
        )
        problem = Problem(f"YAML error: {what}", line=line, column=column)
        raise ConfigError(name, [problem]) from None
    except yaml.YAMLError as exc:
        what = " ".join(str(exc).split())
        raise ConfigError(name, [Problem(f"YAML error: {what}")]) from None
    finally:
        if loader is not None:
            loader.dispose()
    return Source(name=name, data=data, positions=positions, key_positions=keys)
