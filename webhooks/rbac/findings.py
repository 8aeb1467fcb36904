"""Findings: the catalogue of `policies/rbac-rules.yaml` applied to effective permissions.

`review` judges a whole input: per binding subject (its direct bindings) and, with subject
None, every role that nothing in the input binds. `for_subject` judges one subject's effective
permissions (a ServiceAccount's groups included) — what admission asks of the runner SA.
Subsumption follows the catalogue (`per: grant` only within one binding+role, `per: subject`
across the subject's findings); then one finding per (id, subject) keeps the highest severity.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from webhooks import clusterview, kinds
from webhooks.rbac import authorizer, builtins, catalogue, matchers, roles, subjects

Subject = clusterview.Subject
Obj = dict[str, Any]
# Match kinds judged grant by grant (the rest need the subject or the union of grants).
PER_GRANT = (
    "fullWildcard",
    "wildcard",
    "permissions",
    "nonResourceWildcard",
    "impersonationTargets",
    "aggregation",
    "deadRule",
)


@dataclasses.dataclass(frozen=True, slots=True)
class Finding:
    """One finding; `to_json` gives exactly the six keys of the JSON output."""

    id: str
    severity: str
    subject: Subject | None
    role: roles.Ref
    scope: str
    message: str
    binding: roles.Ref | None = None

    def to_json(self) -> dict[str, str | None]:
        """id, severity, subject (written form or None), role, scope, message."""
        return {
            "id": self.id,
            "severity": self.severity,
            "subject": subjects.text(self.subject) if self.subject else None,
            "role": str(self.role),
            "scope": self.scope,
            "message": self.message,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class _Hit:
    rule: catalogue.RiskRule
    severity: str
    grant: authorizer.Grant
    detail: str


def _where(grant: authorizer.Grant) -> str:
    if grant.binding is None:
        scope = "cluster-wide" if grant.namespace is None else f"in namespace {grant.namespace}"
        return f"{grant.role}, judged as a role on its own ({scope})"
    where = "cluster-wide" if grant.namespace is None else f"in namespace {grant.namespace}"
    if grant.namespace in authorizer.CLUSTER_EQUIVALENT_NAMESPACES:
        where += " (counts as cluster scope)"
    via = ""
    if grant.subject is not None and grant.subject[0] == "Group":
        via = f" via {subjects.text(grant.subject)}"
    return f"{grant.role} through {grant.binding}{via}, {where}"


def _grant_hits(
    cat: catalogue.Catalogue, resolver: roles.Resolver, grant: authorizer.Grant
) -> list[_Hit]:
    out: list[_Hit] = []
    for rule in cat.rules:
        detail = _match_grant(cat, resolver, grant, rule)
        if detail:
            out.append(_Hit(rule, rule.severity(grant.cluster_scope), grant, detail))
    return out


def _match_grant(
    cat: catalogue.Catalogue,
    resolver: roles.Resolver,
    grant: authorizer.Grant,
    rule: catalogue.RiskRule,
) -> str | None:
    match = rule.match
    if "fullWildcard" in match:
        detail = matchers.full_wildcard(grant, list(match["fullWildcard"].get("roles", ())))
        if detail:
            return detail
    if "wildcard" in match and (detail := matchers.wildcard(grant, match["wildcard"])):
        return detail
    if "permissions" in match and (detail := matchers.permissions(cat, grant, rule)):
        return detail
    if "nonResourceWildcard" in match and (detail := matchers.non_resource_wildcard(grant)):
        return detail
    if "impersonationTargets" in match:
        detail = matchers.impersonation_targets(cat, grant, match["impersonationTargets"])
        if detail:
            return detail
    if "aggregation" in match:
        spec = match["aggregation"]
        into = matchers.aggregates_into(resolver, grant, list(spec["into"]))
        if into:
            as_cluster = dataclasses.replace(grant, namespace=None)
            for risky in spec["risky"]:
                inner = _match_grant(cat, resolver, as_cluster, cat.rule(risky))
                if inner:
                    return f"labelled to aggregate into {', '.join(into)}; {risky}: {inner}"
    if "deadRule" in match and (detail := matchers.dead_rule(cat, grant, match["deadRule"])):
        return detail
    return None


def _union_hits(cat: catalogue.Catalogue, grants: list[authorizer.Grant]) -> list[_Hit]:
    out: list[_Hit] = []
    for rule in cat.rules:
        perms = rule.permissions("allOf")
        if not perms:
            continue
        found: list[tuple[authorizer.Grant, str]] = []
        for perm in perms:
            hit = next(
                (
                    (g, d)
                    for g in grants
                    if (d := matchers.grants_permission(cat, g, perm)) is not None
                ),
                None,
            )
            if hit is None:
                break
            found.append(hit)
        else:
            grant = found[-1][0]
            cluster = all(g.cluster_scope for g, _ in found)
            roles_seen = sorted({str(g.role) for g, _ in found})
            detail = "; ".join(d for _, d in found) + f" (roles: {', '.join(roles_seen)})"
            out.append(_Hit(rule, rule.severity(cluster), grant, detail))
    return out


def _subject_hits(
    cat: catalogue.Catalogue, subject: Subject, direct: list[authorizer.Grant]
) -> list[_Hit]:
    out: list[_Hit] = []
    sources: dict[tuple[roles.Ref | None, roles.Ref], authorizer.Grant] = {}
    for grant in direct:
        sources.setdefault(grant.source, grant)
    for rule in cat.rules:
        for entry in rule.match.get("subjects", ()):
            if not matchers.subject_matches(entry, subject):
                continue
            for grant in sources.values():
                severity = entry.get("severity") or rule.severity(grant.cluster_scope)
                detail = f"{subjects.text(subject)} is a subject of {grant.binding}"
                out.append(_Hit(rule, severity, grant, detail))
            break
    return out


def _subsume(cat: catalogue.Catalogue, hits: list[_Hit]) -> list[_Hit]:
    by_grant: dict[Any, set[str]] = {}
    ids = {h.rule.id for h in hits}
    for hit in hits:
        by_grant.setdefault(hit.grant.source, set()).add(hit.rule.id)
    removed: set[tuple[str, Any]] = set()
    drop_ids: set[str] = set()
    for rule in cat.rules:
        if rule.id not in ids or not rule.subsumes:
            continue
        if rule.subsumes_per == "subject":
            drop_ids.update(rule.subsumes)
        else:
            for source, present in by_grant.items():
                if rule.id in present:
                    removed.update((i, source) for i in rule.subsumes)
    return [
        h for h in hits if h.rule.id not in drop_ids and (h.rule.id, h.grant.source) not in removed
    ]


def _order(hit: _Hit) -> tuple[Any, ...]:
    g = hit.grant
    return (-catalogue.rank(hit.severity), not g.cluster_scope, str(g.role), str(g.binding))


def _to_findings(holder: Subject | None, hits: list[_Hit]) -> list[Finding]:
    best: dict[tuple[str, str], _Hit] = {}
    for hit in sorted(hits, key=_order):
        key = (hit.rule.id, "" if holder else str(hit.grant.role))
        best.setdefault(key, hit)
    return [
        Finding(
            id=h.rule.id,
            severity=h.severity,
            subject=holder,
            role=h.grant.role,
            scope=h.grant.scope,
            message=f"{h.rule.title}: {h.detail}; {_where(h.grant)}",
            binding=h.grant.binding,
        )
        for h in best.values()
    ]


def judge(
    cat: catalogue.Catalogue,
    resolver: roles.Resolver,
    holder: Subject | None,
    grants: list[authorizer.Grant],
) -> list[Finding]:
    """The findings for one holder (a subject, or None for a role judged on its own)."""
    hits: list[_Hit] = []
    for grant in grants:
        hits.extend(_grant_hits(cat, resolver, grant))
    hits.extend(_union_hits(cat, grants))
    if holder is not None:
        direct = [g for g in grants if g.subject and subjects.canonical(g.subject) == holder]
        hits.extend(_subject_hits(cat, holder, direct))
    return sort(_to_findings(holder, _subsume(cat, hits)))


def sort(found: Iterable[Finding]) -> list[Finding]:
    """Findings ordered by severity (highest first), id, subject, role."""
    return sorted(
        found,
        key=lambda f: (
            -catalogue.rank(f.severity),
            f.id,
            subjects.text(f.subject) if f.subject else "",
            str(f.role),
        ),
    )


def for_subject(
    view: clusterview.ClusterView,
    subject: Subject,
    rules: catalogue.Catalogue | None = None,
    *,
    direct: bool = False,
) -> list[Finding]:
    """The findings a subject holds through its effective permissions (groups included).

    With `direct=True` only bindings that name the subject itself count. Subject rules
    (anonymous, default SA, system:masters, ...) judge the subject named, not its groups.
    Answers are reused until an RBAC object in the view changes.
    """
    cat = rules or catalogue.default()
    resolver = roles.resolver_for(view)
    key = ("for_subject", subject, direct, id(cat))
    cached = resolver.memo.get(key)
    if cached is not None and cached[0] is cat:
        return list(cached[1])
    grants = authorizer.effective_rules(view, subject, direct=direct, resolver=resolver)
    found = judge(cat, resolver, subject, grants)
    resolver.memo[key] = (cat, tuple(found))
    return found


def highest(found: Iterable[Finding]) -> str | None:
    """The highest severity among findings, or None when there are none."""
    ranks = [catalogue.rank(f.severity) for f in found]
    return catalogue.SEVERITIES[max(ranks)] if ranks else None


def at_least(found: Iterable[Finding], severity: str) -> list[Finding]:
    """The findings of this severity or higher."""
    return [f for f in found if catalogue.rank(f.severity) >= catalogue.rank(severity)]


def review(
    view: clusterview.ClusterView,
    rules: catalogue.Catalogue | None = None,
    *,
    include_defaults: bool = False,
) -> list[Finding]:
    """Every finding of an input: per binding subject, and role-level for unbound roles.

    Bindings and roles carrying the catalogue's exempt labels (the cluster's bootstrap
    defaults) are skipped unless `include_defaults`. Built-in roles the input lacks are used
    to resolve bindings but are never judged on their own.
    """
    cat = rules or catalogue.default()
    resolver = roles.resolver_for(view)
    per_subject: dict[Subject, list[authorizer.Grant]] = {}
    bound: set[roles.Ref] = set()
    for binding in authorizer.all_bindings(view):
        ref = roles.role_ref(binding)
        if ref is not None:
            bound.add(ref)
        if cat.exempt(binding) and not include_defaults:
            continue
        for entry in clusterview.subjects_of(binding):
            if entry[0] not in subjects.KINDS or (entry[0] == "ServiceAccount" and not entry[1]):
                continue
            # A service account's user name and the account are one subject.
            per_subject.setdefault(subjects.canonical(entry), []).extend(
                authorizer.binding_grants(resolver, binding, entry)
            )
    out: list[Finding] = []
    for subject in sorted(per_subject):
        found = judge(cat, resolver, subject, per_subject[subject])
        out.extend(found + _union_through_groups(cat, subject, per_subject, found))
    aggregation = {r.id for r in cat.rules if "aggregation" in r.match}
    for obj in _input_roles(view):
        ref = roles.Ref.of(obj)
        if ref in bound or builtins.is_builtin(obj):
            continue
        if cat.exempt(obj) and not include_defaults:
            continue
        found = judge(cat, resolver, None, authorizer.role_grants(resolver, ref))
        if bound_through_aggregation(resolver, ref, bound):
            # Its rules reach subjects through the role it joins and are judged with them; its
            # own label (aggregate into admin/edit/view) is judged here, so a binding never
            # hides it.
            found = [f for f in found if f.id in aggregation]
        out.extend(found)
    return sort(out)


def _union_through_groups(
    cat: catalogue.Catalogue,
    subject: Subject,
    per_subject: dict[Subject, list[authorizer.Grant]],
    found: list[Finding],
) -> list[Finding]:
    """Findings that need several permissions (RBAC013's union) which a subject holds only
    together with what its groups are granted: each part alone is reported with its holder,
    the whole only here."""
    if subject[0] == "Group":
        return []
    inherited = [
        g
        for group in sorted(subjects.identity(subject).groups)
        for g in per_subject.get(("Group", "", group), [])
    ]
    if not inherited:
        return []
    own = (
        {f.id for f in found}
        | {h.rule.id for h in _union_hits(cat, per_subject[subject])}  # held (maybe subsumed)
        | {h.rule.id for h in _union_hits(cat, inherited)}  # the groups' own, reported there
    )
    hits = [h for h in _union_hits(cat, per_subject[subject] + inherited) if h.rule.id not in own]
    return _to_findings(subject, hits)


def bound_through_aggregation(
    resolver: roles.Resolver, ref: roles.Ref, bound: set[roles.Ref]
) -> bool:
    """Whether a role is bound, or aggregated (transitively) into a ClusterRole that is: its
    rules then reach subjects and are judged with them, not as an unbound role."""
    seen: set[str] = set()
    todo = [ref]
    while todo:
        current = todo.pop()
        if current in bound:
            return True
        if current.kind != "ClusterRole" or current.name in seen:
            continue
        seen.add(current.name)
        todo.extend(roles.Ref("ClusterRole", "", n) for n in resolver.aggregated_into(current.name))
    return False


def _input_roles(view: clusterview.ClusterView) -> list[Obj]:
    return view.list(kinds.CLUSTER_ROLE.group, "ClusterRole") + view.list(kinds.ROLE.group, "Role")
