"""The authorizer's semantics: one case per subtlety of Kubernetes RBAC evaluation."""

from __future__ import annotations

import pytest

from tests.webhooks.rbac import rbacbuilders as b
from webhooks.rbac import authorizer, roles, subjects

ALICE = ("alice", {"system:authenticated"})


def can(view, verb, resource, sub="", group="", ns="", name="", who=ALICE) -> bool:
    user, groups = who
    return authorizer.allows(view, user, groups, verb, group, resource, sub, ns, name)


def alice_with(*rules, ns=None, **kw):
    role = b.role("r", *rules, ns=ns, **kw)
    return b.view(role, b.binding("rb", "r", b.user("alice"), ns=ns, role_kind=role["kind"]))


@pytest.mark.parametrize(
    ("rule_resources", "resource", "sub", "expected"),
    [
        (["pods"], "pods", "", True),
        (["pods"], "pods", "exec", False),  # a resource does not cover its subresources
        (["pods/exec"], "pods", "exec", True),
        (["pods/exec"], "pods", "", False),
        (["pods/*"], "pods", "exec", False),  # no prefix wildcard in RBAC
        (["pods/*"], "pods", "", False),
        (["*/scale"], "deployments", "scale", True),
        (["*/scale"], "deployments", "", False),
        (["*/scale"], "deployments", "status", False),
        (["*"], "pods", "exec", True),
        (["*"], "pods", "", True),
        (["*/*"], "pods", "exec", False),  # `*/*` is not `*`: only `*/<sub>` is special
    ],
)
def test_resource_matching_is_exact_about_subresources(rule_resources, resource, sub, expected):
    view = alice_with(b.rule(["get", "create"], rule_resources), ns="team")
    assert can(view, "get", resource, sub, ns="team") is expected


def test_wildcard_verbs_and_groups():
    view = alice_with(b.rule(["*"], ["widgets"], groups=["*"]))
    assert can(view, "escalate", "widgets", group="example.com")
    assert can(view, "delete", "widgets", group="")
    assert not can(view, "get", "gadgets", group="example.com")


def test_wrong_api_group_grants_nothing():
    view = alice_with(b.rule(["create"], ["deployments"], groups=[""]))  # deployments live in apps
    assert not can(view, "create", "deployments", group="apps")
    view = alice_with(b.rule(["get"], ["pods"], groups=["apps"]))
    assert not can(view, "get", "pods")


@pytest.mark.parametrize(
    ("verb", "sub", "name", "expected"),
    [
        ("get", "", "db-creds", True),
        ("get", "", "other", False),
        ("update", "", "db-creds", True),
        ("list", "", "db-creds", False),  # list/watch carry no name
        ("watch", "", "db-creds", False),
        ("create", "", "db-creds", False),  # create POSTs to the collection: no name
        ("deletecollection", "", "db-creds", False),
        ("create", "exec", "db-creds", True),  # a subresource create names its parent
        ("create", "exec", "other", False),
    ],
)
def test_resource_names_only_match_named_requests(verb, sub, name, expected):
    resources = ["pods/exec"] if sub else ["secrets"]
    view = alice_with(b.rule([verb], resources, names=["db-creds"]), ns="team")
    resource = "pods" if sub else "secrets"
    assert can(view, verb, resource, sub, ns="team", name=name) is expected


def test_rolebinding_grants_only_in_its_namespace():
    view = alice_with(b.rule(["get"], ["pods"]), ns="team")
    assert can(view, "get", "pods", ns="team")
    assert not can(view, "get", "pods", ns="other")
    assert not can(view, "get", "pods")  # a cluster-wide request


def test_rolebinding_to_clusterrole_grants_within_its_namespace():
    view = b.view(
        b.role("reader", b.rule(["get"], ["pods"])),
        b.binding("rb", "reader", b.user("alice"), ns="team"),
    )
    assert can(view, "get", "pods", ns="team")
    assert not can(view, "get", "pods", ns="other")


def test_clusterrolebinding_grants_everywhere():
    view = alice_with(b.rule(["get"], ["pods", "nodes"]))
    assert can(view, "get", "pods", ns="any")
    assert can(view, "get", "nodes")


def test_serviceaccount_subject_without_namespace_defaults_to_the_rolebinding():
    view = b.view(
        b.role("r", b.rule(["get"], ["pods"]), ns="team"),
        b.binding("rb", "r", b.sa("runner"), ns="team", role_kind="Role"),
    )
    grants = authorizer.effective_rules(view, subjects.service_account("team", "runner"))
    assert [str(g.binding) for g in grants] == ["RoleBinding/team/rb"]
    assert not authorizer.effective_rules(view, subjects.service_account("other", "runner"))


def test_clusterrolebinding_serviceaccount_without_namespace_is_ignored_and_reported():
    view = b.view(b.role("r", b.rule(["get"], ["pods"])), b.binding("crb", "r", b.sa("runner")))
    for ns in ("default", "kube-system", ""):
        assert not authorizer.effective_rules(view, subjects.service_account(ns, "runner"))
    assert not authorizer.who_can(view, "get", "pods")
    assert any("has no namespace" in line for line in authorizer.diagnostics(view))


