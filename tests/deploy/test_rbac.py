"""Least privilege: each identity holds exactly the rules its code or templates use."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from policies import loader
from tests.deploy import helpers as c
from webhooks import cli, kinds

POLICY = loader.load_policy(None)
Rules = dict[tuple[str, str], set[str]]


def rules_of(role: c.Obj) -> Rules:
    """(apiGroup, resource) -> verbs of a Role/ClusterRole without resourceNames."""
    out: Rules = {}
    for rule in role["rules"]:
        assert "resourceNames" not in rule and "nonResourceURLs" not in rule
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                out.setdefault((group, resource), set()).update(rule["verbs"])
    return out


def test_no_wildcards_secrets_or_escalation_anywhere(manifests: list[c.Obj]) -> None:
    roles = c.find(manifests, "ClusterRole") + c.find(manifests, "Role")
    assert len(roles) == 4
    risky_verbs = {"*", "escalate", "bind", "impersonate", "delete", "deletecollection"}
    for role in roles:
        for (group, resource), verbs in rules_of(role).items():
            assert "*" not in (group, resource)
            assert "/" not in resource or resource.split("/")[1] in {"status", "finalizers"}
            assert resource not in {"secrets", "pods", "pods/exec", "serviceaccounts/token"}
            assert not verbs & risky_verbs, f"{role['metadata']['name']}: {resource} {verbs}"


def test_the_webhook_lists_and_watches_exactly_its_cluster_view() -> None:
    """kinds.VIEW_KINDS plus the shipped target kind, list+watch only (no get: a cache)."""
    role = c.one(c.raw("webhook"), "ClusterRole", "opgate-webhook")
    expected = {(k.group, k.plural): {"list", "watch"} for k in kinds.VIEW_KINDS}
    expected[("apps.vworkspace.io", "applicationinstances")] = {"list", "watch"}
    assert rules_of(role) == expected


def test_the_reconciler_holds_its_verbs_only() -> None:
    objs = c.raw("reconciler")
    # Exactly the calls reconciler/ makes (the `opgate reconcile --help` list): PUT status,
    # list templates by type, get the named (Cluster)WorkflowTemplate, create core Events.
    assert rules_of(c.one(objs, "ClusterRole", "vworkspace-operator")) == {
        ("ops.vworkspace.io", "operations"): {"get", "list", "watch"},
        ("ops.vworkspace.io", "operations/status"): {"update"},
        ("ops.vworkspace.io", "operations/finalizers"): {"update"},
        ("ops.vworkspace.io", "operationtemplates"): {"list"},
        ("argoproj.io", "workflows"): {"create", "get", "list", "watch"},
        ("argoproj.io", "workflowtemplates"): {"get"},
        ("argoproj.io", "clusterworkflowtemplates"): {"get"},
        ("", "events"): {"create"},
    }
    lease = c.one(objs, "Role", "vworkspace-operator-leader-election")
    assert lease["metadata"]["namespace"] == "vworkspace-system"
    assert rules_of(lease) == {("coordination.k8s.io", "leases"): {"get", "create", "update"}}


@pytest.mark.parametrize("directory", ["webhook", "reconciler"])
def test_bindings_bind_our_roles_to_our_service_accounts(directory: str) -> None:
    objs = c.raw(directory)
    accounts = {
        (o["metadata"]["namespace"], o["metadata"]["name"]) for o in c.find(objs, "ServiceAccount")
    }
    for binding in c.find(objs, "ClusterRoleBinding") + c.find(objs, "RoleBinding"):
        ref = binding["roleRef"]
        assert c.one(objs, ref["kind"], ref["name"])
        for subject in binding["subjects"]:
            assert subject["kind"] == "ServiceAccount"
            assert (subject["namespace"], subject["name"]) in accounts


# --- the runner: exactly what the WorkflowTemplate library does -----------------------------

# kubectl resource names the library's scripts use -> (group, plural).
RESOURCES = {
    "applicationinstance": ("apps.vworkspace.io", "applicationinstances"),
    "ApplicationInstance": ("apps.vworkspace.io", "applicationinstances"),
    "VolumeSnapshot": ("snapshot.storage.k8s.io", "volumesnapshots"),
}
# What each kubectl sub-command does to the API: annotate reads, then patches.
KUBECTL_VERBS = {"annotate": {"get", "patch"}, "patch": {"patch"}, "get": {"get"}}
# Programs inside the step images whose API calls the templates cannot show; each is declared
# here, so a new one fails this test until someone says what it needs.
OPAQUE = {
    "/opt/prechecks/run.sh": {("apps.vworkspace.io", "applicationinstances"): {"get"}},
    "/opt/postchecks/run.sh": {("apps.vworkspace.io", "applicationinstances"): {"get"}},
    "/opt/rollback/from-snapshot.sh": {
        ("apps.vworkspace.io", "applicationinstances"): {"get", "patch"}
    },
    "/opt/prewarm/run.sh": {},  # plain HTTP to the tenant's Service, no API calls
}
# Argo's executor reports outputs through WorkflowTaskResults (Argo docs, "Workflow RBAC").
EXECUTOR = {("argoproj.io", "workflowtaskresults"): {"create", "patch"}}
KUBECTL = re.compile(r"kubectl(?: -n \S+)? (annotate|patch|get) (\w+)/")
PROGRAM = re.compile(r"(/opt/\S+\.sh)")


def needs_of(template: c.Obj) -> Rules:
    """The API rights one Argo template needs, read from what it runs."""
    needs: Rules = {}

    def add(key: tuple[str, str], verbs: set[str]) -> None:
        needs.setdefault(key, set()).update(verbs)

    resource = template.get("resource")
    if resource:
        manifest = yaml.safe_load(re.sub(r"\{\{[^}]*\}\}", "x", resource["manifest"]))
        verbs = {resource["action"]}
        if resource.get("successCondition") or resource.get("failureCondition"):
            verbs.add("get")  # the executor polls the object
        add(RESOURCES[manifest["kind"]], verbs)
    body = template.get("script") or template.get("container") or {}
    text = " ".join([body.get("source", ""), *body.get("command", []), *body.get("args", [])])
    text = " ".join(text.replace("\\\n", " ").split())
    for sub, kind in KUBECTL.findall(text):
        add(RESOURCES[kind], KUBECTL_VERBS[sub])
    for program in PROGRAM.findall(text):
        assert program in OPAQUE, f"declare what {program} needs in OPAQUE"
        for key, verbs in OPAQUE[program].items():
            add(key, verbs)
    return needs


def library_needs() -> Rules:
    needs: Rules = {k: set(v) for k, v in EXECUTOR.items()}
    for template in c.find(c.raw("workflows"), "ClusterWorkflowTemplate"):
        for step in template["spec"]["templates"]:
            for key, verbs in needs_of(step).items():
                needs.setdefault(key, set()).update(verbs)
    return needs


def test_the_runner_role_is_exactly_what_the_library_needs() -> None:
    role = c.one(c.raw("runner"), "Role", "vworkspace-operation-runner")
    assert rules_of(role) == library_needs()
    assert rules_of(role) == {
        ("apps.vworkspace.io", "applicationinstances"): {"get", "patch"},
        ("snapshot.storage.k8s.io", "volumesnapshots"): {"create", "get"},
        ("argoproj.io", "workflowtaskresults"): {"create", "patch"},
    }


def test_the_runner_is_namespaced_and_named_as_the_policy_says() -> None:
    objs = c.raw("runner")
    assert {o["kind"] for o in objs} == {"ServiceAccount", "Role", "RoleBinding"}
    assert all("namespace" not in o["metadata"] for o in objs)
    assert c.one(objs, "ServiceAccount", POLICY.runner_sa_name)
    binding = c.one(objs, "RoleBinding", POLICY.runner_sa_name)
    assert binding["roleRef"]["kind"] == "Role"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": POLICY.runner_sa_name}]


def test_the_rbac_review_finds_nothing_in_what_we_ship(
    base: list[c.Obj], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`opgate review-rbac` over the rendered base and a runner in org-myteam: no finding."""
    runner = c.raw("runner")
    for obj in runner:
        obj["metadata"]["namespace"] = "org-myteam"
    (tmp_path / "base.yaml").write_text(yaml.safe_dump_all(base))
    (tmp_path / "runner.yaml").write_text(yaml.safe_dump_all(runner))
    code = cli.main(["review-rbac", "--output", "json", "--fail-on", "low", str(tmp_path)])
    out = capsys.readouterr().out
    findings: list[dict[str, Any]] = json.loads(out)
    assert (code, findings) == (0, [])


def test_the_example_runner_in_the_cluster_state_is_this_role() -> None:
    """deploy/examples' runner (the lead's cluster state) grants what deploy/runner grants."""
    example = c.DEPLOY / "examples" / "cluster-state" / "runner-org-myteam.yaml"
    if not example.is_file():
        pytest.skip(f"{example} not present")
    objs = c.documents(example.read_text())
    ours = c.one(c.raw("runner"), "Role", "vworkspace-operation-runner")
    assert rules_of(c.one(objs, "Role", "vworkspace-operation-runner")) == rules_of(ours)
