"""JSON Schema (2020-12) checks: compiled validators cached per template, errors as field causes."""

from __future__ import annotations

import collections
import re
from typing import Any

import jsonschema
import orjson
import referencing
from jsonschema import exceptions as js_exceptions

from webhooks import decisions

# Enough distinct templates for any real cluster; bounded so a churn of versions cannot leak.
CACHE_SIZE = 2048
# A single cause message is cut here: jsonschema repeats whole instances in its messages.
MAX_CAUSE_MESSAGE = 240

# No remote $ref retrieval, ever: admission must not do I/O. Metaschemas still resolve.
REGISTRY: referencing.Registry = referencing.Registry()
_META = jsonschema.Draft202012Validator(jsonschema.Draft202012Validator.META_SCHEMA)
_validators: collections.OrderedDict[Any, jsonschema.protocols.Validator] = (
    collections.OrderedDict()
)
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def field_path(prefix: str, parts: Any) -> str:
    """A Kubernetes-style field path: `spec.parameters.a[0].b`, odd keys as `[key]`."""
    out = prefix
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.match(str(part)):
            out += f".{part}" if out else str(part)
        else:
            out += f"[{part}]"
    return out


def schema_key(schema: Any, identity: tuple[str, str] | None = None) -> Any:
    """The cache key: (uid, resourceVersion) when known, else the schema's canonical bytes."""
    if identity and all(identity):
        return identity
    return orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)


def validator(schema: Any, identity: tuple[str, str] | None = None) -> Any:
    """A compiled 2020-12 validator for a schema, cached by template identity or content."""
    key = schema_key(schema, identity)
    found = _validators.get(key)
    if found is None:
        found = jsonschema.Draft202012Validator(schema, registry=REGISTRY)
        _validators[key] = found
        if len(_validators) > CACHE_SIZE:
            _validators.popitem(last=False)
    return found


def _short(text: str) -> str:
    return text if len(text) <= MAX_CAUSE_MESSAGE else text[: MAX_CAUSE_MESSAGE - 3] + "..."


def _causes_of(error: js_exceptions.ValidationError, prefix: str) -> list[decisions.Cause]:
    path = list(error.absolute_path)
    kind = error.validator
    if kind == "required" and isinstance(error.instance, dict):
        missing = [p for p in error.validator_value if p not in error.instance]
        name = next((m for m in missing if repr(m) in error.message), None)
        if name is not None:
            return [
                decisions.Cause(
                    field_path(prefix, [*path, name]), "Required value", "FieldValueRequired"
                )
            ]
    if kind in ("additionalProperties", "unevaluatedProperties") and isinstance(
        error.instance, dict
    ):
        schema = error.schema if isinstance(error.schema, dict) else {}
        declared = schema.get("properties") or {}
        patterns = [re.compile(p) for p in (schema.get("patternProperties") or {})]
        extras = [
            k
            for k in error.instance
            if k not in declared and not any(p.search(k) for p in patterns)
        ]
        if extras:
            return [
                decisions.Cause(
                    field_path(prefix, [*path, k]),
                    f"Forbidden: field {k!r} is not allowed by the schema",
                    "FieldValueForbidden",
                )
                for k in sorted(extras)
            ]
    reason = {
        "enum": "FieldValueNotSupported",
        "const": "FieldValueNotSupported",
        "maxLength": "FieldValueTooLong",
        "maxItems": "FieldValueTooMany",
        "maxProperties": "FieldValueTooMany",
    }.get(str(kind), "FieldValueInvalid")
    return [decisions.Cause(field_path(prefix, path), _short(error.message), reason)]


def instance_causes(checker: Any, instance: Any, prefix: str) -> list[decisions.Cause]:
    """Every error of `instance` against a compiled validator, as causes sorted by field."""
    causes: list[decisions.Cause] = []
    for error in checker.iter_errors(instance):
        causes.extend(_causes_of(error, prefix))
    unique = {(c.field, c.message): c for c in causes}
    return sorted(unique.values(), key=lambda c: (c.field, c.message))


def schema_causes(schema: Any, prefix: str) -> list[decisions.Cause]:
    """Why `schema` is not a valid JSON Schema (2020-12 metaschema); empty when it is."""
    causes = [
        decisions.Cause(field_path(prefix, e.absolute_path), _short(e.message))
        for e in _META.iter_errors(schema)
    ]
    if causes:
        return sorted(causes, key=lambda c: (c.field, c.message))
    try:
        jsonschema.Draft202012Validator(schema, registry=REGISTRY).is_valid({})
    except referencing.exceptions.Unresolvable as exc:
        return [decisions.Cause(prefix, _short(f"unresolvable $ref: {exc}"))]
    except js_exceptions.SchemaError as exc:
        return [decisions.Cause(prefix, _short(str(exc.message)))]
    return []
