"""The compiled fast path agrees with jsonschema, the reference, on every generated pair."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests import strategies
from webhooks import schemas

rs = pytest.importorskip("jsonschema_rs", reason="jsonschema-rs has no wheel for this platform")

keys = st.sampled_from(["a", "b", "c", "n", "x-y", "ü"])
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([0.07, 0.3, 1.1, 6, 6.0])
    | st.text(max_size=6)
)
values = strategies.json_values(scalars, keys, max_leaves=10)
leaves = st.one_of(
    st.sampled_from(
        [
            {"type": "string"},
            {"type": "integer"},
            {"type": "number", "multipleOf": 0.5},
            {"type": "number", "multipleOf": 0.01},
            {"type": "number", "multipleOf": 3},
            {"type": "boolean"},
            {"type": "null"},
            {"type": ["string", "integer"]},
            {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
            {"type": "string", "pattern": "\\d+"},
            {"type": "string", "pattern": "^\\w+$"},
            {"type": "string", "format": "email"},
            {"type": "string", "minLength": 2, "maxLength": 4},
            {"type": "array", "items": {"type": "integer"}, "uniqueItems": True},
            {"enum": [1, 1.0, True, "1", None]},
            {"const": 0},
            {"not": {"type": "string"}},
            {"anyOf": [{"type": "integer", "minimum": 3}, {"type": "string"}]},
            {"oneOf": [{"type": "integer"}, {"type": "number"}]},
            {"exclusiveMaximum": 10},
            {"$ref": "#/$defs/name"},
        ]
    ),
    st.builds(lambda lo: {"type": "integer", "minimum": lo}, st.integers(-5, 5)),
)


def objects(children: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda props, required, extra, pattern: {
            "type": "object",
            "properties": props,
            "required": sorted(set(required)),
            "additionalProperties": extra,
            **({"patternProperties": {"^x-": {"type": "string"}}} if pattern else {}),
        },
        st.dictionaries(keys, children, max_size=4),
        st.lists(keys, max_size=2),
        st.booleans() | leaves,
        st.booleans(),
    )


def rooted(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "$defs": {"name": {"type": "string", "maxLength": 3}}}


@given(schema=objects(leaves | objects(leaves)).map(rooted), instance=values)
def test_fast_path_agrees_with_jsonschema(schema, instance):
    compiled = schemas.validator(schema)
    reference = jsonschema.Draft202012Validator(schema).is_valid(instance)
    assert (compiled.fast is not None) == schemas.fast_agrees(schema)
    try:
        fast = compiled.fast.is_valid(instance)
    except Exception:  # the compiled side may refuse an instance: the reference then decides
        fast = None
    if fast is not None:
        assert fast == reference, (schema, instance)
    assert (list(compiled.iter_errors(instance)) == []) == reference


def test_remote_refs_never_reach_the_fast_path():
    assert schemas.validator({"$ref": "https://example.invalid/s.json"}).fast is None
    assert schemas.validator({"$defs": {"a": {}}, "$ref": "#/$defs/a"}).fast is not None


@given(
    multiple=st.sampled_from([0.01, 0.1, 0.5, 2, 3]),
    instance=st.sampled_from([0.07, 0.3, 1.1, 6, 6.0, 7]) | st.floats(-100, 100),
)
def test_the_verdict_on_multiple_of_is_jsonschemas(multiple, instance):
    """jsonschema divides floats (0.07 is no multiple of 0.01 there); jsonschema-rs does not,
    so a fractional multipleOf keeps the fast path out."""
    schema = {"type": "number", "multipleOf": multiple}
    reference = jsonschema.Draft202012Validator(schema).is_valid(instance)
    assert (list(schemas.validator(schema).iter_errors(instance)) == []) == reference
