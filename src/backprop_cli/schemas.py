"""JSON Schemas (draft 2020-12) of the config format and of the JSON trace output.

``backprop schema config`` lets YAML editors validate and complete configs (the shipped ones
carry the ``yaml-language-server`` modeline pointing at ``schemas/config.schema.json``, a copy
of this output); ``backprop schema trace`` describes ``trace --format json`` and each line of
``--format jsonl``, ``backprop schema graph`` the output of ``graph --format json``.

The config schema is generated from the tables the loader itself checks against: the op table
(``ops.OPS``: op names, arity, options), the optimisers, the initialisers and the ``model:``
shorthands, so a new op needs no schema edit. The loader stays the authority: a schema cannot
say that a matrix is rectangular or that shapes match, and ``backprop validate`` can.
"""

from __future__ import annotations

import json
from typing import Any

from . import arrays, config, datafiles, models
from .ops import OPS, Op
from .optim import OPTIMIZERS
from .options import Option
from .render.graph import GRAPH_SCHEMA_VERSION
from .render.jsonout import FIELDS, SCHEMA_VERSION

DRAFT = "https://json-schema.org/draft/2020-12/schema"

# Names are identifiers; non-ASCII letters (ŷ, λ) are allowed, as in Python.
NAME = {
    "type": "string",
    "pattern": r"^[A-Za-z_\u00c0-\uffff][A-Za-z0-9_\u00c0-\uffff]*$",
    "description": "A name made of letters, digits and _, not starting with a digit.",
}


def _array_defs() -> dict[str, Any]:
    return {
        "array": {
            "description": "A number (scalar), a list of numbers (vector) or a nested list "
            "(matrix, row by row).",
            "anyOf": [
                {"type": "number"},
                {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/array"}},
            ],
        },
    }


def _data_file() -> dict[str, Any]:
    column = {"anyOf": [{"type": "string"}, {"type": "integer", "minimum": 0}]}
    props: dict[str, Any] = {
        "file": {
            "type": "string",
            "minLength": 1,
            "description": "A .csv or .npy file, relative to the config's folder.",
        },
        "column": {
            **column,
            "description": "CSV: one column (name or 0-based index) as a "
            "vector, one value per example.",
        },
        "columns": {
            "type": "array",
            "minItems": 1,
            "items": column,
            "description": "CSV: columns as a matrix, one row per column.",
        },
        "header": {
            "type": "boolean",
            "default": True,
            "description": "CSV: whether the first row names the columns.",
        },
        "transpose": {"type": "boolean", "default": False},
    }
    props.update({key: True for key in datafiles.KEYS if key not in props})
    return {
        "type": "object",
        "description": "Data read from a file beside the config.",
        "properties": props,
        "required": ["file"],
        "additionalProperties": False,
        "not": {"required": ["column", "columns"]},
    }


def _param() -> dict[str, Any]:
    trainable = {
        "type": "boolean",
        "default": True,
        "description": "false freezes the param: traced, never updated.",
    }
    return {
        "anyOf": [
            {"$ref": "#/$defs/array"},
            {
                "type": "object",
                "description": "A given value, trainable unless trainable: false.",
                "properties": {"value": {"$ref": "#/$defs/array"}, "trainable": trainable},
                "required": ["value"],
                "additionalProperties": False,
            },
            {
                "type": "object",
                "description": "An initialised param.",
                "properties": {
                    "init": {
                        "enum": list(arrays.INITS),
                        "description": "zeros, normal (scale·N(0,1)), uniform "
                        "(U(−scale, scale)) or xavier (Glorot uniform).",
                    },
                    "shape": {
                        "anyOf": [
                            {"type": "integer", "minimum": 1},
                            {
                                "type": "array",
                                "maxItems": 8,
                                "items": {"type": "integer", "minimum": 1},
                            },
                        ]
                    },
                    "seed": {
                        "type": "integer",
                        "minimum": 0,
                        "description": "Default: derived from the param's name.",
                    },
                    "scale": {"type": "number", "exclusiveMinimum": 0, "default": 1.0},
                    "trainable": trainable,
                },
                "required": ["init"],
                "additionalProperties": False,
            },
        ],
    }


def _option(option: Option) -> dict[str, Any]:
    """An op's or an optimiser's option, as ``Option.check`` accepts it."""
    spec: dict[str, Any] = {"description": option.doc}
    if option.kind in ("number", "int"):
        spec["type"] = "number" if option.kind == "number" else "integer"
        if option.minimum is not None:
            spec["exclusiveMinimum" if option.exclusive_minimum else "minimum"] = option.minimum
        if option.maximum is not None:
            spec["maximum"] = option.maximum
    elif option.kind == "bool":
        spec["type"] = "boolean"
    elif option.kind == "choice":
        spec["enum"] = list(option.choices)
    elif option.kind == "axis":
        spec["type"] = ["integer", "null"]
    elif option.kind == "axes":
        spec.update(type="array", minItems=1, uniqueItems=True, items={"type": "integer"})
    elif option.kind == "pair":
        low = {"type": "integer", "minimum": 0 if option.minimum is None else option.minimum}
        spec["anyOf"] = [low, {"type": "array", "items": low, "minItems": 2, "maxItems": 2}]
    elif option.kind == "shape":
        spec.update(
            type="array",
            minItems=1,
            items={"anyOf": [{"type": "integer", "minimum": 1}, {"const": -1}]},
        )
    if not option.required and not (option.kind == "number" and option.default is None):
        spec["default"] = (
            list(option.default) if isinstance(option.default, tuple) else option.default
        )
    return spec


def _op_rule(op: Op) -> dict[str, Any]:
    """``if op is X then`` its args and options."""
    args: dict[str, Any] = {"type": "array", "items": {"$ref": "#/$defs/arg"}}
    if op.arity is None:
        args["minItems"] = 1
    else:
        args["minItems"], args["maxItems"] = op.arity - op.optional, op.arity
    if op.arity == 1:
        args = {"anyOf": [{"$ref": "#/$defs/name"}, args]}
    args["description"] = f"{op.name} takes {op.arity_text()}."
    properties: dict[str, Any] = {"name": True, "op": True, "args": args}
    required = ["name", "op", "args"]
    for key, option in op.options.items():
        properties[key] = _option(option)
        if option.required:
            required.append(key)
    return {
        "if": {"properties": {"op": {"const": op.name}}, "required": ["op"]},
        "then": {"properties": properties, "required": required, "additionalProperties": False},
    }


def _node() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "One node: name = op(args), with the op's options beside.",
        "properties": {
            "name": {"$ref": "#/$defs/name"},
            "op": {
                "enum": list(OPS),
                "description": "; ".join(f"{op.name}: {op.summary}" for op in OPS.values()),
            },
            "args": {
                "anyOf": [
                    {"$ref": "#/$defs/name"},
                    {"type": "array", "items": {"$ref": "#/$defs/arg"}},
                ]
            },
        },
        "required": ["name", "op", "args"],
        "allOf": [_op_rule(op) for op in OPS.values()],
    }


