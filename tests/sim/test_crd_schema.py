"""Custom-resource validation: the jsonschema-rs fast path accepts exactly what the reference
(jsonschema with kube-apiserver's formats) accepts, on generated OpenAPI v3 schemas and on the
CRDs we ship with real objects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim import schema as crd_schema
from tests import strategies
from webhooks import manifests, schemas

pytest.importorskip("jsonschema_rs", reason="jsonschema-rs has no wheel for this platform")

REPO = Path(__file__).resolve().parents[2]
keys = st.sampled_from(["a", "b", "enum", "default", "format"])
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**65), 2**65)
    | st.sampled_from([2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**63 - 1, 2**63, -(2**63)])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([0.07, 0.3, 6, 6.0])
    | st.sampled_from(
        [
            "2026-01-02T03:04:05Z",
            "2026-01-02T03:04:05.5+01:00",
            "2026-13-02T03:04:05Z",
            "2026-01-02",
            "2026-02-30",
            "10.0.0.1",
            "::1",
            "123e4567-e89b-12d3-a456-426614174000",
            "x",
            "",
        ]
    )
    | st.text(max_size=5)
)
values = strategies.json_values(scalars, keys, max_leaves=10)
leaves = st.sampled_from(
    [
        {"type": "string"},
        {"type": "string", "nullable": True},
        {"type": "integer", "format": "int32"},
        {"type": "integer", "format": "int64", "minimum": 0},
        {"type": "integer", "format": "int64", "nullable": True},
        {"type": "number"},
        {"type": "number", "multipleOf": 0.01},
        {"type": "integer", "multipleOf": 3},
        {"type": "boolean"},
        {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]},
        {"type": "string", "format": "date-time"},
        {"type": "string", "format": "date"},
        {"type": "string", "format": "uuid"},
        {"type": "string", "format": "ipv4"},
        {"type": "string", "format": "byte"},
        {"type": "string", "enum": ["a", "b"]},
        {"type": "string", "enum": ["a"], "nullable": True},
        {"type": "string", "pattern": "^[a-z]+$", "maxLength": 3},
        {"type": "array", "items": {"type": "integer", "format": "int32"}, "maxItems": 2},
        {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        {"type": "object", "additionalProperties": {"type": "string", "format": "date-time"}},
    ]
)


def objects(children: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda props, required: {
            "type": "object",
            "properties": props,
            "required": sorted(set(required)),
        },
        st.dictionaries(keys, children, max_size=4),
        st.lists(keys, max_size=2),
    )


def reference_valid(openapi: dict[str, Any], instance: Any) -> bool:
    translated = crd_schema._translate(openapi)
    return jsonschema.Draft4Validator(translated, format_checker=crd_schema.FORMATS).is_valid(
        instance
    )


@given(
    openapi=objects(leaves | objects(leaves)),
    instance=st.dictionaries(keys, values, max_size=4),
)
def test_fast_path_accepts_exactly_what_the_reference_accepts(openapi, instance):
    compiled = crd_schema.validator(openapi)
    assert (compiled.fast is not None) == schemas.fast_agrees(openapi)
    try:
        fast = compiled.fast.is_valid(instance)
    except Exception:  # numbers the Rust side cannot hold: the reference decides
        fast = None
    reference = reference_valid(openapi, instance)
    if fast is not None:
        assert fast == reference, (openapi, instance)
    assert (crd_schema.validate(openapi, instance) == []) == reference


def _crd_schemas() -> dict[str, dict[str, Any]]:
    out = {}
    for crd in manifests.load([REPO / "deploy/crds"]):
        if crd.get("kind") != "CustomResourceDefinition":
            continue
        for version in crd["spec"]["versions"]:
            out[crd["spec"]["names"]["kind"]] = version["schema"]["openAPIV3Schema"]
    return out


def test_shipped_crds_compile_a_fast_path_and_agree_on_the_examples():
    crds = _crd_schemas()
    assert {"Operation", "OperationTemplate"} <= set(crds)
    examples = manifests.load([REPO / "deploy/examples"])
    checked = 0
    for obj in examples:
        openapi = crds.get(obj.get("kind", ""))
        if openapi is None:
            continue
        compiled = crd_schema.validator(openapi)
        assert compiled.fast is not None, obj["kind"]
        assert compiled.fast.is_valid(obj) == reference_valid(openapi, obj)
        checked += 1
    assert checked


def test_a_fractional_multiple_of_is_judged_by_the_reference():
    openapi = {"type": "object", "properties": {"n": {"type": "number", "multipleOf": 0.01}}}
    assert crd_schema.validator(openapi).fast is None
    assert crd_schema.validate(openapi, {"n": 0.07}) != []  # jsonschema's float division
    assert crd_schema.validate(openapi, {"n": 0.5}) == []
