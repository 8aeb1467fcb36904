"""The rule catalogue RBAC001..RBAC023: one case per rule, the false-positive traps,
subsumption, deduplication and role-level findings."""

from __future__ import annotations

import pytest

from tests.webhooks.rbac import rbacbuilders as b
from webhooks.rbac import findings, subjects

ALICE = b.user("alice")
RBAC_GROUP = ["rbac.authorization.k8s.io"]


def review(*objs, **kw):
    return findings.review(b.view(*objs), **kw)


def granted(*rules, ns=None, subject=ALICE, role_kind=None):
    """Findings of alice (or `subject`) bound to one role holding `rules`."""
    kind = role_kind or ("Role" if ns else "ClusterRole")
    role = b.role("r", *rules, ns=ns if kind == "Role" else None)
    return review(role, b.binding("bind", "r", subject, ns=ns, role_kind=kind))


def one(found, rule_id):
    hits = [f for f in found if f.id == rule_id]
    assert len(hits) == 1, (rule_id, [f.to_json() for f in found])
    return hits[0]


# --- one case per rule --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rule_id", "rules", "ns", "severity"),
    [
        ("RBAC001", [b.rule(["*"], ["*"], groups=["*"])], None, "critical"),
        ("RBAC001", [b.rule(["*"], ["*"], groups=["*"])], "team", "high"),
        ("RBAC002", [b.rule(["*"], ["configmaps"])], None, "medium"),
        ("RBAC002", [b.rule(["get"], ["*"], groups=["apps"])], "team", "low"),
        ("RBAC003", [b.rule(["list"], ["secrets"])], None, "critical"),
        ("RBAC003", [b.rule(["get"], ["secrets"])], "team", "high"),
        ("RBAC003", [b.rule(["watch"], ["secrets"])], "kube-system", "critical"),
        ("RBAC004", [b.rule(["get"], ["secrets"], names=["tls"])], None, "medium"),
        ("RBAC004", [b.rule(["get"], ["secrets"], names=["tls"])], "team", "low"),
        ("RBAC005", [b.rule(["create"], ["deployments"], groups=["apps"])], None, "high"),
        ("RBAC005", [b.rule(["patch"], ["cronjobs"], groups=["batch"])], "team", "medium"),
        ("RBAC005", [b.rule(["update"], ["pods"], names=["web-0"])], "team", "medium"),
        ("RBAC006", [b.rule(["create"], ["pods/exec"])], None, "high"),
        ("RBAC006", [b.rule(["get"], ["pods/attach"])], "team", "medium"),
        ("RBAC006", [b.rule(["patch"], ["pods/ephemeralcontainers"])], "team", "medium"),
        ("RBAC006", [b.rule(["create"], ["*/exec"])], "team", "medium"),
        ("RBAC007", [b.rule(["escalate"], ["clusterroles"], groups=RBAC_GROUP)], None, "critical"),
        ("RBAC007", [b.rule(["escalate"], ["roles"], groups=RBAC_GROUP)], "team", "high"),
        ("RBAC008", [b.rule(["bind"], ["clusterroles"], groups=RBAC_GROUP)], None, "critical"),
        ("RBAC008", [b.rule(["bind"], ["roles"], groups=RBAC_GROUP)], "team", "high"),
        # bind is checked in the RoleBinding's namespace: a namespaced grant reaches clusterroles
        ("RBAC008", [b.rule(["bind"], ["clusterroles"], groups=RBAC_GROUP)], "team", "high"),
        ("RBAC009", [b.rule(["create"], ["rolebindings"], groups=RBAC_GROUP)], "team", "low"),
        ("RBAC009", [b.rule(["update"], ["clusterroles"], groups=RBAC_GROUP)], None, "medium"),
        (
            "RBAC009",
            [b.rule(["bind"], ["clusterroles"], groups=RBAC_GROUP, names=["view"])],
            None,
            "medium",
        ),
        ("RBAC010", [b.rule(["impersonate"], ["users"])], None, "critical"),
        ("RBAC010", [b.rule(["impersonate"], ["serviceaccounts"])], "team", "high"),
        (
            "RBAC010",
            [b.rule(["impersonate"], ["userextras/scopes"], groups=["authentication.k8s.io"])],
            None,
            "critical",
        ),
        ("RBAC011", [b.rule(["create"], ["serviceaccounts/token"])], "team", "high"),
        (
            "RBAC011",
            [b.rule(["create"], ["serviceaccounts/token"], names=["ci"])],
            None,
            "critical",
        ),
        ("RBAC012", [b.rule(["get"], ["nodes/proxy"])], None, "critical"),
        (
            "RBAC014",
            [
                b.rule(
                    ["patch"],
                    ["mutatingwebhookconfigurations"],
                    groups=["admissionregistration.k8s.io"],
                )
            ],
            None,
            "critical",
        ),
        ("RBAC015", [b.rule(["create"], ["persistentvolumes"])], None, "high"),
        ("RBAC016", [b.rule(["patch"], ["namespaces"])], None, "high"),
        ("RBAC016", [b.rule(["update"], ["namespaces"])], "team", "medium"),
        ("RBAC017", [b.rule(["get"], urls=["*"])], None, "medium"),
        ("RBAC017", [b.rule(["get"], urls=["/debug/*"])], None, "medium"),
        ("RBAC023", [b.rule(["get"], ["deployments"], groups=[""])], "team", "low"),
        ("RBAC023", [b.rule(["update"], ["configmaps"], groups=["apps"])], "team", "low"),
        ("RBAC023", [b.rule(["create"], ["configmaps"], names=["x"])], "team", "low"),
    ],
)
def test_rule_fires_with_its_severity(rule_id, rules, ns, severity):
    found = granted(*rules, ns=ns)
    finding = one(found, rule_id)
    assert finding.severity == severity
    assert finding.subject == subjects.user("alice")
    expected_scope = "cluster" if ns in (None, "kube-system") else f"namespace:{ns}"
    assert finding.scope == expected_scope


