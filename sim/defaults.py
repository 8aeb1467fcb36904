"""What kube-apiserver sets on create for kinds with server-side state: a Namespace starts
Active with the `kubernetes` finalizer; a CRD is checked (group, names, scope, one storage
version, name = plural.group) and comes out Established, as the apiextensions controllers make it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim import errors, registry
from webhooks import kinds

if TYPE_CHECKING:
    from sim import store as store_mod

Obj = dict[str, Any]


def initial_status(store: store_mod.Store, res: registry.Resource, obj: Obj, keep: bool) -> Obj:
    """Status the server sets on create: Namespaces Active, CRDs Established (unless kept)."""
    if res.key == kinds.NAMESPACE.key:
        spec = registry.as_dict(obj.get("spec"))
        obj["spec"] = dict(spec, finalizers=spec.get("finalizers") or ["kubernetes"])
        if not keep or not isinstance(obj.get("status"), dict):
            obj["status"] = {"phase": "Active"}
    if res.key == kinds.CRD.key:
        _check_crd(obj)
        if not keep or not isinstance(obj.get("status"), dict):
            obj["status"] = established_status(store, obj)
    return obj


def established_status(store: store_mod.Store, crd: Obj) -> Obj:
    """The status the apiextensions controllers give an accepted CRD."""
    spec = crd.get("spec") or {}
    now = store.clock.timestamp()
    storage = [
        v.get("name")
        for v in spec.get("versions") or ()
        if isinstance(v, dict) and v.get("storage")
    ]
    return {
        "acceptedNames": dict(spec.get("names") or {}),
        "conditions": [
            {
                "type": "NamesAccepted",
                "status": "True",
                "reason": "NoConflicts",
                "message": "no conflicts found",
                "lastTransitionTime": now,
            },
            {
                "type": "Established",
                "status": "True",
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
                "lastTransitionTime": now,
            },
        ],
        "storedVersions": storage,
    }


def _check_crd(crd: Obj) -> None:
    name = str((crd.get("metadata") or {}).get("name", ""))
    spec = registry.as_dict(crd.get("spec"))
    names = registry.as_dict(spec.get("names"))
    causes = []
    for field, value in (
        ("spec.group", spec.get("group")),
        ("spec.names.plural", names.get("plural")),
        ("spec.names.kind", names.get("kind")),
    ):
        if not isinstance(value, str) or not value:
            causes.append(errors.field_error(field, "FieldValueRequired", "Required value"))
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        causes.append(
            errors.field_error(
                "spec.scope",
                "FieldValueNotSupported",
                f'Unsupported value: "{spec.get("scope", "")}": supported values: "Cluster", "Namespaced"',
            )
        )
    versions = list(spec.get("versions") or ()) if isinstance(spec.get("versions"), list) else []
    if sum(1 for v in versions if isinstance(v, dict) and v.get("storage")) != 1:
        causes.append(
            errors.field_error(
                "spec.versions",
                "FieldValueInvalid",
                "Invalid value: must have exactly one version marked as storage version",
            )
        )
    if not causes and name != f"{names['plural']}.{spec['group']}":
        causes.append(
            errors.field_error(
                "metadata.name",
                "FieldValueInvalid",
                f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group',
            )
        )
    if causes:
        raise errors.invalid(kinds.CRD.group, kinds.CRD.kind, name, causes)
