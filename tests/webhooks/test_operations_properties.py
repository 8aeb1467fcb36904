"""Property tests of the Operation decisions: schema verdicts, mutate-then-validate, robustness."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import jsonpatch
import jsonschema
from hypothesis import given
from hypothesis import strategies as st

from policies import loader, model
from tests import strategies
from tests.webhooks import builders
from webhooks import clusterview, decisions, operations, optemplates, review, schemas

from .conftest import example_objects, source_operation

POLICY = loader.load_policy()
STATE = example_objects()
KNOWN_REASONS = set(model.CHECKS)

names = st.sampled_from(["a", "b", "c", "count", "name", "x-y", "deep"])
json_scalars = st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=8)
json_values = strategies.json_values(json_scalars, names, max_leaves=10)

leaf_schemas = st.one_of(
    st.builds(lambda n: {"type": "string", "minLength": n}, st.integers(0, 3)),
    st.builds(lambda n: {"type": "string", "maxLength": n}, st.integers(0, 3)),
    st.just({"type": "string", "pattern": "^[a-z]+$"}),
    st.builds(lambda lo: {"type": "integer", "minimum": lo}, st.integers(-5, 5)),
    st.just({"type": "boolean"}),
    st.builds(lambda vs: {"enum": vs}, st.lists(json_scalars, min_size=1, max_size=3)),
    st.just({"type": "array", "items": {"type": "integer"}, "maxItems": 2}),
    st.just({}),
)


def object_schema(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda props, required, additional: {
            "type": "object",
            "properties": props,
            "required": sorted(set(required) & set(props)),
            "additionalProperties": additional,
        },
        st.dictionaries(names, children, max_size=4),
        st.lists(names, max_size=3),
        st.booleans(),
    )


def unevaluated(inner: dict[str, Any]) -> dict[str, Any]:
    """The same properties evaluated through allOf, closed by unevaluatedProperties."""
    props = inner.pop("properties")
    return {**inner, "allOf": [{"properties": props}], "unevaluatedProperties": False}


param_schemas = object_schema(leaf_schemas | object_schema(leaf_schemas))
param_schemas = param_schemas | param_schemas.map(unevaluated)


def view_with_schema(schema: dict[str, Any], defaults: dict[str, Any] | None = None):
    view = clusterview.ClusterIndex(copy.deepcopy(STATE))
    template = copy.deepcopy(view.operation_templates("Migration", "workflow")[0])
    template["spec"]["inputSchema"] = schema
    template["spec"]["defaults"] = defaults or {}
    template["spec"]["workflow"]["templateParameter"] = "template"
    view.upsert(template)
    return view


def operation_with(params: Any) -> dict[str, Any]:
    op = source_operation()
    op["spec"]["parameters"] = params
    return op


def parameters_causes(decision: decisions.Decision) -> set[str]:
    return {c.field for c in decision.causes} if decision.reason == "ParametersInvalid" else set()


@given(schema=param_schemas, params=st.dictionaries(names, json_values, max_size=5))
def test_parameter_verdict_agrees_with_jsonschema_and_lists_every_error(schema, params):
    params = {**params, "template": "app-migration-with-snapshot"}
    props = schema["properties"] if "properties" in schema else schema["allOf"][0]["properties"]
    props["template"] = {"type": "string"}
    view = view_with_schema(schema)
    results = operations.run_checks(operation_with(params), "org-myteam", view, POLICY)
    by_check = {r.check: r for r in results}
    checker = jsonschema.Draft202012Validator(schema)
    expected = list(checker.iter_errors(params))
    outcome = by_check["ParametersInvalid"].outcome
    assert (outcome == "fail") == bool(expected)
    if expected:
        fields = {c.field for c in by_check["ParametersInvalid"].failure.causes}
        for error in expected:
            at = schemas.field_path("spec.parameters", error.absolute_path)
            assert any(f == at or f.startswith((at + ".", at + "[")) for f in fields), (at, fields)
        # and nothing beyond: every reported field is under a path jsonschema reports
        paths = [schemas.field_path("spec.parameters", e.absolute_path) for e in expected]
        for field in fields:
            assert any(field == p or field.startswith((p + ".", p + "[")) for p in paths), field


@given(
    schema=param_schemas,
    defaults=st.dictionaries(names, json_values, max_size=4),
    params=st.dictionaries(names, json_values, max_size=4) | st.none(),
)
def test_mutation_then_validation_judges_the_filled_in_values(schema, defaults, params):
    view = view_with_schema(schema, defaults)
    op = source_operation()
    if params is None:
        del op["spec"]["parameters"]
    else:
        op["spec"]["parameters"] = params
    mutation = operations.mutate_operation(builders.create(op), view, POLICY)
    assert mutation.allowed
    patched = jsonpatch.apply_patch(op, list(mutation.patch))
    filled = patched["spec"].get("parameters")
    if params is None and not defaults:
        assert filled is None
    else:
        assert filled == {**defaults, **(params or {})}
    results = operations.run_checks(patched, "org-myteam", view, POLICY)
    by_check = {r.check: r for r in results}
    valid = jsonschema.Draft202012Validator(schema).is_valid(filled or {})
    if "ParametersInvalid" in by_check and valid and "template" in (filled or {}):
        assert by_check["ParametersInvalid"].outcome != "fail" or any(
            c.field == "spec.parameters.template"
            for c in by_check["ParametersInvalid"].failure.causes
        )
    if not valid:
        assert by_check["ParametersInvalid"].outcome == "fail"
    # mutation is idempotent: the filled-in object needs no further patch
    again = operations.mutate_operation(builders.create(patched), view, POLICY)
    assert again.patch == ()


anything = strategies.json_values(
    json_scalars | st.floats(allow_nan=False),
    st.sampled_from(["spec", "metadata", "engine", "type", "targetRef", "parameters", "x"])
    | st.text(max_size=5),
    max_leaves=25,
    max_size=4,
)


@given(obj=anything, spec=anything, operation=st.sampled_from(["CREATE", "UPDATE", "DELETE"]))
def test_decisions_never_raise_on_arbitrary_json(obj, spec, operation):
    view = clusterview.ClusterIndex(STATE)
    body = obj if isinstance(obj, dict) else {"value": obj}
    body = {**body, "apiVersion": "ops.vworkspace.io/v1alpha1", "kind": "Operation", "spec": spec}
    request = review.AdmissionRequest(
        uid="u", operation=operation, kind="Operation", group="ops.vworkspace.io",
        namespace="org-myteam", object=body, old_object={"spec": obj},
    )  # fmt: skip
    for decide in (operations.validate_operation, operations.mutate_operation):
        decision = decide(request, view, POLICY)
        assert isinstance(decision, decisions.Decision)
        assert decision.allowed or decision.reason in KNOWN_REASONS
    template = review.AdmissionRequest(
        uid="u", operation=operation, kind="OperationTemplate", group="ops.vworkspace.io",
        object={"spec": {"inputSchema": spec, "defaults": obj}},
    )  # fmt: skip
    decision = optemplates.validate_operation_template(template, view, POLICY)
    assert decision.allowed or decision.reason == "InvalidInputSchema"


@given(schema=anything)
def test_input_schema_verdict_agrees_with_the_metaschema(schema):
    request = review.request_review(
        {
            "apiVersion": "ops.vworkspace.io/v1alpha1",
            "kind": "OperationTemplate",
            "metadata": {"name": "t"},
            "spec": {"type": "T", "engine": "job", "inputSchema": schema},
        }
    )
    decision = optemplates.validate_operation_template(request, clusterview.ClusterIndex(), POLICY)
    if schema is None:
        assert decision.allowed  # no inputSchema: any parameters are accepted
    elif not isinstance(schema, dict):
        assert decision.reason == "InvalidInputSchema"
    elif not jsonschema.Draft202012Validator(jsonschema.Draft202012Validator.META_SCHEMA).is_valid(
        schema
    ):
        assert decision.reason == "InvalidInputSchema"
        assert all(c.field.startswith("spec.inputSchema") for c in decision.causes)


modes = st.dictionaries(st.sampled_from(model.CHECKS), st.sampled_from(["enforce", "warn", "off"]))
spec_variants = st.fixed_dictionaries(
    {},
    optional={
        "engine": st.sampled_from(["workflow", "job", "nope", "", 3]),
        "type": st.sampled_from(["Migration", "Backup", ""]),
        "targetRef": st.sampled_from(
            [{}, {"apiVersion": "apps/v1", "kind": "Deployment", "name": "missing"}]
        ),
        "parameters": st.sampled_from(
            [None, {}, {"template": "nope"}, {"workflowTemplate": 3}, {"x": "y"}]
        ),
    },
)


@given(changes=spec_variants, enforcement=modes)
def test_the_decision_path_skipping_passes_decides_as_the_full_run(changes, enforcement):
    """validate_operation lists only failures (passes=False); it must decide as explain does."""
    policy = dataclasses.replace(POLICY, enforcement=enforcement)
    view = clusterview.ClusterIndex(STATE)
    operation = source_operation()
    operation["spec"].update(changes)
    full = operations.run_checks(operation, "org-myteam", view, policy)
    lean = operations.run_checks(operation, "org-myteam", view, policy, passes=False)
    assert lean == [r for r in full if r.failure is not None]
    assert operations.decide(lean) == operations.decide(full)