def _optimizer() -> dict[str, Any]:
    rules = []
    for name, cls in OPTIMIZERS.items():
        props: dict[str, Any] = {"name": True}
        props.update({key: _option(option) for key, option in cls.options.items()})
        required = [key for key, option in cls.options.items() if option.required]
        then: dict[str, Any] = {"properties": props, "additionalProperties": False}
        if required:
            then["required"] = required
        # Without a name the optimiser is sgd: only sgd's rule applies to a nameless mapping.
        condition: dict[str, Any] = {"properties": {"name": {"const": name}}}
        if name != "sgd":
            condition["required"] = ["name"]
        rules.append({"if": condition, "then": then})
    return {
        "anyOf": [
            {"enum": list(OPTIMIZERS)},
            {
                "type": "object",
                "properties": {"name": {"enum": list(OPTIMIZERS), "default": "sgd"}},
                "allOf": rules,
            },
        ],
        "default": {"name": "sgd", "lr": 0.1},
    }


def _model() -> dict[str, Any]:
    types: dict[str, Any] = {
        "input": {"$ref": "#/$defs/name", "description": "The data tensor fed in (default x)."},
        "target": {"$ref": "#/$defs/name", "description": "The labels (default y)."},
        "prediction": {"$ref": "#/$defs/name", "description": "Default y_hat."},
        "loss": {"enum": list(models.LOSSES)},
        "hidden": {
            "anyOf": [
                {"type": "integer", "minimum": 1},
                {"type": "array", "items": {"type": "integer", "minimum": 1}},
            ],
            "description": "Hidden layer sizes (default [4]).",
        },
        "outputs": {
            "type": "integer",
            "minimum": 1,
            "description": "Output size (default: from the target).",
        },
        "activation": {
            "anyOf": [
                {"enum": list(models.ACTIVATIONS)},
                {"type": "array", "items": {"enum": list(models.ACTIVATIONS)}},
            ],
            "description": "One for every hidden layer, or a list, one per layer.",
        },
        "bias": {
            "anyOf": [{"type": "boolean"}, {"type": "array", "items": {"type": "boolean"}}],
            "default": False,
            "description": "For every layer, or a list, one per layer.",
        },
        "l1": {"type": "number", "minimum": 0, "description": "λ of the ℓ1 term (default 0)."},
        "l2": {"type": "number", "minimum": 0, "description": "λ of the ℓ2 term (default 0)."},
        "init": {"enum": list(arrays.INITS)},
        "seed": {"type": "integer", "minimum": 0},
        "conv": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {key: True for key in models.CONV_KEYS},
                "additionalProperties": False,
            },
            "description": "The conv layers of a cnn: channels, kernel, stride, padding, "
            "activation, bias, batch_norm, pool ({kind: max or avg, kernel, stride, padding}).",
        },
    }
    per_model = {"linear": {"loss": {"enum": list(models.LINEAR_LOSSES)}}}
    rules = []
    for name, keys in models.MODEL_KEYS.items():
        props = {
            key: (True if key == "name" else per_model.get(name, {}).get(key, types.get(key, True)))
            for key in keys
        }
        rules.append(
            {
                "if": {"properties": {"name": {"const": name}}},
                "then": {"properties": props, "additionalProperties": False},
            }
        )
    return {
        "description": "A shorthand that expands into params and graph nodes.",
        "anyOf": [
            {"enum": list(models.MODELS)},
            {
                "type": "object",
                "properties": {"name": {"enum": list(models.MODELS)}},
                "required": ["name"],
                "allOf": rules,
            },
        ],
    }


