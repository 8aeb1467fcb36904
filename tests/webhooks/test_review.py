"""AdmissionReview v1 wire format: parsing requests and encoding responses."""

from __future__ import annotations

import base64
import json

import pytest

from webhooks import decisions, errors, review


def body(**request):
    req = {
        "uid": "abc",
        "operation": "CREATE",
        "kind": {"group": "g", "version": "v", "kind": "K"},
        "object": {},
    }
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": req | request,
    }


def test_parse_request_reads_the_fields():
    req = review.parse_request(
        body(
            namespace="ns",
            name="n",
            userInfo={"username": "u", "groups": ["g1", 5]},
            dryRun=True,
            unknown=1,
        )
    )
    assert (req.uid, req.kind, req.group, req.namespace, req.name) == ("abc", "K", "g", "ns", "n")
    assert req.user == review.UserInfo("u", ("g1",))
    assert req.dry_run is True


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "must be a JSON object"),
        (
            {"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1beta1", "request": {}},
            "apiVersion must be admission.k8s.io/v1",
        ),
        ({"kind": "Pod", "apiVersion": "admission.k8s.io/v1"}, "kind must be AdmissionReview"),
        ({"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1"}, "request is missing"),
        (body(uid=""), "request.uid is missing"),
        (body(operation="PATCH"), "request.operation must be one of"),
        (body(kind="Operation"), "request.kind must be an object"),
        (body(object=[1]), "request.object must be an object"),
        (body(object=None), "request.object is required for a CREATE"),
        (body(operation="UPDATE", object=None), "request.object is required for an UPDATE"),
        (body(namespace=5), "request.namespace must be a string"),
    ],
)
def test_malformed_reviews_are_rejected_precisely(payload, message):
    with pytest.raises(errors.MalformedReview, match=message):
        review.parse_request(payload)


def test_denial_response_shape():
    d = decisions.denied(
        "TargetNotFound", 422, "gone", causes=[decisions.Cause("spec.targetRef.name", "Not found")]
    )
    out = review.response("abc", d)
    assert out["apiVersion"] == "admission.k8s.io/v1" and out["kind"] == "AdmissionReview"
    assert out["response"] == {
        "uid": "abc",
        "allowed": False,
        "status": {
            "status": "Failure",
            "code": 422,
            "reason": "TargetNotFound",
            "message": "TargetNotFound: gone",
            "details": {
                "causes": [
                    {
                        "reason": "FieldValueInvalid",
                        "message": "Not found",
                        "field": "spec.targetRef.name",
                    }
                ]
            },
        },
    }


def test_patch_response_is_base64_jsonpatch_and_warnings_are_cut():
    ops = [{"op": "add", "path": "/spec/engine", "value": "workflow"}]
    out = review.response("u", decisions.patched(ops, warnings=["x" * 300]))["response"]
    assert out["patchType"] == "JSONPatch"
    assert json.loads(base64.b64decode(out["patch"])) == ops
    assert len(out["warnings"][0]) == decisions.MAX_WARNING
    plain = review.response("u", decisions.allowed())["response"]
    assert plain == {"uid": "u", "allowed": True}


@pytest.mark.parametrize("operation", [{"x": 1}, ["CREATE"], 5, None])
def test_non_string_operation_is_malformed_not_a_crash(operation):
    with pytest.raises(errors.MalformedReview, match=r"request\.operation must be one of"):
        review.parse_request(body(operation=operation))
