"""Effective permissions with the Kubernetes RBAC authorizer's semantics.

Matching follows k8s `pkg/apis/rbac/v1/evaluation_helpers.go` and the rule resolver exactly:
verbs and apiGroups match `*` or the value; resources match `*`, the exact `resource/sub`, or
`*/sub` for a subresource request (there is no `pods/*` prefix form); a rule with resourceNames
only matches a request that carries a name, and create (of a top-level resource), list, watch
and deletecollection never carry one; nonResourceURLs match `*`, the exact path or a `prefix*`.
RoleBindings apply only to requests in their own namespace; ClusterRoleBindings to every
request, including cluster-scoped and non-resource ones.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from webhooks import clusterview, kinds
from webhooks.rbac import roles, subjects

Obj = dict[str, Any]
Subject = clusterview.Subject

# Verbs whose requests never carry an object name when no subresource is addressed
# (apiserver RequestInfo: create POSTs to the collection; list/watch/deletecollection act on it).
UNNAMED_VERBS = frozenset({"create", "list", "watch", "deletecollection"})
# A namespace whose grants count as cluster-wide: whoever controls kube-system controls the cluster.
CLUSTER_EQUIVALENT_NAMESPACES = frozenset({"kube-system"})


@dataclasses.dataclass(frozen=True, slots=True)
class Grant:
    """One rule a subject holds, with the role that holds it and the binding that grants it.

    `namespace` is None for a ClusterRoleBinding (everywhere) and the RoleBinding's namespace
    otherwise; `binding` is None for a role judged on its own (nothing binds it); `subject` is
    the binding subject through which the grant reaches its holder (a group, for instance).
    """

    rule: roles.Rule
    role: roles.Ref
    binding: roles.Ref | None
    subject: Subject | None
    namespace: str | None

    @property
    def cluster_scope(self) -> bool:
        """Whether the grant counts as cluster-wide (a ClusterRoleBinding or kube-system)."""
        return self.namespace is None or self.namespace in CLUSTER_EQUIVALENT_NAMESPACES

    @property
    def scope(self) -> str:
        """`cluster` or `namespace:<ns>`."""
        return "cluster" if self.cluster_scope else f"namespace:{self.namespace}"

    @property
    def source(self) -> tuple[roles.Ref | None, roles.Ref]:
        """(binding, role): what grants this rule; several rules share one source."""
        return (self.binding, self.role)


def request_name(verb: str, subresource: str, name: str) -> str:
    """The object name an apiserver request of this shape carries ("" for unnamed requests)."""
    return "" if verb in UNNAMED_VERBS and not subresource else name


def verb_matches(rule: roles.Rule, verb: str) -> bool:
    """Whether the rule's verbs hold `*` or the verb."""
    return "*" in rule.verbs or verb in rule.verbs


def group_matches(rule: roles.Rule, group: str) -> bool:
    """Whether the rule's apiGroups hold `*` or the group."""
    return "*" in rule.api_groups or group in rule.api_groups


def resource_matches(rule: roles.Rule, resource: str, subresource: str) -> bool:
    """Kubernetes ResourceMatches: `*`, exact `resource[/sub]`, or `*/sub` for a subresource."""
    combined = f"{resource}/{subresource}" if subresource else resource
    for entry in rule.resources:
        if entry in ("*", combined):
            return True
        if subresource and entry == f"*/{subresource}":
            return True
    return False


def name_matches(rule: roles.Rule, name: str) -> bool:
    """Kubernetes ResourceNameMatches: no resourceNames, or the name among them."""
    return not rule.resource_names or name in rule.resource_names


def url_matches(rule: roles.Rule, path: str) -> bool:
    """Kubernetes NonResourceURLMatches: `*`, the exact path, or a `prefix*`."""
    for entry in rule.non_resource_urls:
        if entry in ("*", path):
            return True
        if entry.endswith("*") and path.startswith(entry.rstrip("*")):
            return True
    return False


