"""Property tests: monotonicity of findings, who-can against permissions, and the authorizer
against a plain reference evaluation of RBAC written independently here."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests import strategies
from tests.webhooks.rbac import rbacbuilders as b
from webhooks import clusterview
from webhooks.rbac import authorizer, builtins, catalogue, findings, roles, subjects

NAMESPACES = ["a", "b", "kube-system"]
# Small pools so that generated rules, bindings and requests collide often.
VERBS = ["get", "list", "create", "update", "escalate", "bind", "impersonate", "*"]
GROUPS = ["", "apps", "rbac.authorization.k8s.io", "*"]
RESOURCES = [
    "pods",
    "pods/exec",
    "pods/*",
    "*/exec",
    "deployments",
    "secrets",
    "roles",
    "nodes",
    "namespaces",
    "users",
    "groups",
    "serviceaccounts/token",
    "*",
]
NAMES = ["x", "system:masters"]
URLS = ["/metrics", "/api/*", "*"]
LABELS = [{}, {"tier": "t"}, {"rbac.authorization.k8s.io/aggregate-to-view": "true"}]
ROLE_NAMES = ["r1", "r2"]
SUBJECTS = [
    b.user("alice"),
    b.user("system:anonymous"),
    b.user("system:serviceaccount:a:runner"),
    b.group("devs"),
    b.group("system:authenticated"),
    b.group("system:serviceaccounts"),
    b.group("system:serviceaccounts:a"),
    b.group("system:masters"),
    b.sa("runner", "a"),
    b.sa("default", "b"),
    b.sa("runner"),  # no namespace: defaulted in a RoleBinding, invalid in a ClusterRoleBinding
]


def _sub(strategy: st.SearchStrategy[Any], pool: list[Any]) -> st.SearchStrategy[list[Any]]:
    return st.lists(st.sampled_from(pool), min_size=1, max_size=3, unique=True)


rules_st = st.one_of(  # resource rules first: hypothesis favours the first branch
    st.builds(
        b.rule,
        _sub(st.none(), VERBS),
        _sub(st.none(), RESOURCES),
        _sub(st.none(), GROUPS),
        st.lists(st.sampled_from(NAMES), max_size=1),
    ),
    st.builds(
        lambda v, u: b.rule(v, urls=u), _sub(st.none(), ["get", "post", "*"]), _sub(st.none(), URLS)
    ),
)


@st.composite
def role_st(draw: st.DrawFn, name: str) -> dict[str, Any]:
    ns = draw(st.sampled_from([None, *NAMESPACES]))
    rules = draw(st.lists(rules_st, min_size=1, max_size=3))
    labels = draw(st.sampled_from(LABELS)) if ns is None else {}
    selectors = None
    if ns is None and draw(st.integers(0, 4)) == 0:
        selectors = [{"matchLabels": {"tier": "t"}}]
    return b.role(name, *rules, ns=ns, labels=labels or None, selectors=selectors)


@st.composite
def binding_st(
    draw: st.DrawFn, index: int, roles_: tuple[dict[str, Any], ...] = ()
) -> dict[str, Any]:
    """A binding, most often of one of `roles_` (a Role only from its own namespace)."""
    subs = draw(st.lists(st.sampled_from(SUBJECTS), min_size=1, max_size=3))
    if roles_ and draw(st.integers(0, 4)) > 0:
        role = draw(st.sampled_from(roles_))
        name, role_ns = role["metadata"]["name"], role["metadata"].get("namespace")
        ns = role_ns or draw(st.sampled_from([None, *NAMESPACES]))
        return b.binding(f"b{index}", name, *subs, ns=ns, role_kind=role["kind"])
    ns = draw(st.sampled_from([None, *NAMESPACES]))
    role_name = draw(st.sampled_from([*ROLE_NAMES, "edit", "view", "cluster-admin"]))
    kind = draw(st.sampled_from(["ClusterRole", "Role"])) if ns else "ClusterRole"
    return b.binding(f"b{index}", role_name, *subs, ns=ns, role_kind=kind)


@st.composite
def world_st(draw: st.DrawFn) -> list[dict[str, Any]]:
    objs = [draw(role_st(name)) for name in ROLE_NAMES if draw(st.booleans())]
    count = draw(st.integers(1, 4))
    roles_ = tuple(objs)
    objs.extend(draw(binding_st(i, roles_)) for i in range(count))
    return objs


request_st = st.tuples(
    st.sampled_from([v for v in VERBS if v != "*"]),
    st.sampled_from([g for g in GROUPS if g != "*"]),
    st.sampled_from(["pods", "deployments", "secrets", "nodes", "roles", "namespaces"]),
    st.sampled_from(["", "exec"]),
    st.sampled_from(["", *NAMESPACES]),
    st.sampled_from(["", "x"]),
)


@st.composite
def request_for(draw: st.DrawFn, objs: list[dict[str, Any]]) -> tuple[str, ...]:
    """A request, most often shaped after a rule of the world so that some grant applies."""
    bindings = [o for o in objs if o["kind"].endswith("Binding")]
    if not bindings or draw(st.integers(0, 3)) == 0:
        return draw(request_st)
    binding = draw(st.sampled_from(bindings))
    ref = binding["roleRef"]
    roles_ = [o for o in objs if (o["kind"], o["metadata"]["name"]) == (ref["kind"], ref["name"])]
    rules = [r for o in roles_ for r in o.get("rules") or () if r.get("resources")]
    if not rules:
        return draw(request_st)
    rule = draw(st.sampled_from(rules))
    verb = draw(st.sampled_from(rule["verbs"]))
    verb = draw(st.sampled_from(VERBS[:-1])) if verb == "*" else verb
    group = draw(st.sampled_from(rule["apiGroups"]))
    group = draw(st.sampled_from(GROUPS[:-1])) if group == "*" else group
    base, _, sub = draw(st.sampled_from(rule["resources"])).partition("/")
    base = draw(st.sampled_from(["pods", "secrets", "deployments"])) if base == "*" else base
    sub = draw(st.sampled_from(["", "exec"])) if sub == "*" else sub
    name = draw(st.sampled_from(["", "x", *rule.get("resourceNames", ())]))
    ns = binding["metadata"].get("namespace") or draw(st.sampled_from(["", *NAMESPACES]))
    return (verb, group, base, sub, ns, name)


# --- a plain reference evaluation ---------------------------------------------------------------
def ref_role_rules(objs: list[dict[str, Any]]) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    """Rules per (kind, ns, name), aggregation run to a fixed point like the controller."""
    cluster = dict(builtins.CLUSTER_ROLES)
    out: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for obj in objs:
        meta = obj["metadata"]
        if obj["kind"] == "ClusterRole":
            cluster[meta["name"]] = obj
        elif obj["kind"] == "Role":
            out[("Role", meta["namespace"], meta["name"])] = list(obj.get("rules") or [])
    current = {
        n: ([] if "aggregationRule" in o else list(o.get("rules") or []))
        for n, o in cluster.items()
    }
    for _ in range(len(cluster) + 2):
        changed = False
        for name, obj in cluster.items():
            if "aggregationRule" not in obj:
                continue
            merged: list[dict[str, Any]] = []
            for sel in obj["aggregationRule"]["clusterRoleSelectors"]:
                want = sel.get("matchLabels", {})
                for other, oobj in sorted(cluster.items()):
                    labels = oobj["metadata"].get("labels") or {}
                    if other != name and all(labels.get(k) == v for k, v in want.items()):
                        merged += [r for r in current[other] if r not in merged]
            if sorted(map(repr, merged)) != sorted(map(repr, current[name])):
                current[name], changed = merged, True
        if not changed:
            break
    for name, rules in current.items():
        out[("ClusterRole", "", name)] = rules
    return out


def ref_allows(objs, user, groups, verb, group, resource, sub, ns, name) -> bool:
    rules_of = ref_role_rules(objs)
    combined = f"{resource}/{sub}" if sub else resource
    req_name = "" if verb in ("create", "list", "watch", "deletecollection") and not sub else name
    for obj in objs:
        if obj["kind"] not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        bns = obj["metadata"].get("namespace", "")
        if obj["kind"] == "RoleBinding" and (not ns or bns != ns):
            continue
        ref = obj["roleRef"]
        if obj["kind"] == "ClusterRoleBinding" and ref["kind"] != "ClusterRole":
            continue
        key = (
            ("Role", bns, ref["name"])
            if ref["kind"] == "Role"
            else ("ClusterRole", "", ref["name"])
        )
        named = False
        for s in obj["subjects"]:
            if s["kind"] == "User":
                named |= s["name"] == user
            elif s["kind"] == "Group":
                named |= s["name"] in groups
            else:
                sns = s.get("namespace") or bns
                named |= bool(sns) and user == f"system:serviceaccount:{sns}:{s['name']}"
        if not named:
            continue
        for r in rules_of.get(key, []):
            verbs, rgroups = r.get("verbs", []), r.get("apiGroups", [])
            res, rnames = r.get("resources", []), r.get("resourceNames", [])
            if not ("*" in verbs or verb in verbs):
                continue
            if not ("*" in rgroups or group in rgroups):
                continue
            if not ("*" in res or combined in res or (sub and f"*/{sub}" in res)):
                continue
            if rnames and req_name not in rnames:
                continue
            return True
    return False


def identities() -> list[subjects.Identity]:
    return [
        subjects.identity(subjects.user("alice")),
        subjects.identity(subjects.user("system:anonymous")),
        subjects.identity(subjects.service_account("a", "runner")),
        subjects.identity(subjects.service_account("b", "default")),
        subjects.identity(subjects.group("devs")),
        subjects.Identity("bob", frozenset({"system:masters", "system:authenticated"})),
    ]


@given(world_st(), st.data())
def test_authorizer_agrees_with_the_reference(objs, data):
    request = data.draw(request_for(objs))
    view = clusterview.ClusterIndex(objs)
    verb, group, resource, sub, ns, name = request
    for who in identities():
        expected = ref_allows(objs, who.user, who.groups, verb, group, resource, sub, ns, name)
        actual = authorizer.allows(view, who.user, who.groups, verb, group, resource, sub, ns, name)
        assert actual == expected, (who, request)


def _binding_subjects(view: clusterview.ClusterIndex) -> set[clusterview.Subject]:
    out = set()
    for binding in authorizer.all_bindings(view):
        for entry in clusterview.subjects_of(binding):
            if not (entry[0] == "ServiceAccount" and not entry[1]):
                out.add(entry)
    return out


@given(world_st(), st.data())
def test_who_can_agrees_with_permissions(objs, data):
    request = data.draw(request_for(objs))
    view = clusterview.ClusterIndex(objs)
    verb, group, resource, sub, ns, name = request
    listed = {
        a.subject
        for a in authorizer.who_can(view, verb, resource, sub, group=group, namespace=ns, name=name)
    }
    req_name = authorizer.request_name(verb, sub, name)
    expected = {
        s
        for s in {subjects.canonical(raw) for raw in _binding_subjects(view)}
        if any(
            (g.namespace is None or (ns and g.namespace == ns))
            and authorizer.rule_allows(g.rule, verb, group, resource, sub, req_name)
            for g in authorizer.effective_rules(view, s, direct=True)
        )
    }
    assert listed == expected


def _subsumers(cat: catalogue.Catalogue) -> dict[str, set[str]]:
    """id -> every id that subsumes it, transitively."""
    direct: dict[str, set[str]] = {}
    for rule in cat.rules:
        for sub in rule.subsumes:
            direct.setdefault(sub, set()).add(rule.id)
    closure = {k: set(v) for k, v in direct.items()}
    for _ in range(len(cat.rules)):
        for v in closure.values():
            for parent in list(v):
                v |= closure.get(parent, set())
    return closure


@given(world_st(), st.data())
def test_adding_a_binding_never_removes_a_finding(objs, data):
    cat = catalogue.default()
    before = findings.review(clusterview.ClusterIndex(objs))
    roles_ = tuple(o for o in objs if o["kind"] in ("Role", "ClusterRole"))
    extra = data.draw(binding_st(99, roles_))
    view_after = clusterview.ClusterIndex([*objs, extra])
    after = findings.review(view_after)
    resolver = roles.resolver_for(view_after)
    bound = {roles.role_ref(o) for o in [*objs, extra] if o["kind"].endswith("Binding")}
    aggregation = {r.id for r in cat.rules if "aggregation" in r.match}
    subsumers = _subsumers(cat)
    after_by_key = {(f.id, f.subject, None if f.subject else f.role): f for f in after}
    after_ids = {(f.subject, f.id) for f in after}
    for f in before:
        if f.subject is None and (
            f.role in bound  # bound now: its findings moved to its subjects
            or (  # joined a bound role: its rules are judged with those subjects, its label here
                f.id not in aggregation
                and findings.bound_through_aggregation(resolver, f.role, bound)
            )
        ):
            continue
        key = (f.id, f.subject, None if f.subject else f.role)
        if key in after_by_key:
            assert catalogue.rank(after_by_key[key].severity) >= catalogue.rank(f.severity)
            continue
        assert f.subject is not None, f.to_json()
        assert any((f.subject, s) in after_ids for s in subsumers.get(f.id, ())), f.to_json()


@given(world_st())
def test_for_subject_direct_matches_review(objs):
    """review's findings for a subject are for_subject over its direct bindings, plus only
    union findings (all-of rules) it holds together with its groups."""
    view = clusterview.ClusterIndex(objs)
    reviewed = findings.review(view)
    unions = {r.id for r in catalogue.default().rules if r.permissions("allOf")}
    for raw in _binding_subjects(view):
        if raw[0] not in subjects.KINDS:
            continue
        s = subjects.canonical(raw)  # an SA's user name is the SA
        mine = [f for f in reviewed if f.subject == s]
        direct = findings.for_subject(view, s, direct=True)
        assert [f for f in mine if f not in direct] == [
            f for f in mine if f not in direct and f.id in unions
        ]
        assert all(f in mine for f in direct)


junk = strategies.json_values(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=5)
    | st.sampled_from(["*", "", "pods"]),
    st.text(max_size=8),
)


@st.composite
def junk_object(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"]))
    meta: dict[str, Any] = {"name": draw(st.sampled_from(["r1", "r2", "view"]))}
    if kind.startswith("Role") or draw(st.booleans()):
        meta["namespace"] = draw(st.sampled_from(["a", ""]))
    meta["labels"] = draw(junk)
    obj: dict[str, Any] = {"apiVersion": b.RBAC, "kind": kind, "metadata": meta}
    for key in ("rules", "aggregationRule", "roleRef"):
        if draw(st.booleans()):
            obj[key] = draw(junk | st.lists(junk | rules_st, max_size=2))
    # A list: clusterview.subjects_of (the index's, not ours) iterates `subjects` as given.
    obj["subjects"] = draw(st.lists(junk | st.sampled_from(SUBJECTS), max_size=2))
    return obj


@given(st.lists(junk_object(), max_size=5))
def test_malformed_rbac_objects_never_crash_the_engine(objs):
    view = clusterview.ClusterIndex(objs)
    findings.review(view, include_defaults=True)
    authorizer.diagnostics(view)
    authorizer.who_can(view, "get", "pods", namespace="a")
    for s in [subjects.service_account("a", "r"), subjects.user("alice"), subjects.group("g")]:
        findings.for_subject(view, s)
