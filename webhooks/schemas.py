"""JSON Schema (2020-12) checks: compiled validators cached per template, errors as field causes."""

from __future__ import annotations

import ast
import collections
import dataclasses
import re
from collections.abc import Callable, Iterator
from typing import Any

import jsonschema
import orjson
import referencing
import referencing.exceptions
import referencing.jsonschema
from jsonschema import exceptions as js_exceptions
from jsonschema_specifications import REGISTRY as SPECIFICATIONS

from webhooks import decisions

try:  # the compiled validator is optional: jsonschema alone gives the same answers, slower
    import jsonschema_rs as fast_validators
except ImportError:  # pragma: no cover - depends on the platform's wheels
    fast_validators = None

# Enough distinct templates for any real cluster; bounded so a churn of versions cannot leak.
CACHE_SIZE = 2048
# A single cause message is cut here so one huge value cannot flood a denial.
MAX_CAUSE_MESSAGE = 240
# Values quoted in messages are cut here (the field path already says where).
MAX_VALUE = 60
# The base URI of an inputSchema without its own $id, for resolving its local $refs.
SCHEMA_URI = "urn:opgate:inputSchema"

# No remote $ref retrieval, ever: admission must not do I/O. Metaschemas still resolve.
REGISTRY: referencing.Registry[Any] = referencing.Registry()
# The 2020-12 metaschema with formats checked, so an invalid `pattern` regex is an error.
_META = jsonschema.Draft202012Validator(
    jsonschema.Draft202012Validator.META_SCHEMA,
    format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
)
_validators: collections.OrderedDict[Any, Any] = collections.OrderedDict()
_PLAIN_KEY = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$-]*$")
_REPR = re.compile(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*\"""")


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


@dataclasses.dataclass(frozen=True, slots=True)
class Compiled:
    """A schema compiled twice: `reference` (jsonschema: the verdict and the error list) and,
    where it can be trusted, `fast` (jsonschema-rs) to confirm the common valid case quickly."""

    reference: Any
    fast: Any = None

    def iter_errors(self, instance: Any) -> Iterator[js_exceptions.ValidationError]:
        """The reference validator's errors (none, at once, when the fast one says valid)."""
        if self.fast is not None:
            try:
                if self.fast.is_valid(instance):
                    return iter(())
            except Exception:  # anything the Rust side cannot take: the reference decides
                pass
        return self.reference.iter_errors(instance)


def fast(schema: Any, build: Callable[[Any], Any] | None = None) -> Any:
    """A jsonschema-rs validator (`build(schema)`, default 2020-12) where it agrees with
    jsonschema (`fast_agrees`); None when unavailable or when it refuses the schema."""
    if fast_validators is None or not isinstance(schema, dict) or not fast_agrees(schema):
        return None
    try:
        return (build or fast_validators.Draft202012Validator)(schema)
    except Exception:  # a schema the Rust side refuses: the reference alone decides
        return None


def validator(schema: Any, identity: tuple[str, str] | None = None) -> Compiled:
    """A compiled 2020-12 validator for a schema, cached by template identity or content."""
    key = schema_key(schema, identity)
    found = _validators.get(key)
    if found is None:
        found = Compiled(jsonschema.Draft202012Validator(schema, registry=REGISTRY), fast(schema))
        _validators[key] = found
        if len(_validators) > CACHE_SIZE:
            _validators.popitem(last=False)
    return found


def show(value: Any) -> str:
    """A value as JSON (how kubectl users read it), cut to MAX_VALUE characters."""
    try:
        text = orjson.dumps(value).decode()
    except TypeError:
        text = str(value)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 3] + "..."


def _short(text: str) -> str:
    return text if len(text) <= MAX_CAUSE_MESSAGE else text[: MAX_CAUSE_MESSAGE - 3] + "..."


def _unexpected_keys(error: js_exceptions.ValidationError) -> list[str]:
    """The property names jsonschema itself reports as not allowed, from its message."""
    message = error.message
    if "(" in message and message.endswith(" unexpected)"):
        listed = message[message.index("(") + 1 :]
    else:
        listed = re.split(r" (?:do|does) not match any of the regexes", message)[0]
    keys = []
    for token in _REPR.findall(listed):
        try:
            key = ast.literal_eval(token)
        except (ValueError, SyntaxError):
            continue
        if isinstance(key, str) and isinstance(error.instance, dict) and key in error.instance:
            keys.append(key)
    return keys


