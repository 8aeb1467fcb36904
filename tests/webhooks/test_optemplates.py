"""OperationTemplate validation: the inputSchema must be a valid 2020-12 JSON Schema."""

from __future__ import annotations

import pytest

from tests.webhooks import builders
from webhooks import optemplates


def template(schema, **spec):
    return {
        "apiVersion": "ops.vworkspace.io/v1alpha1",
        "kind": "OperationTemplate",
        "metadata": {"name": "t"},
        "spec": {"type": "Runbook", "engine": "workflow", "inputSchema": schema, **spec},
    }


def judge(obj, view, policy):
    return optemplates.validate_operation_template(builders.create(obj), view, policy)


@pytest.mark.parametrize(
    ("schema", "field"),
    [
        ({"type": "objekt"}, "spec.inputSchema.type"),
        ({"required": "x"}, "spec.inputSchema.required"),
        ({"properties": {"a": {"minLength": -1}}}, "spec.inputSchema.properties.a.minLength"),
        ({"pattern": 5}, "spec.inputSchema.pattern"),
    ],
)
def test_invalid_schemas_are_denied_with_the_path(schema, field, view, policy):
    decision = judge(template(schema), view, policy)
    assert (decision.reason, decision.code) == ("InvalidInputSchema", 422)
    assert decision.message.startswith("InvalidInputSchema: ")
    assert field in [c.field for c in decision.causes]


def test_each_schema_error_is_listed_once(view, policy):
    """The metaschema reaches `items` through several branches; one cause per error."""
    decision = judge(template({"items": [{"type": "string"}]}), view, policy)
    pairs = [(c.field, c.message) for c in decision.causes]
    assert pairs and len(pairs) == len(set(pairs))


def test_valid_schema_is_admitted(view, policy):
    schema = {
        "type": "object",
        "required": ["template"],
        "properties": {"template": {"type": "string"}},
    }
    assert judge(template(schema), view, policy).allowed


@pytest.mark.parametrize(
    ("schema", "field"),
    [
        ({"$ref": "https://example.invalid/schema.json"}, "spec.inputSchema.$ref"),
        ({"properties": {"a": {"$ref": "#/$defs/missing"}}}, "spec.inputSchema.properties.a.$ref"),
    ],
)
def test_unresolvable_refs_are_denied_without_fetching(schema, field, view, policy):
    decision = judge(template(schema), view, policy)
    assert decision.reason == "InvalidInputSchema"
    assert [c.field for c in decision.causes] == [field]
    assert "does not resolve" in decision.causes[0].message


def test_local_refs_and_the_metaschema_resolve(view, policy):
    schema = {
        "$defs": {"v": {"type": "string"}},
        "properties": {
            "a": {"$ref": "#/$defs/v"},
            "s": {"$ref": "https://json-schema.org/draft/2020-12/schema"},
        },
    }
    assert judge(template(schema), view, policy).allowed


@pytest.mark.parametrize(
    ("schema", "field"),
    [
        ({"properties": {"t": {"pattern": "(["}}}, "spec.inputSchema.properties.t.pattern"),
        ({"patternProperties": {"([": {}}}, "spec.inputSchema.patternProperties"),
    ],
)
def test_invalid_regexes_are_denied(schema, field, view, policy):
    decision = judge(template(schema), view, policy)
    assert decision.reason == "InvalidInputSchema"
    assert field in [c.field for c in decision.causes]


def test_advice_is_given_as_warnings(view, policy):
    schema = {"type": "object", "properties": {"timeoutSeconds": {"type": "integer"}}}
    obj = template(schema, engine="ansible", defaults={"timeoutSeconds": "soon"})
    decision = judge(obj, view, policy)
    assert decision.allowed
    assert any("engine catalog" in w for w in decision.warnings)
    assert any("timeoutSeconds" in w for w in decision.warnings)


def test_warn_mode_admits(view, policy):
    decision = judge(
        template({"type": "objekt"}), view, builders.with_modes(policy, InvalidInputSchema="warn")
    )
    assert decision.allowed
    assert decision.warnings[0].startswith("InvalidInputSchema: ")
