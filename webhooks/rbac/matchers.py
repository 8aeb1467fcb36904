"""How each `match` kind of the catalogue judges one grant: a short detail when it fires.

Every function returns None when the grant does not match, else a sentence naming what in the
rule matched. Permission matching uses the authorizer's own rule matching, plus what the scope
of the grant can reach: a RoleBinding never reaches a cluster-scoped resource.
"""

from __future__ import annotations

from webhooks.rbac import authorizer, builtins, catalogue, roles

Rule = roles.Rule
# Cluster-scoped resources a namespaced grant still reaches, by verb: the apiserver checks `bind`
# on clusterroles in the namespace of the RoleBinding being written (escalation_check.go
# BindingAuthorized), so a Role can let its holder bind any ClusterRole there.
NAMESPACE_REACHABLE: dict[tuple[str, str], frozenset[str]] = {
    ("rbac.authorization.k8s.io", "clusterroles"): frozenset({"bind"}),
}


def _split(resource: str) -> tuple[str, str]:
    base, _, sub = resource.partition("/")
    return base, sub


def grants_permission(
    cat: catalogue.Catalogue, grant: authorizer.Grant, perm: catalogue.Permission
) -> str | None:
    """Whether a grant gives one catalogue permission, as a detail naming verb and resource."""
    rule = grant.rule
    if not rule.verbs or not rule.resources:
        return None
    if not authorizer.group_matches(rule, perm.api_group):
        return None
    for resource in perm.resources:
        base, sub = _split(resource)
        reachable = frozenset(perm.verbs)
        if grant.namespace is not None and cat.scope_of(perm.api_group, base) == "cluster":
            reachable = NAMESPACE_REACHABLE.get((perm.api_group, base), frozenset())
            if not reachable & set(perm.verbs):
                continue
        if sub == "*":
            hit = any(
                e == "*" or e.startswith(f"{base}/") or e.startswith("*/") for e in rule.resources
            )
        else:
            hit = authorizer.resource_matches(rule, base, sub)
        if not hit:
            continue
        for verb in perm.verbs:
            if verb not in reachable:
                continue
            if verb == "*":
                named = True
            elif authorizer.verb_matches(rule, verb):
                named = not (verb in authorizer.UNNAMED_VERBS and not sub)
            else:
                continue
            restricted = bool(rule.resource_names)
            if perm.names == "unrestricted" and restricted:
                continue
            if perm.names == "restricted" and not (restricted and named):
                continue
            if perm.names == "any" and restricted and not named:
                continue
            shown = rule.verbs[0] if verb == "*" else verb
            names = f" named {', '.join(rule.resource_names)}" if restricted else ""
            group = perm.api_group or "core"
            return f"{shown} {resource} ({group}){names}"
    return None


def permissions(
    cat: catalogue.Catalogue, grant: authorizer.Grant, rule: catalogue.RiskRule
) -> str | None:
    """`match.permissions`: any listed permission."""
    for perm in rule.permissions():
        detail = grants_permission(cat, grant, perm)
        if detail:
            return detail
    return None


def full_wildcard(grant: authorizer.Grant, role_names: list[str]) -> str | None:
    """`match.fullWildcard`: verbs, apiGroups and resources all `*`, or a named ClusterRole."""
    rule = grant.rule
    if "*" in rule.verbs and "*" in rule.api_groups and "*" in rule.resources:
        return "every verb on every resource of every API group"
    if grant.role.kind == "ClusterRole" and grant.role.name in role_names:
        return f"bound to {grant.role}"
    return None


def wildcard(grant: authorizer.Grant, fields: list[str]) -> str | None:
    """`match.wildcard`: `*` (or `*/sub` for resources) in one of the named fields."""
    rule = grant.rule
    values = {"verbs": rule.verbs, "apiGroups": rule.api_groups, "resources": rule.resources}
    for field in fields:
        starred = [v for v in values[field] if v == "*" or v.startswith("*/")]
        if starred:
            return f"{field} {', '.join(starred)} in {rule}"
    return None


