"""Structural-schema handling of custom resources: pruning, defaulting and validation.

kube-apiserver prunes fields a CRD's structural schema does not declare (unless
`x-kubernetes-preserve-unknown-fields`), applies `default`s, then validates the object and reports
every violation as a field error (`spec.type: Required value`, `spec.x: Unsupported value: ...`).
Validation uses `jsonschema` (OpenAPI v3 schemas are Draft 4 with `nullable` and
`x-kubernetes-int-or-string` extensions, translated here); jsonschema-rs confirms valid objects
quickly, jsonschema lists the errors. CRD CEL rules (`x-kubernetes-validations`) are not
evaluated.
"""

from __future__ import annotations

import copy
import datetime as dt
import ipaddress
import json
import re
import threading
from typing import Any

import jsonschema

from sim import errors, registry
from webhooks import schemas

Obj = dict[str, Any]
# Fields every object keeps regardless of its schema.
ROOT_FIELDS = ("apiVersion", "kind", "metadata")

_validators: dict[int, tuple[Obj, schemas.Compiled]] = {}
_lock = threading.Lock()


_MAPS = ("properties", "patternProperties", "definitions")
_SCHEMAS = ("items", "additionalProperties", "not")
_LISTS = ("allOf", "anyOf", "oneOf")


def _translate(node: Any) -> Any:
    """An OpenAPI v3 schema node as a Draft 4 JSON Schema node (values such as `enum` and
    `default` are kept as they are; only subschemas are translated)."""
    if not isinstance(node, dict):
        return node
    out: Obj = {}
    for key, value in node.items():
        if key.startswith("x-kubernetes-") or key == "nullable":
            continue
        if key in _MAPS and isinstance(value, dict):
            out[key] = {k: _translate(v) for k, v in value.items()}
        elif key in _SCHEMAS:
            out[key] = _translate(value) if isinstance(value, dict) else value
        elif key in _LISTS and isinstance(value, list):
            out[key] = [_translate(v) for v in value]
        else:
            out[key] = value
    if node.get("x-kubernetes-int-or-string"):
        out.pop("anyOf", None)
        out["type"] = ["integer", "string"]
    if node.get("nullable"):
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        if isinstance(out.get("enum"), list):
            out["enum"] = [*out["enum"], None]
    return out


# Formats kube-apiserver checks on custom resources (k8s.io/kube-openapi strfmt), the common ones.
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_UUID = re.compile(
    r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
)
FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks("date-time")
def _date_time(value: object) -> bool:
    if not isinstance(value, str) or not _DATE_TIME.match(value):
        return not isinstance(value, str)
    try:
        dt.datetime.fromisoformat(value.replace("z", "Z").replace("t", "T").replace(" ", "T"))
    except ValueError:
        return False
    return True


@FORMATS.checks("date")
def _date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


@FORMATS.checks("int32")
def _int32(value: object) -> bool:
    return not isinstance(value, int) or -(2**31) <= value < 2**31


@FORMATS.checks("int64")
def _int64(value: object) -> bool:
    return not isinstance(value, int) or -(2**63) <= value < 2**63


@FORMATS.checks("uuid")
def _uuid(value: object) -> bool:
    return not isinstance(value, str) or bool(_UUID.match(value))