def rule_allows(
    rule: roles.Rule, verb: str, group: str, resource: str, subresource: str = "", name: str = ""
) -> bool:
    """Whether one rule allows a resource request (the name already as the request carries it)."""
    return (
        verb_matches(rule, verb)
        and group_matches(rule, group)
        and resource_matches(rule, resource, subresource)
        and name_matches(rule, name)
    )


def rule_allows_url(rule: roles.Rule, verb: str, path: str) -> bool:
    """Whether one rule allows a non-resource request."""
    return verb_matches(rule, verb) and url_matches(rule, path)


def all_bindings(view: clusterview.ClusterView, namespace: str | None = None) -> list[Obj]:
    """ClusterRoleBindings, then RoleBindings (all, or those of one namespace)."""
    return view.list(kinds.CLUSTER_ROLE_BINDING.group, "ClusterRoleBinding") + view.list(
        kinds.ROLE_BINDING.group, "RoleBinding", namespace
    )


def binding_namespace(binding: Obj) -> str | None:
    """None for a ClusterRoleBinding; the namespace of a RoleBinding."""
    if binding.get("kind") == "ClusterRoleBinding":
        return None
    return str((binding.get("metadata") or {}).get("namespace") or "")


def binding_grants(resolver: roles.Resolver, binding: Obj, subject: Subject | None) -> list[Grant]:
    """The grants a binding gives (one per rule of its role); none when its roleRef is invalid."""
    ref = roles.role_ref(binding)
    if ref is None:
        return []
    namespace = binding_namespace(binding)
    if namespace == "":
        return []
    bref = roles.Ref.of(binding)
    return [Grant(rule, ref, bref, subject, namespace) for rule in resolver.rules(ref) or ()]


def role_grants(resolver: roles.Resolver, ref: roles.Ref) -> list[Grant]:
    """The rules of a role judged on its own: a ClusterRole as if bound cluster-wide."""
    namespace = ref.namespace if ref.kind == "Role" else None
    return [Grant(rule, ref, None, None, namespace) for rule in resolver.rules(ref) or ()]


def _bindings_for(view: clusterview.ClusterView, who: subjects.Identity) -> list[Obj]:
    seen: dict[tuple[str, str, str], Obj] = {}
    for key in subjects.lookup_keys(who):
        for binding in view.bindings_for_subject(key):
            ref = roles.Ref.of(binding)
            seen.setdefault((ref.kind, ref.namespace, ref.name), binding)
    return [seen[k] for k in sorted(seen)]


def identity_grants(
    view: clusterview.ClusterView,
    who: subjects.Identity,
    resolver: roles.Resolver | None = None,
) -> list[Grant]:
    """Every grant an identity holds, through any binding subject that names it."""
    resolver = resolver or roles.resolver_for(view)
    out: list[Grant] = []
    for binding in _bindings_for(view, who):
        for entry in clusterview.subjects_of(binding):
            if subjects.applies(entry, who):
                out.extend(binding_grants(resolver, binding, entry))
    return out


def effective_rules(
    view: clusterview.ClusterView,
    subject: Subject,
    *,
    direct: bool = False,
    resolver: roles.Resolver | None = None,
) -> list[Grant]:
    """The grants a subject holds, each with the binding and role that grant it.

    By default through every binding that names its identity (for a ServiceAccount: itself, its
    user name and its groups). With `direct=True`, only bindings that name the subject itself.
    """
    resolver = resolver or roles.resolver_for(view)
    if not direct:
        return identity_grants(view, subjects.identity(subject), resolver)
    # A service account is named by itself or by its user name: both are the subject itself.
    subject = subjects.canonical(subject)
    keys = [subject]
    if subject[0] == "ServiceAccount":
        keys.append(subjects.user(subjects.sa_username(subject[1], subject[2])))
    out: list[Grant] = []
    seen: set[int] = set()
    for key in keys:
        for binding in view.bindings_for_subject(key):
            if id(binding) in seen:
                continue
            seen.add(id(binding))
            for entry in clusterview.subjects_of(binding):
                if subjects.canonical(entry) == subject:
                    out.extend(binding_grants(resolver, binding, entry))
    return out


def _applies_to_request(grant: Grant, namespace: str) -> bool:
    return grant.namespace is None or (bool(namespace) and grant.namespace == namespace)


