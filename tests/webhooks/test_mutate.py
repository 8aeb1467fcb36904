"""The mutating decision: defaults for absent parameters, engine defaulting, JSONPatch shape."""

from __future__ import annotations

import copy

import jsonpatch

from tests.webhooks import builders
from webhooks import operations, review


def mutate(obj, view, policy):
    return operations.mutate_operation(builders.create(obj), view, policy)


def test_only_absent_parameters_are_filled(operation, view, policy):
    del operation["spec"]["parameters"]["timeoutSeconds"]
    operation["spec"]["parameters"]["failureAction"] = "abort"
    decision = mutate(operation, view, policy)
    assert decision.allowed
    assert list(decision.patch) == [
        {"op": "add", "path": "/spec/parameters/timeoutSeconds", "value": 1800}
    ]
    patched = jsonpatch.apply_patch(operation, list(decision.patch))
    assert patched["spec"]["parameters"]["failureAction"] == "abort"


def test_absent_parameters_object_is_added_whole(operation, view, policy):
    del operation["spec"]["parameters"]
    decision = mutate(operation, view, policy)
    assert list(decision.patch) == [
        {
            "op": "add",
            "path": "/spec/parameters",
            "value": {"failureAction": "rollback", "timeoutSeconds": 1800},
        }
    ]


def test_engine_defaulted_when_exactly_one_template_for_the_type(operation, view, policy):
    del operation["spec"]["engine"]
    decision = mutate(operation, view, policy)
    assert {"op": "add", "path": "/spec/engine", "value": "workflow"} in decision.patch
    patched = jsonpatch.apply_patch(operation, list(decision.patch))
    assert operations.validate_operation(builders.create(patched), view, policy).allowed


def test_engine_not_defaulted_when_two_templates_exist(operation, view, policy):
    twin = copy.deepcopy(view.operation_templates("Migration", "workflow")[0])
    twin["metadata"]["name"] = "migration-job"
    twin["spec"]["engine"] = "job"
    view.upsert(twin)
    del operation["spec"]["engine"]
    assert mutate(operation, view, policy).patch == ()


def test_keys_with_slashes_are_escaped_in_pointers(operation, view, policy):
    template = view.operation_templates("Migration", "workflow")[0]
    template["spec"]["defaults"] = {"a/b~c": 1}
    view.upsert(template)
    decision = mutate(operation, view, policy)
    assert decision.patch[0]["path"] == "/spec/parameters/a~1b~0c"
    patched = jsonpatch.apply_patch(operation, list(decision.patch))
    assert patched["spec"]["parameters"]["a/b~c"] == 1


def test_update_and_complete_objects_get_no_patch(operation, view, policy):
    request = review.request_review(operation, operation="UPDATE", old=operation)
    assert operations.mutate_operation(request, view, policy).patch == ()
    assert mutate(operation, view, policy).patch == ()