def non_resource_wildcard(grant: authorizer.Grant) -> str | None:
    """`match.nonResourceWildcard`: a `*` URL pattern, reachable only cluster-wide."""
    if grant.namespace is not None or not grant.rule.verbs:
        return None
    starred = [u for u in grant.rule.non_resource_urls if u.endswith("*")]
    return f"nonResourceURLs {', '.join(starred)}" if starred else None


def impersonation_targets(
    cat: catalogue.Catalogue, grant: authorizer.Grant, targets: list[dict[str, object]]
) -> str | None:
    """`match.impersonationTargets`: impersonate restricted to one of the listed names."""
    rule = grant.rule
    for target in targets:
        group, resource = str(target["apiGroup"]), str(target["resource"])
        names = [str(n) for n in target["names"]]  # type: ignore[attr-defined]
        if grant.namespace is not None and cat.scope_of(group, resource) == "cluster":
            continue
        if not (
            authorizer.verb_matches(rule, "impersonate")
            and authorizer.group_matches(rule, group)
            and authorizer.resource_matches(rule, resource, "")
        ):
            continue
        hit = [n for n in rule.resource_names if n in names]
        if hit:
            return f"impersonate {resource} named {', '.join(hit)}"
    return None


def subject_matches(entry: dict[str, str], subject: tuple[str, str, str]) -> bool:
    """Whether a `match.subjects` entry names this subject (a trailing `*` is a prefix)."""
    kind, _, name = subject
    if entry["kind"] != kind:
        return False
    pattern = entry["name"]
    if pattern.endswith("*"):
        return name.startswith(pattern[:-1])
    return name == pattern


def aggregates_into(
    resolver: roles.Resolver, grant: authorizer.Grant, into: list[str]
) -> list[str]:
    """Which of admin/edit/view (as listed) the grant's ClusterRole is labelled to aggregate into."""
    if grant.role.kind != "ClusterRole":
        return []
    obj = resolver.role(grant.role)
    if obj is None or builtins.is_builtin(obj):
        return []
    labels = roles.labels_of(obj)
    return [t for t in into if labels.get(f"{builtins.AGGREGATE_TO}{t}") == "true"]


def dead_rule(cat: catalogue.Catalogue, grant: authorizer.Grant, checks: list[str]) -> str | None:
    """`match.deadRule`: a part of the rule that can never take effect, explained."""
    rule = grant.rule
    groups = [g for g in rule.api_groups if g != "*"] if "*" not in rule.api_groups else []
    bases = [_split(r)[0] for r in rule.resources if r != "*" and not r.startswith("*/")]
    if "clusterScopedInRole" in checks and grant.role.kind == "Role" and groups:
        for base in bases:
            scopes = {cat.scope_of(g, base) for g in groups}
            verbs = set(rule.verbs)
            if any(
                ("*" in verbs or verbs & NAMESPACE_REACHABLE.get((g, base), set())) for g in groups
            ):
                continue  # e.g. bind on clusterroles: checked in the RoleBinding's namespace
            if scopes == {"cluster"}:
                return f"{base} is cluster-scoped; a Role cannot grant it"
    if "groupDoesNotServe" in checks and groups:
        for base in bases:
            if not cat.known_resource(base):
                continue
            if all(cat.closed_group(g) and cat.scope_of(g, base) is None for g in groups):
                shown = ", ".join(f'"{g}"' if g == "" else g for g in groups)
                return f"apiGroups [{shown}] do not serve {base}"
    if "createWithNames" in checks and rule.resource_names and "create" in rule.verbs:
        plain = [r for r in rule.resources if "/" not in r and r != "*"]
        if plain:
            return (
                f"create with resourceNames on {', '.join(plain)} never matches: a create "
                "request carries no name"
            )
    return None