def _message(error: js_exceptions.ValidationError) -> tuple[str, str]:
    """(reason, message) for one error, in the words Kubernetes uses for field errors."""
    kind, value, bound = error.validator, error.instance, error.validator_value
    shown = f"Invalid value: {show(value)}"
    if kind == "type":
        wanted = " or ".join(bound) if isinstance(bound, list) else str(bound)
        return "FieldValueInvalid", f"{shown}: must be of type {wanted}"
    if kind in ("enum", "const"):
        allowed = bound if kind == "enum" and isinstance(bound, list) else [bound]
        listed = ", ".join(show(v) for v in allowed)
        return (
            "FieldValueNotSupported",
            f"Unsupported value: {show(value)}: supported values: {listed}",
        )
    if kind == "minimum":
        return "FieldValueInvalid", f"{shown}: must be greater than or equal to {bound}"
    if kind == "maximum":
        return "FieldValueInvalid", f"{shown}: must be less than or equal to {bound}"
    if kind == "exclusiveMinimum":
        return "FieldValueInvalid", f"{shown}: must be greater than {bound}"
    if kind == "exclusiveMaximum":
        return "FieldValueInvalid", f"{shown}: must be less than {bound}"
    if kind == "minLength":
        return "FieldValueInvalid", f"{shown}: must be at least {bound} characters long"
    if kind == "maxLength":
        return "FieldValueTooLong", f"Too long: may not be more than {bound} characters"
    if kind == "pattern":
        return "FieldValueInvalid", f"{shown}: must match the regular expression {show(bound)}"
    if kind == "minItems":
        return "FieldValueInvalid", f"{shown}: must have at least {bound} items"
    if kind in ("maxItems", "maxProperties"):
        return "FieldValueTooMany", f"Too many: must have at most {bound} items"
    return "FieldValueInvalid", f"{shown}: {error.message}"


def _causes_of(error: js_exceptions.ValidationError, prefix: str) -> list[decisions.Cause]:
    path = list(error.absolute_path)
    kind = error.validator
    if kind == "required" and isinstance(error.instance, dict):
        missing = [p for p in error.validator_value if p not in error.instance]
        name = next((m for m in missing if repr(m) in error.message), None)
        if name is not None:
            field = field_path(prefix, [*path, name])
            return [decisions.Cause(field, "Required value", "FieldValueRequired")]
    if kind in ("additionalProperties", "unevaluatedProperties"):
        extras = _unexpected_keys(error)
        if extras:
            return [
                decisions.Cause(
                    field_path(prefix, [*path, k]),
                    "Forbidden: not allowed by the schema",
                    "FieldValueForbidden",
                )
                for k in sorted(extras)
            ]
    reason, message = _message(error)
    return [decisions.Cause(field_path(prefix, path), _short(message), reason)]


def instance_causes(checker: Any, instance: Any, prefix: str) -> list[decisions.Cause]:
    """Every error of `instance` against a compiled validator, as causes sorted by field."""
    causes: list[decisions.Cause] = []
    for error in checker.iter_errors(instance):
        causes.extend(_causes_of(error, prefix))
    if not causes:
        return causes
    unique = {(c.field, c.message): c for c in causes}
    return sorted(unique.values(), key=lambda c: (c.field, c.message))


def _keywords(node: Any, path: list[Any], keyword: str) -> Iterator[tuple[list[Any], Any]]:
    """Every use of `keyword` in a schema with its path and value (values of
    `enum`/`const`/`default`/`examples` are data, not schemas)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == keyword:
                yield [*path, key], value
            elif key not in ("enum", "const", "default", "examples"):
                yield from _keywords(value, [*path, key], keyword)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _keywords(value, [*path, index], keyword)


def _refs(node: Any, path: list[Any]) -> Iterator[tuple[list[Any], str]]:
    """Every `$ref` in a schema with its path."""
    return ((where, ref) for where, ref in _keywords(node, path, "$ref") if isinstance(ref, str))


def fast_agrees(schema: Any) -> bool:
    """Whether jsonschema-rs gives jsonschema's verdicts on this schema: every `$ref` local (it
    would fetch remote ones) and every `multipleOf` an integer (jsonschema divides floats, so
    0.07 is not a multiple of 0.01 there; jsonschema-rs says it is)."""
    if any(not ref.startswith("#") for _, ref in _refs(schema, [])):
        return False
    return all(
        isinstance(m, int) and not isinstance(m, bool)
        for _, m in _keywords(schema, [], "multipleOf")
    )


def _ref_causes(schema: dict[str, Any], prefix: str) -> list[decisions.Cause]:
    """A cause for each `$ref` that does not resolve without network access."""
    base = schema.get("$id") if isinstance(schema.get("$id"), str) else SCHEMA_URI
    resource = referencing.jsonschema.DRAFT202012.create_resource(schema)
    resolver = REGISTRY.with_resource(base, resource).combine(SPECIFICATIONS).resolver(base)
    causes = []
    for path, ref in _refs(schema, []):
        try:
            resolver.lookup(ref)
        except referencing.exceptions.Unresolvable:
            causes.append(
                decisions.Cause(
                    field_path(prefix, path),
                    f"Invalid value: {show(ref)}: $ref does not resolve within the schema "
                    "(remote references are not fetched)",
                )
            )
    return causes


def schema_causes(schema: Any, prefix: str) -> list[decisions.Cause]:
    """Why `schema` is not a valid, self-contained JSON Schema (2020-12); empty when it is."""
    causes = [
        decisions.Cause(field_path(prefix, e.absolute_path), _short(e.message))
        for e in _META.iter_errors(schema)
    ]
    if not causes and isinstance(schema, dict):
        try:
            causes = _ref_causes(schema, prefix)
        except Exception as exc:  # a schema the resolver cannot even load is invalid too
            causes = [decisions.Cause(prefix, _short(f"cannot load the schema: {exc}"))]
    unique = {(c.field, c.message): c for c in causes}  # metaschema branches repeat themselves
    return sorted(unique.values(), key=lambda c: (c.field, c.message))