def test_rbac001_binding_to_cluster_admin_subsumes_the_rule_derived_ids():
    found = review(b.binding("crb", "cluster-admin", ALICE))
    assert b.ids(found) == {"RBAC001"}
    assert one(found, "RBAC001").role.name == "cluster-admin"
    found = review(b.binding("rb", "cluster-admin", ALICE, ns="team"))
    assert [(f.id, f.severity, f.scope) for f in found] == [("RBAC001", "high", "namespace:team")]


def test_rbac001_subsumes_only_within_the_same_grant():
    found = review(
        b.role("root", b.rule(["*"], ["*"], groups=["*"])),
        b.role("reader", b.rule(["get"], ["secrets"])),
        b.binding("a", "root", ALICE, ns="team"),
        b.binding("b", "reader", ALICE, ns="other"),
    )
    assert one(found, "RBAC003").role.name == "reader"
    assert one(found, "RBAC001").role.name == "root"


def test_rbac013_is_the_union_over_the_subjects_bindings():
    csr = ["certificates.k8s.io"]
    parts = [
        b.role("csr-create", b.rule(["create"], ["certificatesigningrequests"], groups=csr)),
        b.role(
            "csr-approve", b.rule(["update"], ["certificatesigningrequests/approval"], groups=csr)
        ),
        b.role(
            "signer",
            b.rule(
                ["approve"], ["signers"], groups=csr, names=["kubernetes.io/kube-apiserver-client"]
            ),
        ),
    ]
    bindings = [b.binding(f"b{i}", p["metadata"]["name"], ALICE) for i, p in enumerate(parts)]
    found = review(*parts, *bindings)
    finding = one(found, "RBAC013")
    assert finding.severity == "critical"
    assert "csr-create" in finding.message and "signer" in finding.message
    assert "RBAC013" not in b.ids(review(*parts, *bindings[:2]))
    # A service account holding two parts itself and the third through its namespace's group
    # holds the whole: reported for it (the group alone holds only its part).
    runner = b.sa("a", ns="app")
    mixed = [
        b.binding("own0", "csr-create", runner),
        b.binding("own1", "csr-approve", runner),
        b.binding("via-group", "signer", b.group("system:serviceaccounts:app")),
    ]
    found = review(*parts, *mixed)
    finding = one(found, "RBAC013")
    assert finding.subject == ("ServiceAccount", "app", "a")
    assert "RBAC013" not in b.ids([f for f in found if f.subject and f.subject[0] == "Group"])


@pytest.mark.parametrize(
    ("subject", "rule_id", "severity"),
    [
        (b.group("system:unauthenticated"), "RBAC018", "critical"),
        (b.user("system:anonymous"), "RBAC018", "critical"),
        (b.group("system:authenticated"), "RBAC019", "high"),
        (b.group("system:serviceaccounts"), "RBAC019", "high"),
        (b.group("system:serviceaccounts:team"), "RBAC019", "medium"),
        (b.sa("default", "team"), "RBAC020", "medium"),
        (b.group("system:masters"), "RBAC021", "high"),
    ],
)
def test_subject_rules(subject, rule_id, severity):
    found = review(
        b.role("reader", b.rule(["get"], ["configmaps"])),
        b.binding("rb", "reader", subject, ns="team"),
    )
    assert b.ids(found) == {rule_id}
    assert one(found, rule_id).severity == severity


