"""Access reviews (`authorization.k8s.io/v1`): what `kubectl auth can-i` asks the apiserver.

SelfSubjectAccessReview (the caller), SubjectAccessReview and LocalSubjectAccessReview (a given
user) are answered, never stored, by opgate's RBAC engine (`webhooks.rbac.authorizer`) over the
roles and bindings in the fake cluster. Members of `system:masters` are allowed everything, as
kube-apiserver's superuser group is.
"""

from __future__ import annotations

from typing import Any

from sim import errors, registry
from webhooks import clusterview, review
from webhooks.rbac import authorizer

Obj = dict[str, Any]
GROUP = "authorization.k8s.io"
KEYS = frozenset(r.key for r in registry.REVIEWS)
# The group kube-apiserver's authorizer chain lets do anything.
SUPERUSERS = "system:masters"


def decide(
    view: clusterview.ClusterView, obj: Obj, caller: review.UserInfo, namespace: str | None
) -> Obj:
    """The review with its `status` filled in (allowed, reason)."""
    if not isinstance(obj, dict):
        raise errors.bad_request("the request body must be a JSON object (an access review)")
    spec = registry.as_dict(obj.get("spec"))
    if obj.get("kind") == "SelfSubjectAccessReview":
        user, groups = caller.username, tuple(caller.groups)
    else:
        user, groups = str(spec.get("user") or ""), tuple(str(g) for g in spec.get("groups") or ())
    attrs = registry.as_dict(spec.get("resourceAttributes"))
    url = registry.as_dict(spec.get("nonResourceAttributes"))
    if not attrs and not url:
        raise errors.invalid(
            GROUP,
            str(obj.get("kind", "")),
            "",
            [
                errors.field_error(
                    "spec.resourceAttributes",
                    "FieldValueRequired",
                    "Required value: exactly one of nonResourceAttributes or resourceAttributes must be specified",
                )
            ],
        )
    if namespace is not None:
        attrs["namespace"] = namespace  # a LocalSubjectAccessReview asks about its namespace
    if SUPERUSERS in groups:
        allowed, reason = True, ""
    elif attrs:
        allowed = authorizer.allows(
            view,
            user,
            groups,
            str(attrs.get("verb", "")),
            str(attrs.get("group", "")),
            str(attrs.get("resource", "")),
            str(attrs.get("subresource", "")),
            str(attrs.get("namespace", "")),
            str(attrs.get("name", "")),
        )
        reason = ""
    else:
        allowed = authorizer.allows_url(
            view, user, groups, str(url.get("verb", "")), str(url.get("path", ""))
        )
        reason = ""
    out = dict(obj)
    out["metadata"] = {}
    out["status"] = {"allowed": allowed, **({"reason": reason} if reason else {})}
    return out