def allows(
    view: clusterview.ClusterView,
    user: str,
    groups: frozenset[str] | set[str] | list[str] | tuple[str, ...],
    verb: str,
    group: str,
    resource: str,
    subresource: str = "",
    namespace: str = "",
    name: str = "",
) -> bool:
    """Whether RBAC allows a resource request by this user (namespace "" = cluster-scoped)."""
    who = subjects.Identity(user, frozenset(groups))
    name = request_name(verb, subresource, name)
    return any(
        _applies_to_request(g, namespace)
        and rule_allows(g.rule, verb, group, resource, subresource, name)
        for g in identity_grants(view, who)
    )


def allows_url(
    view: clusterview.ClusterView,
    user: str,
    groups: frozenset[str] | set[str] | list[str] | tuple[str, ...],
    verb: str,
    path: str,
) -> bool:
    """Whether RBAC allows a non-resource request (only ClusterRoleBindings can)."""
    who = subjects.Identity(user, frozenset(groups))
    return any(
        g.namespace is None and rule_allows_url(g.rule, verb, path)
        for g in identity_grants(view, who)
    )


@dataclasses.dataclass(frozen=True, slots=True)
class Access:
    """A binding subject that may make a request, and the grant that lets it."""

    subject: Subject
    grant: Grant


def who_can(
    view: clusterview.ClusterView,
    verb: str,
    resource: str,
    subresource: str = "",
    *,
    group: str = "",
    namespace: str = "",
    name: str = "",
) -> list[Access]:
    """Every binding subject allowed a request, with the grant that allows it, sorted.

    `namespace` "" asks about a cluster-wide request (only ClusterRoleBindings apply);
    otherwise RoleBindings of that namespace count too. ServiceAccount subjects of a
    ClusterRoleBinding without a namespace are invalid and never listed.
    """
    resolver = roles.resolver_for(view)
    name = request_name(verb, subresource, name)
    found: dict[tuple[Subject, roles.Ref | None, roles.Ref], Access] = {}
    for binding in all_bindings(view, namespace or None):
        if binding_namespace(binding) not in (None, namespace):
            continue
        grants = binding_grants(resolver, binding, None)
        allowed = [
            g for g in grants if rule_allows(g.rule, verb, group, resource, subresource, name)
        ]
        if not allowed:
            continue
        for entry in clusterview.subjects_of(binding):
            if entry[0] not in subjects.KINDS or (entry[0] == "ServiceAccount" and not entry[1]):
                continue
            who = subjects.canonical(entry)  # an SA's user name is the SA
            grant = dataclasses.replace(allowed[0], subject=entry)
            found.setdefault((who, grant.binding, grant.role), Access(who, grant))
    return [found[k] for k in sorted(found, key=lambda k: (k[0], str(k[1]), str(k[2])))]


def diagnostics(view: clusterview.ClusterView) -> list[str]:
    """Problems in the input that make a binding grant less than it seems, one line each."""
    resolver = roles.resolver_for(view)
    out: list[str] = []
    for binding in all_bindings(view):
        bref = roles.Ref.of(binding)
        ref = roles.role_ref(binding)
        if ref is None:
            out.append(
                f"{bref}: roleRef {binding.get('roleRef')!r} is invalid (a ClusterRoleBinding "
                "names a ClusterRole; a RoleBinding a Role or ClusterRole, apiGroup "
                f"{kinds.RBAC_GROUP}); it grants nothing"
            )
        elif resolver.role(ref) is None:
            out.append(f"{bref}: {ref} does not exist in the input; the binding grants nothing")
        for entry in clusterview.subjects_of(binding):
            if entry[0] == "ServiceAccount" and not entry[1]:
                out.append(
                    f"{bref}: ServiceAccount subject {entry[2]!r} has no namespace; a "
                    "ClusterRoleBinding must name it, so this subject is ignored"
                )
            elif entry[0] not in subjects.KINDS:
                out.append(
                    f"{bref}: subject kind {entry[0]!r} is not User, Group or ServiceAccount"
                )
    return out