def test_rbac021_impersonating_system_masters():
    found = granted(b.rule(["impersonate"], ["groups"], names=["system:masters"]))
    assert {"RBAC010", "RBAC021"} <= b.ids(found)
    assert "RBAC021" not in b.ids(granted(b.rule(["impersonate"], ["groups"], names=["devs"])))


def test_rbac022_risky_rule_aggregated_into_view_is_role_level():
    sneaky = b.role(
        "sneaky",
        b.rule(["get", "list"], ["secrets"]),
        labels={"rbac.authorization.k8s.io/aggregate-to-view": "true"},
    )
    found = review(sneaky)
    finding = one(found, "RBAC022")
    assert finding.subject is None and finding.severity == "high"
    assert str(finding.role) == "ClusterRole/sneaky"
    found = review(sneaky, b.binding("rb", "view", ALICE, ns="team"))
    via_view = one([f for f in found if f.subject], "RBAC003")
    assert str(via_view.role) == "ClusterRole/view" and via_view.severity == "high"
    # Binding the role it aggregates into does not hide the label: RBAC022 stays, role-level.
    kept = one(found, "RBAC022")
    assert kept.subject is None and str(kept.role) == "ClusterRole/sneaky"
    harmless = b.role(
        "widgets-view",
        b.rule(["get", "list"], ["widgets"], groups=["example.com"]),
        labels={"rbac.authorization.k8s.io/aggregate-to-view": "true"},
    )
    assert review(harmless) == []


# --- false-positive traps -----------------------------------------------------------------------
def test_named_secrets_are_rbac004_not_rbac003():
    found = granted(b.rule(["get"], ["secrets"], names=["db-creds"]), ns="team")
    assert b.ids(found) == {"RBAC004"}


def test_list_with_resource_names_grants_nothing():
    found = granted(b.rule(["list", "watch"], ["secrets"], names=["db-creds"]), ns="team")
    assert "RBAC003" not in b.ids(found) and "RBAC004" not in b.ids(found)


def test_rbac003_subsumes_rbac004_for_the_subject():
    found = review(
        b.role("named", b.rule(["get"], ["secrets"], names=["x"])),
        b.role("all", b.rule(["list"], ["secrets"])),
        b.binding("a", "named", ALICE, ns="team"),
        b.binding("c", "all", ALICE, ns="other"),
    )
    assert "RBAC004" not in b.ids(found) and "RBAC003" in b.ids(found)


def test_escalate_or_bind_subsume_rbac009():
    found = granted(
        b.rule(["create", "escalate"], ["clusterroles"], groups=RBAC_GROUP),
    )
    assert "RBAC007" in b.ids(found) and "RBAC009" not in b.ids(found)


def test_create_with_resource_names_is_dead_not_a_workload_grant():
    found = granted(b.rule(["create"], ["pods"], names=["web"]), ns="team")
    assert b.ids(found) == {"RBAC023"}


def test_pods_star_is_not_a_subresource_wildcard():
    found = granted(b.rule(["create", "get"], ["pods/*"]), ns="team")
    assert not b.ids(found) & {"RBAC005", "RBAC006"}


def test_wrong_api_group_is_dead_not_a_workload_grant():
    found = granted(b.rule(["create"], ["deployments"], groups=["extensions-typo", ""]), ns="t")
    assert "RBAC005" not in b.ids(found)


def test_cluster_scoped_resources_are_unreachable_through_rolebindings():
    rules = [
        b.rule(["get"], ["nodes/proxy"]),
        b.rule(["impersonate"], ["users", "groups"]),
        b.rule(["create"], ["persistentvolumes"]),
    ]
    found = granted(*rules, ns="team", role_kind="ClusterRole")
    assert b.ids(found) == set()
    found = granted(*rules, ns="team", role_kind="Role")  # a Role holding them: dead rules
    assert b.ids(found) == {"RBAC023"}


def test_benign_read_only_role_has_no_findings():
    found = granted(
        b.rule(["get", "list", "watch"], ["pods", "configmaps", "services", "events"]),
        b.rule(["get", "list", "watch"], ["deployments", "replicasets"], groups=["apps"]),
        b.rule(["get"], ["pods/log"]),
        ns="team",
    )
    assert found == []
    assert review(b.binding("rb", "view", ALICE, ns="team")) == []


