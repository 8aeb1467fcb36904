"""The steps of a write between decoding and storage, in kube-apiserver's order.

Decode (the store) -> prune unknown fields and apply schema defaults -> mutating admission ->
prune and default again -> metadata and structural-schema validation -> validating admission ->
storage (the store). Custom resources only are pruned, defaulted and schema-checked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim import admission, errors, registry, schema
from webhooks import review

if TYPE_CHECKING:
    from sim import store as store_mod

Obj = dict[str, Any]
Warnings = list[str]
# The fieldValidation directives of create/update/patch (kube-apiserver's default is Warn).
FIELD_VALIDATION = ("Ignore", "Warn", "Strict")


def _meta(obj: Obj | None) -> Obj:
    return registry.as_dict((obj or {}).get("metadata"))


def attributes(
    operation: str,
    res: registry.Resource,
    obj: Obj | None,
    old: Obj | None,
    subresource: str,
    user: review.UserInfo,
    dry_run: bool,
) -> admission.Attributes:
    """What admission is told about a write."""
    m = _meta(obj if obj is not None else old)
    return admission.Attributes(
        operation=operation,
        resource=res,
        version=res.storage_version,
        subresource=subresource,
        namespace=str(m.get("namespace") or "") if res.namespaced else "",
        name=str(m.get("name") or ""),
        user=user,
        dry_run=dry_run,
        old=old,
    )


def mutate(
    store: store_mod.Store, attrs: admission.Attributes, obj: Obj | None, warnings: Warnings | None
) -> Obj | None:
    """The object after the store's mutating webhooks (unchanged without a chain)."""
    if store.chain is None or attrs.resource.key in admission.EXEMPT:
        return obj
    out, found = store.chain.mutate(store.view, attrs, obj)
    if warnings is not None:
        warnings.extend(found)
    return out


def mutated(
    store: store_mod.Store, attrs: admission.Attributes, obj: Obj, warnings: Warnings | None
) -> Obj:
    """The object after the mutating webhooks of a create or update."""
    out = mutate(store, attrs, obj, warnings)
    if out is None:
        raise errors.internal("a mutating webhook left no object")
    return out


def validate(
    store: store_mod.Store, attrs: admission.Attributes, obj: Obj | None, warnings: Warnings | None
) -> None:
    """Run the store's validating webhooks; raises the first refusal."""
    if store.chain is None or attrs.resource.key in admission.EXEMPT:
        return
    found = store.chain.validate(store.view, attrs, obj)
    if warnings is not None:
        warnings.extend(found)


def defaulted(
    res: registry.Resource, obj: Obj, warnings: Warnings | None, field_validation: str = "Warn"
) -> Obj:
    """Prune unknown fields (Warn: as warnings; Strict: 400) and apply schema defaults."""
    if field_validation not in FIELD_VALIDATION:
        raise errors.bad_request(
            f"fieldValidation must be one of {', '.join(FIELD_VALIDATION)}, got {field_validation!r}"
        )
    found = res.schemas.get(res.storage_version) if res.crd else None
    if found is None:
        return obj
    obj, dropped = schema.prune(found, obj)
    unknown = [f'unknown field "{path}"' for path in dropped]
    if unknown and field_validation == "Strict":
        raise errors.bad_request("strict decoding error: " + ", ".join(unknown))
    if warnings is not None and field_validation == "Warn":
        warnings.extend(unknown)
    return schema.default(found, obj)


def validated(res: registry.Resource, obj: Obj) -> Obj:
    """Pruned, defaulted and schema-checked (422 Invalid listing every violation)."""
    found = res.schemas.get(res.storage_version) if res.crd else None
    if found is None:
        return obj
    obj = defaulted(res, obj, None)
    causes = schema.validate(found, obj)
    if causes:
        raise errors.invalid(res.group, res.kind, str(_meta(obj).get("name", "")), causes)
    return obj