def config_schema() -> dict[str, Any]:
    return {
        "$schema": DRAFT,
        "title": "backprop-cli config",
        "description": "A network and its data for 'backprop trace': data, params, graph (or "
        "model), objective, optimizer, steps.",
        "type": "object",
        "properties": {
            "data": {
                "type": "object",
                "description": "Constant tensors: inputs, labels.",
                "propertyNames": {"$ref": "#/$defs/name"},
                "additionalProperties": {
                    "anyOf": [{"$ref": "#/$defs/array"}, {"$ref": "#/$defs/data_file"}]
                },
            },
            "params": {
                "type": "object",
                "description": "Trainable tensors.",
                "propertyNames": {"$ref": "#/$defs/name"},
                "additionalProperties": {"$ref": "#/$defs/param"},
            },
            "graph": {
                "type": "array",
                "minItems": 1,
                "items": {"$ref": "#/$defs/node"},
                "description": "The forward computation, in order, one node per entry.",
            },
            "model": {"$ref": "#/$defs/model"},
            "objective": {
                "$ref": "#/$defs/name",
                "description": "The scalar node to minimise (default: the last).",
            },
            "optimizer": {"$ref": "#/$defs/optimizer"},
            "steps": {"type": "integer", "minimum": 1, "maximum": config.MAX_STEPS, "default": 1},
        },
        "additionalProperties": False,
        "oneOf": [{"required": ["graph"]}, {"required": ["model"]}],
        "$defs": {
            "name": NAME,
            "arg": {
                "description": "An input: the name of a tensor or an earlier node, or a literal "
                "constant (a number or a list of numbers).",
                "anyOf": [{"$ref": "#/$defs/name"}, {"$ref": "#/$defs/array"}],
            },
            **_array_defs(),
            "data_file": _data_file(),
            "param": _param(),
            "node": _node(),
            "optimizer": _optimizer(),
            "model": _model(),
        },
    }


# --------------------------------------------------------------------------------------------
# The JSON output of ``trace``
# --------------------------------------------------------------------------------------------