def test_least_privilege_runner_role_holds_no_high_or_critical():
    view = b.view(
        b.role(
            "runner",
            b.rule(["get", "patch"], ["applicationinstances"], groups=["apps.vworkspace.io"]),
            b.rule(["create", "get"], ["volumesnapshots"], groups=["snapshot.storage.k8s.io"]),
            b.rule(["create", "patch"], ["workflowtaskresults"], groups=["argoproj.io"]),
            ns="org-myteam",
        ),
        b.binding(
            "runner",
            "runner",
            b.sa("vworkspace-operation-runner"),
            ns="org-myteam",
            role_kind="Role",
        ),
    )
    sa = subjects.service_account("org-myteam", "vworkspace-operation-runner")
    assert findings.for_subject(view, sa) == []
    assert findings.review(view) == []


def test_the_example_cluster_state(repo):
    from webhooks import clusterview, manifests

    view = clusterview.ClusterIndex(manifests.load([repo / "deploy/examples/cluster-state"]))
    myteam = subjects.service_account("org-myteam", "vworkspace-operation-runner")
    shared = subjects.service_account("org-shared", "vworkspace-operation-runner")
    assert findings.at_least(findings.for_subject(view, myteam), "high") == []
    assert findings.highest(findings.for_subject(view, shared)) == "critical"


# --- per subject, dedup, role level, exemptions -----------------------------------------------------
def test_one_finding_per_id_and_subject_keeping_the_highest_severity():
    found = review(
        b.role("reader", b.rule(["get"], ["secrets"])),
        b.binding("ns", "reader", ALICE, ns="team"),
        b.binding("everywhere", "reader", ALICE),
        b.binding("bob", "reader", b.user("bob"), ns="team"),
    )
    alice = [f for f in found if f.subject == subjects.user("alice")]
    assert [(f.id, f.severity, f.scope) for f in alice] == [("RBAC003", "critical", "cluster")]
    bob = [f for f in found if f.subject == subjects.user("bob")]
    assert [(f.id, f.severity) for f in bob] == [("RBAC003", "high")]


def test_unbound_roles_are_judged_with_subject_null():
    found = review(
        b.role("unbound", b.rule(["get"], ["secrets"])),
        b.role("ns-unbound", b.rule(["create"], ["pods"]), ns="team"),
        b.role("bound", b.rule(["list"], ["secrets"]), ns="team"),
        b.binding("rb", "bound", ALICE, ns="team", role_kind="Role"),
    )
    nulls = {(f.id, str(f.role), f.severity, f.scope) for f in found if f.subject is None}
    assert nulls == {
        ("RBAC003", "ClusterRole/unbound", "critical", "cluster"),
        ("RBAC005", "Role/team/ns-unbound", "medium", "namespace:team"),
    }
    assert {str(f.role) for f in found if f.subject} == {"Role/team/bound"}


def test_bootstrap_defaults_are_exempt_unless_asked():
    defaults = {"kubernetes.io/bootstrapping": "rbac-defaults"}
    objs = [
        b.role("system:discovery", b.rule(["get"], urls=["/api/*"]), labels=defaults),
        b.binding(
            "system:discovery", "system:discovery", b.group("system:authenticated"), labels=defaults
        ),
        b.binding("cluster-admin", "cluster-admin", b.group("system:masters"), labels=defaults),
    ]
    assert review(*objs) == []
    assert {"RBAC001", "RBAC017", "RBAC019", "RBAC021"} <= b.ids(
        review(*objs, include_defaults=True)
    )


def test_for_subject_counts_group_grants_but_not_group_subject_rules():
    view = b.view(
        b.role("reader", b.rule(["get"], ["secrets"])),
        b.binding("all-sa", "reader", b.group("system:serviceaccounts")),
    )
    sa = subjects.service_account("team", "runner")
    found = findings.for_subject(view, sa)
    assert [(f.id, f.severity, subjects.text(f.subject)) for f in found] == [
        ("RBAC003", "critical", "ServiceAccount/team/runner")
    ]
    assert "via Group/system:serviceaccounts" in found[0].message
    assert findings.for_subject(view, sa, direct=True) == []


def test_json_has_exactly_the_six_keys():
    (finding,) = granted(b.rule(["get"], ["secrets"]), ns="team")
    assert finding.to_json() == {
        "id": "RBAC003",
        "severity": "high",
        "subject": "User/alice",
        "role": "Role/team/r",
        "scope": "namespace:team",
        "message": finding.message,
    }
    assert finding.message.startswith("Read access to all secrets")