def test_serviceaccount_identity_includes_its_groups():
    view = b.view(
        b.role("r", b.rule(["get"], ["configmaps"])),
        b.binding("all-sa", "r", b.group("system:serviceaccounts:team")),
    )
    sa = subjects.service_account("team", "runner")
    grants = authorizer.effective_rules(view, sa)
    assert [g.subject for g in grants] == [("Group", "", "system:serviceaccounts:team")]
    assert not authorizer.effective_rules(view, sa, direct=True)
    assert not authorizer.effective_rules(view, subjects.service_account("other", "runner"))
    who = subjects.identity(sa)
    assert who.user == "system:serviceaccount:team:runner"
    assert who.groups == {
        "system:serviceaccounts",
        "system:serviceaccounts:team",
        "system:authenticated",
    }


def test_authenticated_and_unauthenticated_groups():
    view = b.view(
        b.role("r", b.rule(["get"], ["configmaps"])),
        b.binding("authn", "r", b.group("system:authenticated")),
    )
    assert authorizer.effective_rules(view, subjects.user("bob"))
    assert authorizer.effective_rules(view, subjects.service_account("x", "y"))
    assert not authorizer.effective_rules(view, subjects.user("system:anonymous"))
    view = b.view(
        b.role("r", b.rule(["get"], ["configmaps"])),
        b.binding("anon", "r", b.group("system:unauthenticated")),
    )
    assert authorizer.effective_rules(view, subjects.user("system:anonymous"))
    assert not authorizer.effective_rules(view, subjects.user("bob"))


def test_user_subject_with_a_serviceaccount_username_is_that_serviceaccount():
    view = b.view(
        b.role("r", b.rule(["get"], ["pods"])),
        b.binding("crb", "r", b.user("system:serviceaccount:team:runner")),
    )
    sa = subjects.service_account("team", "runner")
    assert authorizer.effective_rules(view, sa)
    assert authorizer.allows(
        view, "system:serviceaccount:team:runner", [], "get", "", "pods", namespace="team"
    )


def test_non_resource_urls_only_through_clusterrolebindings():
    nonres = b.role("metrics", b.rule(["get"], urls=["/metrics", "/debug/*"]))
    crb = b.view(nonres, b.binding("crb", "metrics", b.user("alice")))
    assert authorizer.allows_url(crb, "alice", [], "get", "/metrics")
    assert authorizer.allows_url(crb, "alice", [], "get", "/debug/pprof/heap")
    assert not authorizer.allows_url(crb, "alice", [], "get", "/logs")
    assert not authorizer.allows_url(crb, "alice", [], "post", "/metrics")
    rb = b.view(nonres, b.binding("rb", "metrics", b.user("alice"), ns="team"))
    assert not authorizer.allows_url(rb, "alice", [], "get", "/metrics")


def test_builtin_roles_stand_in_when_absent():
    view = b.view(b.binding("rb", "edit", b.user("alice"), ns="team"))
    assert can(view, "create", "deployments", group="apps", ns="team")
    assert can(view, "get", "secrets", ns="team")
    assert not can(view, "create", "roles", group="rbac.authorization.k8s.io", ns="team")
    view = b.view(b.binding("rb", "admin", b.user("alice"), ns="team"))
    assert can(view, "create", "rolebindings", group="rbac.authorization.k8s.io", ns="team")
    assert can(view, "list", "pods", ns="team")  # view ⊂ edit ⊂ admin
    view = b.view(b.binding("rb", "view", b.user("alice"), ns="team"))
    assert can(view, "list", "pods", ns="team")
    assert not can(view, "get", "secrets", ns="team")
    view = b.view(b.binding("crb", "cluster-admin", b.user("alice")))
    assert can(view, "anything", "widgets", "sub", group="example.com")
    assert authorizer.allows_url(view, "alice", [], "get", "/logs")


def test_an_input_role_overrides_the_builtin_of_that_name():
    view = b.view(
        b.role("edit", b.rule(["get"], ["configmaps"])),
        b.binding("rb", "edit", b.user("alice"), ns="team"),
    )
    assert can(view, "get", "configmaps", ns="team")
    assert not can(view, "create", "deployments", group="apps", ns="team")


def test_custom_role_aggregates_into_view_edit_and_admin():
    extra = b.role(
        "widgets-view",
        b.rule(["get"], ["widgets"], groups=["example.com"]),
        labels={"rbac.authorization.k8s.io/aggregate-to-view": "true"},
    )
    for target in ("view", "edit", "admin"):
        view = b.view(extra, b.binding("rb", target, b.user("alice"), ns="team"))
        assert can(view, "get", "widgets", group="example.com", ns="team"), target


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ({"matchLabels": {"tier": "x"}}, True),
        ({"matchLabels": {"tier": "y"}}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["x", "z"]}]}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["x"]}]}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, False),
        ({"matchExpressions": [{"key": "other", "operator": "DoesNotExist"}]}, True),
        ({}, True),  # an empty selector selects every ClusterRole
    ],
)
def test_aggregation_selectors(selector, expected):
    assert roles.selector_matches(selector, {"tier": "x"}) is expected
    view = b.view(
        b.role("part", b.rule(["get"], ["widgets"], groups=["example.com"]), labels={"tier": "x"}),
        b.role("agg", selectors=[selector]),
    )
    members = roles.Resolver(view).aggregated_into("part")
    assert ("agg" in members) is expected


