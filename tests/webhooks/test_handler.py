"""The handler seam: routing by path, kind checks, patch only from mutating endpoints, recovery."""

from __future__ import annotations

import dataclasses

import pytest

from tests.webhooks import builders
from webhooks import decisions, errors, handler, kinds, review


def test_every_design_endpoint_is_served():
    assert sorted(handler.ENDPOINTS) == [
        "/mutate/operations",
        "/validate/operations",
        "/validate/operationtemplates",
        "/validate/workflows",
    ]


def test_unknown_path_and_wrong_kind_are_malformed(operation, view, policy):
    request = builders.create(operation)
    with pytest.raises(errors.MalformedReview) as info:
        handler.handle("/validate/pods", request, view, policy)
    assert info.value.status == 404
    with pytest.raises(
        errors.MalformedReview,
        match=r"judges OperationTemplate\.ops\.vworkspace\.io, not Operation",
    ):
        handler.handle("/validate/operationtemplates", request, view, policy)


def test_mutating_endpoint_patches_and_validating_endpoint_never_does(operation, view, policy):
    del operation["spec"]["parameters"]["timeoutSeconds"]
    request = builders.create(operation)
    assert handler.handle("/mutate/operations", request, view, policy).patch
    assert handler.handle("/validate/operations", request, view, policy).patch == ()


def test_handler_exceptions_become_internal_error_denials(operation, view, policy, monkeypatch):
    def explode(request, view, policy):
        raise RuntimeError("boom")

    endpoint = handler.ENDPOINTS["/validate/operations"]
    monkeypatch.setitem(
        handler.ENDPOINTS, endpoint.path, dataclasses.replace(endpoint, handler=explode)
    )
    decision = handler.handle(endpoint.path, builders.create(operation), view, policy)
    assert (decision.allowed, decision.code, decision.reason) == (False, 500, "InternalError")
    assert decision.message.startswith("InternalError: ")
    wire = review.response("u", decision)["response"]
    assert wire["status"]["code"] == 500


def test_errored_reasons_match_kubernetes_status_reasons():
    assert decisions.errored(503, "not ready").reason == "ServiceUnavailable"
    assert decisions.errored(504, "slow").reason == "Timeout"


def test_warm_compiles_every_template_schema_once(view, policy):
    handler.warm(view, policy)
    calls = []
    compiled = view.memoized(
        ("inputSchema", "migration-workflow"),
        lambda: calls.append(1),
        depends=(kinds.OPERATION_TEMPLATE.key,),
    )
    assert compiled is not None and calls == []  # served from the warm cache
