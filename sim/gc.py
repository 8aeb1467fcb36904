"""Deletion: finalizers, ownerReference garbage collection, namespace and CRD cleanup.

Follows the garbage collector's rules: when an owner goes, each dependent that still has a live
owner only loses the dangling reference; one with no live owner left is deleted (Background:
after the owner; Foreground: before it, the owner waiting with the `foregroundDeletion`
finalizer while blocking dependents remain; Orphan: the references are removed and dependents
stay). Deleting a namespace deletes everything in it; deleting a CRD deletes its objects. Work
that real controllers do asynchronously is done here synchronously, in a deterministic order.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sim import errors, registry, watches
from webhooks import kinds

if TYPE_CHECKING:
    from sim import store as store_mod

Obj = dict[str, Any]
Key = tuple[str, str, str, str]
BACKGROUND, FOREGROUND, ORPHAN = "Background", "Foreground", "Orphan"
FOREGROUND_FINALIZER = "foregroundDeletion"


def _meta(obj: Obj | None) -> Obj:
    return (obj or {}).get("metadata") or {}


def _owner_uids(obj: Obj | None) -> set[str]:
    return {
        str(ref.get("uid"))
        for ref in _meta(obj).get("ownerReferences") or ()
        if isinstance(ref, dict) and ref.get("uid")
    }


def propagation_policy(value: str | None) -> str:
    """The DeleteOptions propagationPolicy (default Background); 422 for an unknown one."""
    if value in (None, ""):
        return BACKGROUND
    if value not in (BACKGROUND, FOREGROUND, ORPHAN):
        raise errors.invalid(
            "",
            "DeleteOptions",
            "",
            [
                errors.field_error(
                    "propagationPolicy",
                    "FieldValueNotSupported",
                    f'Unsupported value: "{value}": supported values: "Foreground", "Background", "Orphan"',
                )
            ],
        )
    return str(value)


def check_preconditions(res: registry.Resource, obj: Obj, preconditions: Obj | None) -> None:
    """409 Conflict when DeleteOptions.preconditions (uid, resourceVersion) do not hold."""
    m = _meta(obj)
    name = str(m.get("name", ""))
    for field, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
        want = (preconditions or {}).get(field)
        if want and want != m.get(field):
            raise errors.conflict(
                res.group,
                res.plural,
                name,
                f"Precondition failed: {label} in precondition: {want}, {label} in object meta: {m.get(field)}",
            )


def reindex(store: store_mod.Store, key: Key, old: Obj | None, new: Obj | None) -> None:
    """Keep the uid index and the owner-uid -> dependents index current for one write."""
    if old is not None:
        store._uids.pop(str(_meta(old).get("uid")), None)
        store._deleting.discard(key)
        for uid in _owner_uids(old):
            store._dependents.get(uid, set()).discard(key)
    if new is not None:
        store._uids[str(_meta(new).get("uid"))] = key
        if _meta(new).get("deletionTimestamp"):
            store._deleting.add(key)
        for uid in _owner_uids(new):
            store._dependents.setdefault(uid, set()).add(key)


def _resource(store: store_mod.Store, key: Key) -> registry.Resource | None:
    return store.registry.find_kind(key[0], key[1])


def _dependents(store: store_mod.Store, uid: str) -> Iterator[tuple[registry.Resource, Obj]]:
    """Current dependents of an owner uid, each read when reached (earlier steps may change it)."""
    for key in sorted(store._dependents.get(uid, ())):
        res, obj = _resource(store, key), store.find(*key)
        if res is not None and obj is not None and uid in _owner_uids(obj):
            yield res, obj


def _without_owner(store: store_mod.Store, res: registry.Resource, obj: Obj, uid: str) -> None:
    new = watches.copy_obj(obj)
    refs = [r for r in _meta(obj).get("ownerReferences") or () if r.get("uid") != uid]
    if refs:
        new["metadata"]["ownerReferences"] = refs
    else:
        new["metadata"].pop("ownerReferences", None)
    store._commit(res, new, obj)


def _solid_owners(store: store_mod.Store, dep: Obj, gone: str) -> bool:
    """Whether a dependent has an owner other than `gone` that exists and is not itself
    waiting for its dependents (a foreground deletion), as the garbage collector decides."""
    for uid in _owner_uids(dep):
        key = store._uids.get(uid) if uid != gone else None
        owner = store.find(*key) if key is not None else None
        if owner is not None and FOREGROUND_FINALIZER not in (_meta(owner).get("finalizers") or ()):
            return True
    return False


def store_key(res: registry.Resource, obj: Obj) -> Key:
    """(group, kind, namespace, name) of an object."""
    m = _meta(obj)
    return (res.group, res.kind, str(m.get("namespace") or ""), str(m.get("name") or ""))


def delete(store: store_mod.Store, res: registry.Resource, obj: Obj, policy: str) -> Obj:
    """Delete or mark for deletion, then finish what that unblocks; returns the last state."""
    out = _delete(store, res, obj, policy)
    settle(store)
    return store.find(*store_key(res, out)) or out


def finish(store: store_mod.Store, res: registry.Resource, obj: Obj) -> Obj:
    """Remove an object whose finalizers are all gone, collect its dependents, settle."""
    out = _finish(store, res, obj)
    settle(store)
    return out


def _delete(store: store_mod.Store, res: registry.Resource, obj: Obj, policy: str) -> Obj:
    m = _meta(obj)
    uid = str(m.get("uid"))
    if res.key == kinds.NAMESPACE.key:
        return _delete_namespace(store, res, obj)
    if policy == ORPHAN:
        for dep_res, dep in _dependents(store, uid):
            _without_owner(store, dep_res, dep, uid)
        obj = store.find(*store_key(res, obj)) or obj
        m = _meta(obj)
    finalizers = list(m.get("finalizers") or ())
    if policy == FOREGROUND and FOREGROUND_FINALIZER not in finalizers:
        finalizers.append(FOREGROUND_FINALIZER)
    if not finalizers:
        return _finish(store, res, obj)
    if m.get("deletionTimestamp") and finalizers == list(m.get("finalizers") or ()):
        return obj
    new = watches.copy_obj(obj)
    new["metadata"]["finalizers"] = finalizers
    new["metadata"].setdefault("deletionTimestamp", store.clock.timestamp())
    new["metadata"].setdefault("deletionGracePeriodSeconds", 0)
    marked = store._commit(res, new, obj)
    if FOREGROUND_FINALIZER in finalizers:
        for dep_res, dep in _dependents(store, uid):
            if _solid_owners(store, dep, uid):
                _without_owner(store, dep_res, dep, uid)
            else:
                _delete(store, dep_res, dep, FOREGROUND)
    return marked


def _finish(store: store_mod.Store, res: registry.Resource, obj: Obj) -> Obj:
    if res.key == kinds.CRD.key:
        served = registry.from_crd(obj)
        if served is not None:
            for key in sorted(store._bucket(served.group, served.kind)):
                found = store.find(served.group, served.kind, *key)
                if found is not None:
                    _finish(store, served, found)
    uid = str(_meta(obj).get("uid"))
    gone = store._commit(res, None, obj)
    for dep_res, dep in _dependents(store, uid):
        if _solid_owners(store, dep, uid):
            _without_owner(store, dep_res, dep, uid)
        else:
            _delete(store, dep_res, dep, BACKGROUND)
    return gone


def _delete_namespace(store: store_mod.Store, res: registry.Resource, ns: Obj) -> Obj:
    if _meta(ns).get("deletionTimestamp"):
        return ns
    new = watches.copy_obj(ns)
    new["metadata"]["deletionTimestamp"] = store.clock.timestamp()
    new["metadata"]["deletionGracePeriodSeconds"] = 0
    new["status"] = dict(new.get("status") or {}, phase="Terminating")
    marked = store._commit(res, new, ns)
    name = str(_meta(ns).get("name"))
    for (group, kind), bucket in sorted(store._objects.items()):
        for key in sorted(k for k in bucket if k[0] == name):
            dep_res, found = store.registry.find_kind(group, kind), bucket.get(key)
            if (
                dep_res is not None
                and found is not None
                and not _meta(found).get("deletionTimestamp")
            ):
                _delete(store, dep_res, found, BACKGROUND)
    return marked


def _namespace_empty(store: store_mod.Store, name: str) -> bool:
    return not any(k[0] == name for bucket in store._objects.values() for k in bucket)


def _settle_one(store: store_mod.Store, key: Key) -> bool:
    """Advance one object waiting for deletion; whether anything changed."""
    obj, res = store.find(*key), _resource(store, key)
    m = _meta(obj)
    if obj is None or res is None or not m.get("deletionTimestamp"):
        return False
    if res.key == kinds.NAMESPACE.key:
        if not _namespace_empty(store, key[3]):
            return False
        if not m.get("finalizers"):
            _finish(store, res, obj)
            return True
        if (obj.get("spec") or {}).get("finalizers"):
            new = watches.copy_obj(obj)
            new["spec"] = dict(new.get("spec") or {}, finalizers=[])
            store._commit(res, new, obj)
            return True
        return False
    finalizers = list(m.get("finalizers") or ())
    if FOREGROUND_FINALIZER not in finalizers or _blocking(store, str(m.get("uid"))):
        return False
    finalizers.remove(FOREGROUND_FINALIZER)
    if not finalizers:
        _finish(store, res, obj)
        return True
    new = watches.copy_obj(obj)
    new["metadata"]["finalizers"] = finalizers
    store._commit(res, new, obj)
    return True


def settle(store: store_mod.Store) -> None:
    """Finish deletions that were waiting: foreground owners and terminating namespaces."""
    # Each round removes a finalizer or an object, so this bound is never reached in practice.
    for _ in range(4 * (len(store._deleting) + len(store._uids)) + 4):
        if not any(_settle_one(store, key) for key in sorted(store._deleting)):
            return


def _blocking(store: store_mod.Store, uid: str) -> bool:
    """Whether a dependent still blocks its owner's foreground deletion."""
    for _, dep in _dependents(store, uid):
        for ref in _meta(dep).get("ownerReferences") or ():
            if ref.get("uid") == uid and ref.get("blockOwnerDeletion"):
                return True
    return False