@FORMATS.checks("ipv4")
def _ipv4(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        return isinstance(ipaddress.ip_address(value), ipaddress.IPv4Address)
    except ValueError:
        return False


# Integer formats as bounds, for the fast validator (its custom formats only see strings).
_INT_BOUNDS = {"int32": 2**31, "int64": 2**63}


def _bounded(node: Any) -> Any:
    """A translated schema with int32/int64 formats restated as bounds: the same accepted set,
    in terms jsonschema-rs checks on numbers."""
    if not isinstance(node, dict):
        return node
    out: Obj = {}
    for key, value in node.items():
        if key in _MAPS and isinstance(value, dict):
            out[key] = {k: _bounded(v) for k, v in value.items()}
        elif key in _SCHEMAS or (key in _LISTS and isinstance(value, list)):
            out[key] = [_bounded(v) for v in value] if isinstance(value, list) else _bounded(value)
        elif not (key == "required" and value == []):  # Draft 4 wants it non-empty; same meaning
            out[key] = value
    fmt = out.get("format")
    bound = _INT_BOUNDS.get(fmt) if isinstance(fmt, str) else None
    if bound is None:
        return out
    del out["format"]
    return {"allOf": [out, {"minimum": -bound, "maximum": bound - 1}]}


def _fast(translated: Obj) -> Any:
    """A jsonschema-rs validator accepting exactly what the reference accepts, or None."""
    string_formats = {
        name: check for name, (check, _) in FORMATS.checkers.items() if name not in _INT_BOUNDS
    }
    return schemas.fast(
        translated,
        lambda s: schemas.fast_validators.Draft4Validator(
            _bounded(s), formats=string_formats, validate_formats=True
        ),
    )


def validator(schema: Obj) -> schemas.Compiled:
    """A compiled validator for an openAPIV3Schema, cached for the life of the schema object:
    jsonschema for the verdict and the errors, jsonschema-rs to confirm valid objects quickly."""
    with _lock:
        hit = _validators.get(id(schema))
        if hit is not None and hit[0] is schema:
            return hit[1]
        translated = _translate(schema)
        compiled = schemas.Compiled(
            jsonschema.Draft4Validator(translated, format_checker=FORMATS), _fast(translated)
        )
        _validators[id(schema)] = (schema, compiled)
        return compiled


def _path(parts: Any) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _show(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(_json_type(value))
    return json.dumps(value)


def _cause(error: jsonschema.ValidationError) -> dict[str, str]:
    """A jsonschema error as the field error kube-apiserver reports for it."""
    field = _path(error.absolute_path)
    value, rule = error.instance, error.validator
    here = field or "<root>"
    if rule == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        return errors.field_error(
            f"{field}.{missing}" if field else missing, "FieldValueRequired", "Required value"
        )
    if rule == "enum":
        allowed = ", ".join(json.dumps(v) for v in error.validator_value)
        return errors.field_error(
            field,
            "FieldValueNotSupported",
            f"Unsupported value: {_show(value)}: supported values: {allowed}",
        )
    if rule == "type":
        want = error.validator_value
        want = " or ".join(want) if isinstance(want, list) else want
        got = json.dumps(_json_type(value))
        return errors.field_error(
            field,
            "FieldValueTypeInvalid",
            f"Invalid value: {got}: {here} in body must be of type {want}: {got}",
        )
    if rule == "maxLength":
        return errors.field_error(
            field,
            "FieldValueTooLong",
            f"Too long: may not be more than {error.validator_value} bytes",
        )
    if rule == "maxItems":
        return errors.field_error(
            field,
            "FieldValueTooMany",
            f"Too many: {len(value)}: must have at most {error.validator_value} items",
        )
    texts = {
        "minimum": f"should be greater than or equal to {error.validator_value}",
        "maximum": f"should be less than or equal to {error.validator_value}",
        "pattern": f"should match '{error.validator_value}'",
        "minLength": f"should be at least {error.validator_value} chars long",
        "minItems": f"should have at least {error.validator_value} items",
        "format": f"must be of type {error.validator_value}: {_show(value)}",
    }
    detail = f"{here} in body {texts[rule]}" if rule in texts else error.message
    return errors.field_error(
        field, "FieldValueInvalid", f"Invalid value: {_show(value)}: {detail}"
    )


def validate(schema: Obj, obj: Obj) -> list[dict[str, str]]:
    """Every violation of `schema` by `obj`, as StatusCauses sorted by field.

    Metadata is the apiserver's to validate (see `sim.names`).
    """
    found = validator(schema).iter_errors(obj)
    causes = [
        _cause(e) for e in found if not (e.absolute_path and e.absolute_path[0] == "metadata")
    ]
    causes.sort(key=lambda c: (c["field"], c["message"]))
    return causes


def _prune(node: Any, schema: Any, path: str, dropped: list[str], *, root: bool = False) -> Any:
    if not isinstance(schema, dict):
        return node
    if isinstance(node, list):
        items = schema.get("items")
        return [_prune(v, items, f"{path}[{i}]", dropped) for i, v in enumerate(node)]
    if not isinstance(node, dict):
        return node
    props = schema.get("properties")
    extra = schema.get("additionalProperties")
    keep_all = schema.get("x-kubernetes-preserve-unknown-fields") is True
    embedded = schema.get("x-kubernetes-embedded-resource") is True
    out: Obj = {}
    for key, value in node.items():
        where = f"{path}.{key}" if path else key
        if (root or embedded) and key in ROOT_FIELDS:
            out[key] = value
        elif isinstance(props, dict) and key in props:
            out[key] = _prune(value, props[key], where, dropped)
        elif isinstance(extra, dict):
            out[key] = _prune(value, extra, where, dropped)
        elif keep_all or extra is True:
            out[key] = value
        else:
            dropped.append(where)
    return out


def prune(schema: Obj, obj: Obj) -> tuple[Obj, list[str]]:
    """The object without fields its schema does not declare, and the dropped field paths."""
    dropped: list[str] = []
    return _prune(obj, schema, "", dropped, root=True), dropped


def _default(node: Any, schema: Any) -> Any:
    if not isinstance(schema, dict):
        return node
    if isinstance(node, list):
        return [_default(v, schema.get("items")) for v in node]
    if not isinstance(node, dict):
        return node
    props = registry.as_dict(schema.get("properties"))
    out = dict(node)
    for key, sub in props.items():
        if key not in out and isinstance(sub, dict) and "default" in sub:
            out[key] = copy.deepcopy(sub["default"])
        if key in out:
            out[key] = _default(out[key], sub)
    return out


def default(schema: Obj, obj: Obj) -> Obj:
    """The object with the schema's `default`s filled into absent fields."""
    return _default(obj, schema)
