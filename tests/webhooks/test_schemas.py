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
    | st.text(max_size=6)
)
values = strategies.json_values(scalars, keys, max_leaves=10)
leaves = st.one_of(
    st.sampled_from(
        [
            {"type": "string"},
            {"type": "integer"},
            {"type": "number", "multipleOf": 0.5},
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
    assert compiled.fast is not None
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