def test_aggregation_replaces_own_rules_and_broad_selectors_pull_in_builtins():
    part = b.role("part", b.rule(["get"], ["widgets"], groups=["x"]), labels={"tier": "x"})
    view = b.view(
        part,
        b.role("agg", b.rule(["delete"], ["ignored"]), selectors=[{"matchLabels": {"tier": "x"}}]),
        b.binding("crb", "agg", b.user("alice")),
    )
    assert can(view, "get", "widgets", group="x")
    assert not can(view, "delete", "ignored")  # the controller overwrites the role's rules
    view = b.view(
        part,
        b.role("agg", selectors=[{}]),  # selects every ClusterRole, cluster-admin included
        b.binding("crb", "agg", b.user("alice")),
    )
    assert can(view, "delete", "ignored")


def test_aggregation_is_transitive_and_survives_cycles():
    view = b.view(
        b.role("a", selectors=[{"matchLabels": {"into": "a"}}], labels={"into": "b"}),
        b.role("b", selectors=[{"matchLabels": {"into": "b"}}], labels={"into": "a"}),
        b.role("leaf", b.rule(["get"], ["widgets"], groups=["x"]), labels={"into": "b"}),
        b.binding("crb", "a", b.user("alice")),
    )
    assert can(view, "get", "widgets", group="x")


def test_invalid_role_refs_grant_nothing_and_are_reported():
    view = b.view(
        b.role("r", b.rule(["get"], ["pods"]), ns="team"),
        b.binding("crb-to-role", "r", b.user("alice"), role_kind="Role"),  # invalid
        b.binding("rb-missing", "nope", b.user("alice"), ns="team", role_kind="Role"),
    )
    assert not can(view, "get", "pods", ns="team")
    lines = authorizer.diagnostics(view)
    assert any("crb-to-role" in line and "invalid" in line for line in lines)
    assert any("Role/team/nope does not exist" in line for line in lines)


def test_effective_rules_name_the_binding_and_role():
    view = b.view(
        b.role("r", b.rule(["get"], ["pods"]), b.rule(["list"], ["pods"]), ns="team"),
        b.binding("rb", "r", b.sa("runner", "team"), ns="team", role_kind="Role"),
    )
    grants = authorizer.effective_rules(view, subjects.service_account("team", "runner"))
    assert [(str(g.role), str(g.binding), g.scope) for g in grants] == [
        ("Role/team/r", "RoleBinding/team/rb", "namespace:team")
    ] * 2
    assert [g.rule for g in grants] == [
        roles.Rule(verbs=("get",), api_groups=("",), resources=("pods",)),
        roles.Rule(verbs=("list",), api_groups=("",), resources=("pods",)),
    ]


def test_who_can_respects_namespace_and_lists_subjects():
    view = b.view(
        b.role("reader", b.rule(["get"], ["secrets"])),
        b.binding("crb", "reader", b.group("auditors")),
        b.binding("rb", "reader", b.sa("app", "team"), b.user("bob"), ns="team"),
    )
    cluster = {subjects.text(a.subject) for a in authorizer.who_can(view, "get", "secrets")}
    assert cluster == {"Group/auditors"}
    team = {
        subjects.text(a.subject)
        for a in authorizer.who_can(view, "get", "secrets", namespace="team")
    }
    assert team == {"Group/auditors", "ServiceAccount/team/app", "User/bob"}
    assert not authorizer.who_can(view, "delete", "secrets", namespace="team")


def test_kube_system_grants_count_as_cluster_scope():
    view = b.view(
        b.role("r", b.rule(["get"], ["pods"]), ns="kube-system"),
        b.binding("rb", "r", b.user("alice"), ns="kube-system", role_kind="Role"),
    )
    (grant,) = authorizer.effective_rules(view, subjects.user("alice"))
    assert grant.cluster_scope and grant.scope == "cluster"


@pytest.mark.parametrize(
    "text",
    ["ServiceAccount/ns/name", "User/alice", "Group/system:authenticated", "User/a/b"],
)
def test_subjects_round_trip(text):
    assert subjects.text(subjects.parse(text)) == text


@pytest.mark.parametrize(
    "text", ["ServiceAccount/name", "sa/ns/name", "User/", "Group", "ServiceAccount/ns/a/b", ""]
)
def test_bad_subjects_are_refused(text):
    from webhooks.rbac import errors

    with pytest.raises(errors.SubjectError, match="ServiceAccount/<namespace>/<name>"):
        subjects.parse(text)
