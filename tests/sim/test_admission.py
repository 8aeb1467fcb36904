"""The admission chain: matching, ordering, reinvocation, failurePolicy, dry-run, Status forms.

The webhooks here are small decision functions behind the same seam as the policy core
(`handle(path, request, view, policy)`), called in process; `test_admission_https.py` calls the
same functions through the real server over TLS.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policies import loader
from sim import admission, callers, errors, store
from tests.sim.storebuilders import crd, widget
from webhooks import decisions, review
from webhooks import errors as webhook_errors

W = ("example.io", "Widget")
POLICY = loader.load_policy(None)


def toy_handle(
    path: str, request: review.AdmissionRequest, view: Any, policy: Any
) -> decisions.Decision:
    """Webhooks by path: allow, deny, warn, count (annotation += 1), mark (label once), ..."""
    obj = request.object or {}
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    labels = (obj.get("metadata") or {}).get("labels") or {}
    if path == "/deny":
        cause = decisions.Cause("spec.size", "too big")
        return decisions.denied("Nope", 403, "not today", causes=[cause])
    if path == "/deny-bare":
        return decisions.Decision(False, code=200)
    if path == "/warn":
        return decisions.allowed(warnings=["careful"])
    if path == "/count":
        count = int(annotations.get("count", "0")) + 1
        ops = [
            {
                "op": "add",
                "path": "/metadata/annotations",
                "value": {**annotations, "count": str(count)},
            }
        ]
        return decisions.patched(ops)
    if path == "/mark":
        if labels.get("mark") == "yes":
            return decisions.allowed()
        return decisions.patched(
            [{"op": "add", "path": "/metadata/labels", "value": {**labels, "mark": "yes"}}]
        )
    if path == "/user":
        return decisions.denied(
            "Who",
            403,
            f"{request.user.username} {request.operation} {request.sub_resource} {request.dry_run}",
        )
    if path == "/slow":
        time.sleep(1.5)
        return decisions.allowed()
    if path == "/malformed":
        raise webhook_errors.MalformedReview("no such webhook", status=404)
    if path == "/bad-patch":
        return decisions.patched([{"op": "remove", "path": "/nope"}])
    return decisions.allowed()


def hook(name: str, path: str, **extra: Any) -> dict[str, Any]:
    """One webhook entry calling `path` on the opgate Service for Widgets (CREATE, UPDATE)."""
    entry: dict[str, Any] = {
        "name": name,
        "admissionReviewVersions": ["v1"],
        "sideEffects": "None",
        "timeoutSeconds": 1,
        "clientConfig": {
            "service": {"name": "opgate-webhook", "namespace": "vworkspace-system", "path": path}
        },
        "rules": [
            {
                "apiGroups": ["example.io"],
                "apiVersions": ["v1"],
                "operations": ["CREATE", "UPDATE"],
                "resources": ["widgets"],
            }
        ],
    }
    entry.update(extra)
    return entry


def configuration(kind: str, name: str, *hooks: dict[str, Any]) -> dict[str, Any]:
    """A (Mutating|Validating)WebhookConfiguration."""
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": name},
        "webhooks": list(hooks),
    }


def mutating(name: str, *hooks: dict[str, Any]) -> dict[str, Any]:
    return configuration("MutatingWebhookConfiguration", name, *hooks)


def validating(name: str, *hooks: dict[str, Any]) -> dict[str, Any]:
    return configuration("ValidatingWebhookConfiguration", name, *hooks)


def cluster_with(*configs: dict[str, Any], caller: Any = None) -> store.Store:
    s = store.Store(seed=5)
    s.create(crd())
    s.create(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "prod", "labels": {"env": "prod"}},
        }
    )
    for config in configs:
        s.create(config)
    s.chain = admission.Chain(caller or callers.InProcess(POLICY, handle=toy_handle))
    return s


def refusal(fn: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(errors.ApiError) as info:
        fn(*args, **kwargs)
    return info.value.status


def test_denial_is_formed_as_kube_apiserver_forms_it() -> None:
    s = cluster_with(validating("v", hook("deny.example.io", "/deny")))
    rv = s.resource_version
    status = refusal(s.create, widget("a"))
    assert status == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'admission webhook "deny.example.io" denied the request: Nope: not today',
        "reason": "Nope",
        "details": {
            "causes": [{"reason": "FieldValueInvalid", "message": "too big", "field": "spec.size"}]
        },
        "code": 403,
    }
    assert s.resource_version == rv


def test_denial_without_message_or_code() -> None:
    s = cluster_with(validating("v", hook("bare.example.io", "/deny-bare")))
    status = refusal(s.create, widget("a"))
    assert (
        status["message"]
        == 'admission webhook "bare.example.io" denied the request without explanation'
    )
    assert status["code"] == 400


def test_mutations_apply_in_configuration_order_and_warnings_are_kept() -> None:
    s = cluster_with(
        mutating("b-second", hook("count.example.io", "/count")),
        mutating("a-first", hook("mark.example.io", "/mark")),
        validating("v", hook("warn.example.io", "/warn")),
    )
    warnings: list[str] = []
    obj = s.create(widget("a"), warnings=warnings)
    assert obj["metadata"]["labels"] == {"mark": "yes"}
    assert obj["metadata"]["annotations"] == {"count": "1"}
    assert warnings == ["careful"]


@pytest.mark.parametrize(("policy", "count"), [("IfNeeded", "2"), ("Never", "1")])
def test_reinvocation_if_needed(policy: str, count: str) -> None:
    s = cluster_with(
        mutating(
            "m",
            hook("count.example.io", "/count", reinvocationPolicy=policy),
            hook("mark.example.io", "/mark"),
        )
    )
    obj = s.create(widget("a"))
    assert obj["metadata"]["annotations"] == {"count": count}


@pytest.mark.parametrize("path", ["/malformed", "/slow-but-unreachable"])
def test_failure_policy_fail_and_ignore(path: str) -> None:
    def unreachable(hook_: admission.Webhook, body: Any, view: Any) -> Any:
        raise admission.CallFailed(
            'failed to call webhook: Post "https://x.y.svc:443/z?timeout=1s": context deadline exceeded'
        )

    caller = None if path == "/malformed" else unreachable
    s = cluster_with(validating("v", hook("fail.example.io", path)), caller=caller)
    status = refusal(s.create, widget("a"))
    assert (status["code"], status["reason"]) == (500, "InternalError")
    assert status["message"].startswith(
        'Internal error occurred: failed calling webhook "fail.example.io": '
    )
    ignoring = cluster_with(
        validating("v", hook("fail.example.io", path, failurePolicy="Ignore")), caller=caller
    )
    assert ignoring.create(widget("a"))["metadata"]["name"] == "a"


def test_unusable_patch_is_an_internal_error_whatever_the_failure_policy() -> None:
    s = cluster_with(mutating("m", hook("bad.example.io", "/bad-patch", failurePolicy="Ignore")))
    status = refusal(s.create, widget("a"))
    assert status["code"] == 500 and "bad.example.io" in status["message"]
    assert status["message"].endswith(
        "unusable patch: jsonpatch: path '/nope' does not exist to remove"
    )


def test_namespace_selector() -> None:
    selector = {"matchLabels": {"env": "prod"}}
    s = cluster_with(validating("v", hook("deny.example.io", "/deny", namespaceSelector=selector)))
    assert s.create(widget("a"))["metadata"]["name"] == "a"
    assert refusal(s.create, widget("a", namespace="prod"))["code"] == 403


def test_namespace_selector_on_namespaces_uses_the_new_labels() -> None:
    entry = hook("deny.example.io", "/deny", namespaceSelector={"matchLabels": {"locked": "yes"}})
    entry["rules"] = [
        {
            "apiGroups": [""],
            "apiVersions": ["v1"],
            "operations": ["*"],
            "resources": ["namespaces"],
            "scope": "Cluster",
        }
    ]
    s = cluster_with(validating("v", entry))
    s.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "open"}})
    status = refusal(
        s.create,
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "x", "labels": {"locked": "yes"}},
        },
    )
    assert status["code"] == 403


def test_object_selector_matches_old_or_new_object() -> None:
    entry = hook("deny.example.io", "/deny", objectSelector={"matchLabels": {"guarded": "yes"}})
    s = cluster_with(validating("v", entry))
    s.chain = None
    guarded = widget("g")
    guarded["metadata"]["labels"] = {"guarded": "yes"}
    s.create(guarded)
    s.create(widget("free"))
    s.chain = admission.Chain(callers.InProcess(POLICY, handle=toy_handle))
    assert s.patch(*W, "default", "free", {"spec": {"n": 1}})["spec"] == {"n": 1}
    status = refusal(s.patch, *W, "default", "g", {"metadata": {"labels": None}})
    assert status["code"] == 403
    assert (
        refusal(
            s.create,
            guarded
            | {"metadata": {"name": "h", "namespace": "default", "labels": {"guarded": "yes"}}},
        )["code"]
        == 403
    )


@pytest.mark.parametrize(
    ("rule", "called"),
    [
        ({"apiGroups": ["*"], "apiVersions": ["*"], "operations": ["*"], "resources": ["*"]}, True),
        (
            {
                "apiGroups": ["other.io"],
                "apiVersions": ["*"],
                "operations": ["*"],
                "resources": ["*"],
            },
            False,
        ),
        (
            {"apiGroups": ["*"], "apiVersions": ["v2"], "operations": ["*"], "resources": ["*"]},
            False,
        ),
        (
            {
                "apiGroups": ["*"],
                "apiVersions": ["*"],
                "operations": ["UPDATE"],
                "resources": ["*"],
            },
            False,
        ),
        (
            {
                "apiGroups": ["*"],
                "apiVersions": ["*"],
                "operations": ["*"],
                "resources": ["gadgets"],
            },
            False,
        ),
        (
            {
                "apiGroups": ["*"],
                "apiVersions": ["*"],
                "operations": ["*"],
                "resources": ["widgets/status"],
            },
            False,
        ),
        (
            {
                "apiGroups": ["*"],
                "apiVersions": ["*"],
                "operations": ["*"],
                "resources": ["widgets/*"],
            },
            True,
        ),
        (
            {"apiGroups": ["*"], "apiVersions": ["*"], "operations": ["*"], "resources": ["*/*"]},
            True,
        ),
        (
            {
                "apiGroups": ["*"],
                "apiVersions": ["*"],
                "operations": ["*"],
                "resources": ["*"],
                "scope": "Cluster",
            },
            False,
        ),
        (
            {
                "apiGroups": ["*"],
                "apiVersions": ["*"],
                "operations": ["*"],
                "resources": ["*"],
                "scope": "Namespaced",
            },
            True,
        ),
    ],
)
def test_rules_decide_which_creates_are_sent(rule: dict[str, Any], called: bool) -> None:
    s = cluster_with(validating("v", hook("deny.example.io", "/deny", rules=[rule])))
    if called:
        assert refusal(s.create, widget("a"))["code"] == 403
    else:
        assert s.create(widget("a"))["metadata"]["name"] == "a"


def test_status_writes_reach_only_status_rules() -> None:
    rule = {
        "apiGroups": ["example.io"],
        "apiVersions": ["v1"],
        "operations": ["UPDATE"],
        "resources": ["widgets/status"],
    }
    s = cluster_with(validating("v", hook("who.example.io", "/user", rules=[rule])))
    obj = s.create(widget("a"))
    assert s.update(obj | {"spec": {"n": 1}})["spec"] == {"n": 1}
    status = refusal(
        s.update_status,
        s.get(*W, "default", "a") | {"status": {"phase": "x"}},
        user=review.UserInfo("bob", ("dev",)),
    )
    assert status["message"].endswith("Who: bob UPDATE status False")


def test_dry_run_goes_through_admission_and_is_not_stored() -> None:
    s = cluster_with(
        mutating("m", hook("mark.example.io", "/mark")),
        validating(
            "v", hook("who.example.io", "/user", objectSelector={"matchLabels": {"judge": "yes"}})
        ),
    )
    rv = s.resource_version
    dry = s.create(widget("a"), dry_run=True)
    assert dry["metadata"]["labels"] == {"mark": "yes"}
    judged = widget("b")
    judged["metadata"]["labels"] = {"judge": "yes"}
    assert refusal(s.create, judged, dry_run=True)["message"].endswith(
        "Who: system:admin CREATE  True"
    )
    assert s.resource_version == rv


def test_dry_run_refused_by_webhooks_with_side_effects() -> None:
    s = cluster_with(validating("v", hook("effects.example.io", "/allow", sideEffects="Some")))
    status = refusal(s.create, widget("a"), dry_run=True)
    assert (status["code"], status["message"]) == (
        400,
        'admission webhook "effects.example.io" does not support dry run',
    )
    assert s.create(widget("a"))["metadata"]["name"] == "a"


def test_deletes_are_judged_with_the_old_object() -> None:
    rule = {
        "apiGroups": ["example.io"],
        "apiVersions": ["v1"],
        "operations": ["DELETE"],
        "resources": ["widgets"],
    }
    s = cluster_with(validating("v", hook("who.example.io", "/user", rules=[rule])))
    s.create(widget("a"))
    assert refusal(s.delete, *W, "default", "a")["message"].endswith(
        "Who: system:admin DELETE  False"
    )
    assert s.find(*W, "default", "a") is not None


def test_webhook_configurations_are_exempt() -> None:
    everything = {
        "apiGroups": ["*"],
        "apiVersions": ["*"],
        "operations": ["*"],
        "resources": ["*/*"],
    }
    s = cluster_with(validating("v", hook("deny.example.io", "/deny", rules=[everything])))
    assert refusal(s.create, widget("a"))["code"] == 403
    s.delete("admissionregistration.k8s.io", "ValidatingWebhookConfiguration", "", "v")
    assert s.create(widget("a"))["metadata"]["name"] == "a"


@given(
    code=st.integers(min_value=0, max_value=599),
    reason=st.text(max_size=20),
    message=st.text(max_size=40),
    name=st.from_regex(r"[a-z]{1,10}\.example\.io", fullmatch=True),
)
def test_every_denial_is_a_failure_status_of_at_least_400(
    code: int, reason: str, message: str, name: str
) -> None:
    entry = admission.parse(validating("v", hook(name, "/x")), mutating=False)[0]
    status = admission.denial(entry, {"code": code, "reason": reason, "message": message}).status
    assert status["status"] == "Failure" and status["kind"] == "Status"
    assert status["code"] == (code if code >= 400 else 400)
    assert status["message"].startswith(f'admission webhook "{name}" denied the request')
    assert (message in status["message"]) or not message
