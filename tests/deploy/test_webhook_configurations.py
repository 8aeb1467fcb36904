"""The webhook configurations: fail closed, v1 only, only what we judge, never our own namespace."""

from __future__ import annotations

from typing import Any

import pytest

from policies import loader
from tests.deploy import helpers as c
from webhooks import handler

POLICY = loader.load_policy(None)
EXCLUDED = {"vworkspace-system", "kube-system"}
CONFIG_KINDS = ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")


def webhooks(objs: list[c.Obj]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (o["kind"], w) for kind in CONFIG_KINDS for o in c.find(objs, kind) for w in o["webhooks"]
    ]


@pytest.fixture(scope="module")
def entries() -> list[tuple[str, dict[str, Any]]]:
    found = webhooks(c.raw("webhook"))
    assert len(found) == 5
    return found


def test_every_entry_is_safe(entries: list[tuple[str, dict[str, Any]]]) -> None:
    for _, hook in entries:
        assert hook["sideEffects"] == "None"
        assert hook["admissionReviewVersions"] == ["v1"]
        assert hook["matchPolicy"] == "Equivalent"
        assert hook["failurePolicy"] == "Fail"
        assert 1 <= hook["timeoutSeconds"] <= 10
        assert hook["name"].endswith(".opgate.vworkspace.io")


def test_no_entry_judges_our_namespace_or_kube_system(
    entries: list[tuple[str, dict[str, Any]]],
) -> None:
    """No webhook can block its own recovery (issue 6: vworkspace-system and kube-system)."""
    for _, hook in entries:
        selector = hook["namespaceSelector"]
        assert "matchLabels" not in selector
        (expr,) = selector["matchExpressions"]
        assert expr["key"] == "kubernetes.io/metadata.name"
        assert expr["operator"] == "NotIn"
        assert set(expr["values"]) == EXCLUDED


def test_unmanaged_workflows_are_sent_only_on_create_or_spec_change(
    entries: list[tuple[str, dict[str, Any]]],
) -> None:
    (hook,) = [h for _, h in entries if h["name"].startswith("runner-sa-workflows")]
    (condition,) = hook["matchConditions"]
    assert "request.operation == 'CREATE'" in condition["expression"]
    assert "object.spec != oldObject.spec" in condition["expression"]


def test_entries_call_the_served_paths_for_their_kinds(
    entries: list[tuple[str, dict[str, Any]]],
) -> None:
    """Each entry's path is an endpoint of webhooks.handler and its rules name that kind only."""
    for config_kind, hook in entries:
        service = hook["clientConfig"]["service"]
        assert (service["name"], service["namespace"], service["port"]) == (
            "opgate-webhook",
            "vworkspace-system",
            443,
        )
        assert "url" not in hook["clientConfig"]
        endpoint = handler.ENDPOINTS[service["path"]]
        assert endpoint.mutating == (config_kind == "MutatingWebhookConfiguration")
        for rule in hook["rules"]:
            assert rule["apiGroups"] == [endpoint.kind.group]
            assert rule["resources"] == [endpoint.kind.plural]
            assert rule["apiVersions"] == [endpoint.kind.version]
            assert rule["scope"] == ("Namespaced" if endpoint.kind.namespaced else "Cluster")
            assert set(rule["operations"]) <= {"CREATE", "UPDATE"}
    served = {hook["clientConfig"]["service"]["path"] for _, hook in entries}
    assert served == set(handler.ENDPOINTS)


def operations_of(entries: list[tuple[str, dict[str, Any]]], path: str) -> set[str]:
    return {
        op
        for _, hook in entries
        if hook["clientConfig"]["service"]["path"] == path
        for rule in hook["rules"]
        for op in rule["operations"]
    }


def test_operations_judged(entries: list[tuple[str, dict[str, Any]]]) -> None:
    # Defaulting only on CREATE: spec is immutable, re-defaulting on UPDATE could change it.
    assert operations_of(entries, "/mutate/operations") == {"CREATE"}
    assert operations_of(entries, "/validate/operations") == {"CREATE", "UPDATE"}
    assert operations_of(entries, "/validate/operationtemplates") == {"CREATE", "UPDATE"}
    assert operations_of(entries, "/validate/workflows") == {"CREATE", "UPDATE"}


def test_workflows_are_judged_with_and_without_the_managed_label(
    entries: list[tuple[str, dict[str, Any]]],
) -> None:
    """Managed ones by objectSelector; the rest too, so nobody borrows the runner SA."""
    selectors = [
        hook["objectSelector"]
        for _, hook in entries
        if hook["clientConfig"]["service"]["path"] == "/validate/workflows"
    ]
    label = "app.vworkspace.io/managed-by"
    assert selectors == [
        {"matchLabels": {label: POLICY.managed_by}},
        {"matchExpressions": [{"key": label, "operator": "NotIn", "values": [POLICY.managed_by]}]},
    ]


def selected(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Kubernetes label-selector semantics for matchLabels and In/NotIn/Exists/DoesNotExist."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expr in selector.get("matchExpressions", []):
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True


@pytest.mark.parametrize(
    "labels",
    [
        {},
        {"app.vworkspace.io/managed-by": "vworkspace-operator"},
        {"app.vworkspace.io/managed-by": "someone-else"},
        {"team": "a"},
    ],
)
def test_every_workflow_reaches_the_guard_exactly_once(
    entries: list[tuple[str, dict[str, Any]]], labels: dict[str, str]
) -> None:
    hits = [
        hook["name"]
        for _, hook in entries
        if hook["clientConfig"]["service"]["path"] == "/validate/workflows"
        and selected(hook["objectSelector"], labels)
    ]
    assert len(hits) == 1


@pytest.mark.parametrize("namespace", sorted(EXCLUDED))
def test_excluded_namespaces_reach_no_webhook(
    entries: list[tuple[str, dict[str, Any]]], namespace: str
) -> None:
    labels = {"kubernetes.io/metadata.name": namespace}
    reached = [h for _, h in entries if selected(h["namespaceSelector"], labels)]
    # only the Workflow guard reaches our own namespace (the operator's SA lives there)
    allowed = set() if namespace == "kube-system" else {"/validate/workflows"}
    assert {h["clientConfig"]["service"]["path"] for h in reached} <= allowed
    team = {"kubernetes.io/metadata.name": "org-myteam"}
    assert all(selected(hook["namespaceSelector"], team) for _, hook in entries)


def test_the_service_routes_443_to_the_https_port() -> None:
    objs = c.raw("webhook")
    service = c.one(objs, "Service", "opgate-webhook")
    (https,) = [p for p in service["spec"]["ports"] if p["port"] == 443]
    pod = c.one(objs, "Deployment", "opgate-webhook")["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports[https["targetPort"]] == 8443
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
