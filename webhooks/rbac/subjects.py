"""RBAC subjects: how they are written, and the identity (user name, groups) each one has.

A subject is `clusterview.Subject`, the tuple (kind, namespace, name) the cluster index files
bindings under; the namespace is "" except for ServiceAccounts.
"""

from __future__ import annotations

import dataclasses

from webhooks import clusterview
from webhooks.rbac import errors

Subject = clusterview.Subject

# The user name prefix of a ServiceAccount (k8s.io/apiserver serviceaccount.MakeUsername).
SA_USER_PREFIX = "system:serviceaccount:"
# Groups the authenticator adds to every ServiceAccount token (serviceaccount.MakeGroupNames).
ALL_SERVICE_ACCOUNTS = "system:serviceaccounts"
AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS = "system:anonymous"
KINDS = ("ServiceAccount", "User", "Group")


@dataclasses.dataclass(frozen=True, slots=True)
class Identity:
    """What the authorizer sees of a caller: a user name and its groups."""

    user: str
    groups: frozenset[str]


def service_account(namespace: str, name: str) -> Subject:
    """The subject of a ServiceAccount."""
    return ("ServiceAccount", namespace, name)


def user(name: str) -> Subject:
    """The subject of a user."""
    return ("User", "", name)


def group(name: str) -> Subject:
    """The subject of a group."""
    return ("Group", "", name)


def parse(text: str) -> Subject:
    """`ServiceAccount/NS/NAME`, `User/NAME` or `Group/NAME` as a subject; else SubjectError."""
    kind, _, rest = text.partition("/")
    if kind == "ServiceAccount":
        ns, _, name = rest.partition("/")
        if ns and name and "/" not in name:
            return service_account(ns, name)
    elif kind in ("User", "Group") and rest:
        return (kind, "", rest)
    raise errors.SubjectError(
        f"subject {text!r} is not one of ServiceAccount/<namespace>/<name>, User/<name>, "
        "Group/<name> (kinds are case-sensitive)"
    )


def text(subject: Subject) -> str:
    """The written form of a subject: `ServiceAccount/ns/name`, `User/name`, `Group/name`."""
    kind, ns, name = subject
    return f"{kind}/{ns}/{name}" if kind == "ServiceAccount" else f"{kind}/{name}"


def sa_username(namespace: str, name: str) -> str:
    """The user name a ServiceAccount authenticates as."""
    return f"{SA_USER_PREFIX}{namespace}:{name}"


def from_username(name: str) -> Subject | None:
    """The ServiceAccount a user name stands for (`system:serviceaccount:ns:sa`), else None."""
    if not name.startswith(SA_USER_PREFIX):
        return None
    ns, sep, sa = name[len(SA_USER_PREFIX) :].partition(":")
    if not sep or not ns or not sa or ":" in sa:
        return None
    return service_account(ns, sa)


def canonical(subject: Subject) -> Subject:
    """The subject as the authorizer knows it: a User named `system:serviceaccount:ns:sa` is
    that ServiceAccount (the same identity, with its groups)."""
    if subject[0] == "User":
        sa = from_username(subject[2])
        if sa is not None:
            return sa
    return subject


def identity(subject: Subject) -> Identity:
    """The identity the authorizer sees for a subject.

    A ServiceAccount is `system:serviceaccount:<ns>:<name>` in the groups
    `system:serviceaccounts`, `system:serviceaccounts:<ns>` and `system:authenticated`; a user is
    in `system:authenticated` (`system:anonymous` in `system:unauthenticated`); a group subject is
    a member of that group only, so its identity shows what the group itself is granted.
    """
    kind, ns, name = canonical(subject)
    if kind == "ServiceAccount":
        groups = {ALL_SERVICE_ACCOUNTS, f"{ALL_SERVICE_ACCOUNTS}:{ns}", AUTHENTICATED}
        return Identity(sa_username(ns, name), frozenset(groups))
    if kind == "User":
        return Identity(name, frozenset({UNAUTHENTICATED if name == ANONYMOUS else AUTHENTICATED}))
    return Identity("", frozenset({name}))


def lookup_keys(who: Identity) -> list[Subject]:
    """The binding subjects that can name this identity (for `bindings_for_subject`)."""
    keys: list[Subject] = []
    if who.user:
        keys.append(user(who.user))
        sa = from_username(who.user)
        if sa is not None:
            keys.append(sa)
    keys.extend(group(g) for g in sorted(who.groups))
    return keys


def applies(entry: Subject, who: Identity) -> bool:
    """Whether a binding subject (namespace already defaulted) names this identity.

    Mirrors the RBAC rule resolver's appliesToUser: a ServiceAccount subject matches by its
    user name, so a User subject `system:serviceaccount:ns:sa` and the SA are the same caller.
    A ServiceAccount subject without a namespace never matches.
    """
    kind, ns, name = entry
    if kind == "User":
        return bool(who.user) and name == who.user
    if kind == "Group":
        return name in who.groups
    if kind == "ServiceAccount":
        return bool(ns) and bool(who.user) and sa_username(ns, name) == who.user
    return False