def _obj(
    required: dict[str, Any],
    optional: dict[str, Any] | None = None,
    extra: bool = True,
    description: str | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object"}
    if description:
        out["description"] = description
    out["properties"] = {**required, **(optional or {})}
    out["required"] = list(required)
    if not extra:
        out["additionalProperties"] = False
    return out


def trace_schema() -> dict[str, Any]:
    value = {"$ref": "#/$defs/value"}
    values = {"type": "object", "additionalProperties": value}
    string = {"type": "string"}
    count = {"type": "integer", "minimum": 1}
    step_fields = {
        "step": count,
        "forward": {
            **values,
            "description": "Values at the start of the step: data, params, then nodes.",
        },
        "intermediates": {
            **values,
            "description": "The named intermediate values of ops that have them, written with "
            "forward: 'bn.μ', 'bn.σ²', 'bn.x̂' of a batch_norm or layer_norm node 'bn' (μ and σ² "
            "have x's shape without the reduced axes). Present when the graph has such an op.",
        },
        "objective": {"anyOf": [{"type": "number"}, {"$ref": "#/$defs/nonfinite"}]},
        "backward": {
            "type": "array",
            "items": {"$ref": "#/$defs/edge"},
            "description": "One record per edge, in backward order.",
        },
        "grads": values,
        "grad_formulas": {"type": "object", "additionalProperties": string},
        "updates": {"type": "object", "additionalProperties": {"$ref": "#/$defs/update"}},
    }
    v2 = SCHEMA_VERSION
    ref = {"$ref": "#/$defs/ref"}
    value2 = {"anyOf": [value, ref]}
    step2_fields = {
        "step": count,
        "objective": step_fields["objective"],
        "forward": step_fields["forward"],
        "intermediates": step_fields["intermediates"],
        "backward": {
            "type": "array",
            "items": {"$ref": "#/$defs/edge2"},
            "description": "One record per edge, in backward order: formulas, and the numbers "
            "that exist nowhere else; the others are references into the step.",
        },
        "grads": {
            **values,
            "description": "Every accumulated gradient: data, params, nodes (their formulas "
            "are the graph's grad_formulas).",
        },
        "updates": {"type": "object", "additionalProperties": {"$ref": "#/$defs/update2"}},
    }
    return {
        "$schema": DRAFT,
        "title": f"backprop-cli trace (JSON output, schema_version {v2}, or 1 with "
        f"--schema-version 1)",
        "description": "'backprop trace --format json' prints one document; '--format jsonl' "
        f"prints one record per line. Version {v2} (the default) writes every tensor of a step "
        "once and starts a jsonl stream with a header line; version 1 writes every number "
        "inline and each jsonl line is a step. New keys may be added within a schema version.",
        "oneOf": [
            {"$ref": "#/$defs/document"},
            {"$ref": "#/$defs/line"},
            {"$ref": "#/$defs/document2"},
            {"$ref": "#/$defs/line2"},
        ],
        "$defs": {
            "ref": _obj(
                {
                    "ref": {"enum": ["forward", "grads", "intermediates"]},
                    "name": string,
                },
                {
                    "transpose": {"const": True},
                    "shape": {"$ref": "#/$defs/shape"},
                },
                extra=False,
                description="The value of step[ref][name], written there; with transpose, that "
                "value transposed: the matrix of 'shape' that is it read row by row as a matrix "
                "of the reversed shape, transposed.",
            ),
            "fields": {
                "type": "array",
                "items": {"enum": list(FIELDS)},
                "minItems": 1,
                "uniqueItems": True,
                "description": "The parts of each step written (--fields).",
            },
            "document2": _obj(
                {
                    "schema_version": {"const": v2},
                    "fields": {"$ref": "#/$defs/fields"},
                    "graph": {"$ref": "#/$defs/graph"},
                    "steps": {"type": "array", "items": {"$ref": "#/$defs/step2"}},
                },
                {"anomaly": {"$ref": "#/$defs/anomaly"}},
            ),
            "line2": {
                "oneOf": [
                    _obj(
                        {
                            "kind": {"const": "header"},
                            "schema_version": {"const": v2},
                            "steps": {
                                **count,
                                "description": "How many step lines follow (fewer when an "
                                "anomaly stops the trace).",
                            },
                            "fields": {"$ref": "#/$defs/fields"},
                            "graph": {"$ref": "#/$defs/graph"},
                        },
                        description="The first line of a jsonl stream.",
                    ),
                    {
                        "allOf": [
                            {"$ref": "#/$defs/step2"},
                            {
                                "required": ["kind", "schema_version"],
                                "properties": {
                                    "kind": {"const": "step"},
                                    "schema_version": {"const": v2},
                                },
                            },
                        ]
                    },
                    _obj(
                        {
                            "kind": {"const": "anomaly"},
                            "schema_version": {"const": v2},
                            "anomaly": {"$ref": "#/$defs/anomaly"},
                        },
                        description="The last line of a trace stopped by a numerical anomaly.",
                    ),
                ]
            },
            "step2": _obj(
                {"step": count},
                {k: v for k, v in step2_fields.items() if k != "step"},
                description="One training step: the parts --fields selects. Further keys may "
                "be added.",
            ),
            "edge2": _obj(
                {
                    "index": count,
                    "node": string,
                    "op": string,
                    "input": string,
                    "upstream": value2,
                    "local": value2,
                    "global": value2,
                    "formula": {"$ref": "#/$defs/formula"},
                    "term": count,
                    "terms": count,
                },
                description="Upstream × local = global for one (node → input) edge; a "
                "number that the step holds elsewhere is a reference to it.",
            ),
            "update2": _obj(
                {
                    "after": value2,
                    "formula": string,
                    "state": {"type": "object", "additionalProperties": value2},
                },
                description="The param after the step and the optimiser's state; the value "
                "before is forward[param], the gradient grads[param].",
            ),
            "formula": _obj(
                {
                    "equation": string,
                    "upstream": string,
                    "local": string,
                    "global": string,
                    "target": string,
                }
            ),
            "nonfinite": {"enum": ["nan", "inf", "-inf"]},
            "value": {
                "description": "A float64 number, a non-finite value as a string, or a nested "
                "list of them (row-major).",
                "anyOf": [
                    {"type": "number"},
                    {"$ref": "#/$defs/nonfinite"},
                    {"type": "array", "items": {"$ref": "#/$defs/value"}},
                ],
            },
            "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
            "document": _obj(
                {
                    "schema_version": {"const": 1},
                    "graph": {"$ref": "#/$defs/graph"},
                    "steps": {"type": "array", "items": {"$ref": "#/$defs/step"}},
                },
                {"anomaly": {"$ref": "#/$defs/anomaly"}},
            ),
            "line": {
                "anyOf": [
                    {
                        "allOf": [
                            {"$ref": "#/$defs/step"},
                            {
                                "required": ["schema_version"],
                                "properties": {"schema_version": {"const": 1}},
                            },
                        ]
                    },
                    {
                        **_obj(
                            {
                                "schema_version": {"const": 1},
                                "anomaly": {"$ref": "#/$defs/anomaly"},
                            },
                            description="The last line of a trace stopped by a numerical anomaly.",
                        ),
                        "not": {"required": ["steps"]},
                    },
                ]
            },
            "anomaly": _obj(
                {
                    "step": count,
                    "pass": {"enum": ["forward", "backward", "update"]},
                    "node": string,
                    "input": {"type": ["string", "null"]},
                    "equation": string,
                    "quantity": string,
                    "shape": {"$ref": "#/$defs/shape"},
                    "nonfinite": {"$ref": "#/$defs/counts"},
                    "elements": {
                        "type": "array",
                        "items": _obj(
                            {
                                "index": {
                                    "type": "array",
                                    "items": {"type": "integer", "minimum": 0},
                                },
                                "value": {"$ref": "#/$defs/nonfinite"},
                            }
                        ),
                    },
                    "inputs": {
                        "type": "array",
                        "items": _obj(
                            {
                                "name": string,
                                "shape": {"$ref": "#/$defs/shape"},
                                "min": {"type": ["number", "null"]},
                                "max": {"type": ["number", "null"]},
                                "nonfinite": {"$ref": "#/$defs/counts"},
                            },
                            {"value": value},
                            description="What went into the value: min and max of "
                            "its finite elements; the value itself up "
                            "to 32 elements.",
                        ),
                    },
                    "message": string,
                },
                description="The first NaN or ±Inf of a trace stopped with exit code 3: "
                "where it appeared and what went into it.",
            ),
            "counts": _obj(
                {key: {"type": "integer", "minimum": 0} for key in ("nan", "inf", "-inf")}
            ),
            "graph": _obj(
                {
                    "objective": string,
                    "optimizer": _obj({"name": string, "lr": {"type": "number"}}),
                    "tensors": {
                        "type": "array",
                        "items": _obj(
                            {
                                "name": string,
                                "kind": {"enum": ["data", "param"]},
                                "shape": {"$ref": "#/$defs/shape"},
                                "trainable": {"type": "boolean"},
                            }
                        ),
                    },
                    "nodes": {
                        "type": "array",
                        "items": _obj(
                            {
                                "name": string,
                                "op": string,
                                "args": {"type": "array", "items": string},
                                "equation": string,
                                "shape": {"$ref": "#/$defs/shape"},
                            },
                            {
                                "intermediates": {
                                    "type": "object",
                                    "additionalProperties": string,
                                    "description": "The equations of the op's named "
                                    "intermediate values, by the name the step's "
                                    "'intermediates' holds them under ('bn.μ').",
                                }
                            },
                            description="A graph node; its op's options sit beside these keys.",
                        ),
                    },
                },
                {
                    "constants": {
                        "type": "object",
                        "additionalProperties": value,
                        "description": "The literal constants written in args, by the text "
                        "that stands for them in args and equations (only when there are any).",
                    },
                    "grad_formulas": {
                        "type": "object",
                        "additionalProperties": string,
                        "description": "Version 2, when the steps hold grads: each gradient's "
                        "formula as a sum of the edges' terms, the same at every step "
                        "('∂J/∂W1 = ∂J/∂z · xᵀ + λW1'). Version 1 writes them in every step.",
                    },
                },
                description="The config after expansion.",
            ),
            "step": _obj(
                {"step": count},
                {k: v for k, v in step_fields.items() if k != "step"},
                description="One training step of version 1: the parts --fields selects "
                "(all by default). Further keys may be added.",
            ),
            "edge": _obj(
                {
                    "index": count,
                    "node": string,
                    "op": string,
                    "input": string,
                    "upstream": value,
                    "local": value,
                    "global": value,
                    "formula": _obj(
                        {
                            "equation": string,
                            "upstream": string,
                            "local": string,
                            "global": string,
                            "target": string,
                        }
                    ),
                    "term": count,
                    "terms": count,
                },
                description="Upstream × local = global for one (node → input) edge.",
            ),
            "update": _obj(
                {
                    "before": value,
                    "grad": value,
                    "after": value,
                    "formula": string,
                    "state": values,
                }
            ),
        },
    }


# --------------------------------------------------------------------------------------------
# The JSON output of ``graph``
# --------------------------------------------------------------------------------------------


def graph_schema() -> dict[str, Any]:
    string = {"type": "string"}
    value = {"$ref": "#/$defs/value"}
    trace_defs = trace_schema()["$defs"]
    return {
        "$schema": DRAFT,
        "title": f"backprop-cli graph (JSON output, schema_version {GRAPH_SCHEMA_VERSION})",
        "description": "'backprop graph --format json': the named tensors and the edges between "
        "them; with --backward the edges are reversed and carry their gradient; "
        "with --step, values and gradients. New keys may be added within schema "
        "version 1.",
        **_obj(
            {
                "schema_version": {"const": GRAPH_SCHEMA_VERSION},
                "objective": string,
                "direction": {"enum": ["forward", "backward"]},
                "step": {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}]},
                "nodes": {
                    "type": "array",
                    "items": _obj(
                        {
                            "name": string,
                            "kind": {"enum": ["data", "param", "op"]},
                            "shape": {"$ref": "#/$defs/shape"},
                        },
                        {
                            "trainable": {"type": "boolean"},
                            "op": string,
                            "symbol": string,
                            "args": {"type": "array", "items": string},
                            "equation": string,
                            "active": {"type": "boolean"},
                            "value": value,
                            "grad": value,
                        },
                        description="A tensor: data, param, or the output of an op node.",
                    ),
                },
                "edges": {
                    "type": "array",
                    "items": _obj(
                        {
                            "from": string,
                            "to": string,
                            "position": {"type": "integer", "minimum": 0},
                        },
                        {
                            "index": {"type": "integer", "minimum": 1},
                            "target": string,
                            "gradient": string,
                            "term": {"type": "integer", "minimum": 1},
                            "terms": {"type": "integer", "minimum": 1},
                            "value": value,
                        },
                        description="Input 'position' of a node: input → node, or with --backward "
                        "node → input with the gradient it carries.",
                    ),
                },
            }
        ),
        "$defs": {key: trace_defs[key] for key in ("nonfinite", "value", "shape")},
    }


SCHEMAS = {"config": config_schema, "trace": trace_schema, "graph": graph_schema}


def text(name: str) -> str:
    """The schema as printed by ``backprop schema NAME`` (and shipped in ``schemas/``)."""
    return json.dumps(SCHEMAS[name](), ensure_ascii=False, indent=2) + "\n"