def test_for_subject_answers_follow_the_views_revision():
    view = b.view(b.role("reader", b.rule(["get"], ["secrets"])))
    sa = subjects.service_account("team", "runner")
    assert findings.for_subject(view, sa) == []
    view.upsert(b.binding("crb", "reader", b.sa("runner", "team")))
    assert b.ids(findings.for_subject(view, sa)) == {"RBAC003"}
    view.delete(b.binding("crb", "reader", b.sa("runner", "team")))
    assert findings.for_subject(view, sa) == []


class _PlainView:
    """A ClusterView that caches nothing: every answer must be computed afresh."""

    def __init__(self, objs):
        self.index = b.view(*objs)

    def get(self, *args):
        return self.index.get(*args)

    def list(self, *args):
        return self.index.list(*args)

    def operation_templates(self, *args):
        return self.index.operation_templates(*args)

    def workflow_template_namespaces(self, name):
        return self.index.workflow_template_namespaces(name)

    def bindings_for_subject(self, subject):
        return self.index.bindings_for_subject(subject)

    def memoized(self, key, compute, depends=None):
        return compute()  # this view caches nothing


def test_views_without_a_revision_are_never_cached():
    view = _PlainView([b.role("reader", b.rule(["get"], ["secrets"]))])
    sa = subjects.service_account("team", "runner")
    assert findings.for_subject(view, sa) == []
    view.index.upsert(b.binding("crb", "reader", b.sa("runner", "team")))
    assert b.ids(findings.for_subject(view, sa)) == {"RBAC003"}


def test_bind_clusterroles_in_a_role_is_not_a_dead_rule_but_escalate_is():
    binder = b.role("binder", b.rule(["bind"], ["clusterroles"], groups=RBAC_GROUP), ns="team")
    lifter = b.role("lifter", b.rule(["escalate"], ["clusterroles"], groups=RBAC_GROUP), ns="team")
    found = findings.review(b.view(binder, lifter))
    by_role = {(f.id, str(f.role)) for f in found}
    assert ("RBAC008", "Role/team/binder") in by_role
    assert ("RBAC023", "Role/team/binder") not in by_role
    assert ("RBAC023", "Role/team/lifter") in by_role
    assert ("RBAC007", "Role/team/lifter") not in by_role


def test_a_role_aggregated_into_a_bound_role_is_judged_with_its_subjects():
    agg = b.role(
        "agg",
    ) | {
        "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"team/agg": "true"}}]},
        "rules": [],
    }
    part = b.role("part", b.rule(["get"], ["secrets"]))
    part["metadata"]["labels"] = {"team/agg": "true"}
    bound = b.binding("agg", "agg", b.sa("s", "team"))
    found = findings.review(b.view(agg, part, bound))
    assert [(f.id, f.subject, str(f.role)) for f in found] == [
        ("RBAC003", ("ServiceAccount", "team", "s"), "ClusterRole/agg")
    ]


def test_rbac012_needs_a_verb_the_kubelet_authorizes():
    """The kubelet maps HTTP methods to get/create/update/patch/delete on nodes/proxy."""
    assert "RBAC012" in b.ids(granted(b.rule(["create"], ["nodes/proxy"])))
    assert "RBAC012" not in b.ids(granted(b.rule(["impersonate"], ["*"])))
    assert "RBAC012" not in b.ids(granted(b.rule(["list", "watch"], ["nodes/proxy"])))


def test_a_service_accounts_user_name_is_the_service_account():
    """`User system:serviceaccount:ns:sa` in a binding is that ServiceAccount (Kubernetes'
    authorizer sees one identity): subject rules see it, and its groups apply."""
    as_user = b.user("system:serviceaccount:app:default")
    found = review(
        b.role("r", b.rule(["get"], ["configmaps"]), ns="app"),
        b.binding("rb", "r", as_user, ns="app", role_kind="Role"),
    )
    assert one(found, "RBAC020").subject == ("ServiceAccount", "app", "default")
    readers = review(
        b.role("secrets", b.rule(["list"], ["secrets"])),
        b.binding("all-sa", "secrets", b.group("system:serviceaccounts:app")),
    )
    grants = findings.for_subject(
        b.view(
            b.role("secrets", b.rule(["list"], ["secrets"])),
            b.binding("all-sa", "secrets", b.group("system:serviceaccounts:app")),
        ),
        ("User", "", "system:serviceaccount:app:a"),
    )
    assert "RBAC003" in b.ids(grants)
    assert readers  # the group itself holds it too
