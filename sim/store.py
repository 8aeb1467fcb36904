"""The fake cluster's object store: kube-apiserver semantics a client can observe, in memory.

Objects are keyed by (group, kind, namespace, name), whatever version they were written in.
Every write gets the next resourceVersion of one global counter and one watch event; creates set
uid, creationTimestamp and generation (seeded, so a run replays the same way). Updates with a
stale resourceVersion get 409 Conflict; the status subresource and the main resource each keep
the other's part; generation moves only when the non-metadata, non-status part changes.
Deleting honours finalizers and ownerReference GC (background, foreground, orphan) and
namespaces (deleting one deletes its contents). Writes run the admission chain when one is set.

`store.view` is a `webhooks.clusterview.ClusterIndex` kept current on every write of the kinds
admission reads (`store.view_kinds`: the view kinds, webhook configurations and the target kinds
OperationTemplates name — what `opgate serve`'s live cache watches), so admission decides against
the store's contents with O(1) lookups. The store is thread-safe (one lock).
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Iterable
from typing import Any

import orjson

from sim import (
    admission,
    clock,
    defaults,
    errors,
    gc,
    names,
    patches,
    pipeline,
    registry,
    selectors,
    watches,
)
from webhooks import clusterview, kinds, manifests, review

Obj = dict[str, Any]
Key = tuple[str, str, str, str]  # (group, kind, namespace, name)
Warnings = list[str]  # a collector writes append admission and pruning warnings to
# Who writes when nobody says: a cluster admin, as kubectl with an admin kubeconfig.
ADMIN = review.UserInfo("system:admin", ("system:masters", "system:authenticated"))
# Namespaces every cluster starts with.
INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
# Watch events kept for watches that resume from a resourceVersion.
DEFAULT_HISTORY = 10_000


def normalized(obj: Any) -> Obj:
    """A private JSON copy of a client object; 400 BadRequest when it is not a JSON object."""
    if not isinstance(obj, dict):
        raise errors.bad_request(f"the object must be a JSON object, got {type(obj).__name__}")
    try:
        return orjson.loads(orjson.dumps(obj))
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise errors.bad_request(f"the object is not valid JSON: {exc}") from None


def meta(obj: Obj | None) -> Obj:
    """metadata of an object ({} when absent)."""
    found = (obj or {}).get("metadata")
    return found if isinstance(found, dict) else {}


def key_of(res: registry.Resource, obj: Obj) -> Key:
    """(group, kind, namespace, name) of an object of a resource."""
    m = meta(obj)
    return (res.group, res.kind, str(m.get("namespace") or ""), str(m.get("name") or ""))


class Store:
    """An in-memory Kubernetes API: CRUD, patch, watch, GC, CRDs and an optional admission chain.

    `seed` fixes uids and generateName suffixes; `history` bounds the events kept for watches;
    `auto_namespaces` creates missing namespaces instead of answering 404 (for scenarios).
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        sim_clock: clock.Clock | None = None,
        history: int = DEFAULT_HISTORY,
        chain: admission.Chain | None = None,
        auto_namespaces: bool = False,
    ) -> None:
        self.clock = sim_clock or clock.Clock()
        self.ids = clock.Ids(seed)
        self.registry = registry.Registry()
        self.view = clusterview.ClusterIndex()
        # What the view indexes, as opgate's live cache watches it: the view kinds, webhook
        # configurations and every OperationTemplate's target kinds. Other writes (Operations,
        # Workflows, ...) leave the view and its memoized facts untouched.
        self.view_kinds: set[tuple[str, str]] = {k.key for k in kinds.VIEW_KINDS} | {
            registry.MUTATING_WEBHOOK_CONFIGURATION.key,
            registry.VALIDATING_WEBHOOK_CONFIGURATION.key,
        }
        self.chain = chain
        self.auto_namespaces = auto_namespaces
        self.lock = threading.RLock()
        self._objects: dict[tuple[str, str], dict[tuple[str, str], Obj]] = {}
        self._dependents: dict[str, set[Key]] = {}  # owner uid -> dependents
        self._uids: dict[str, Key] = {}
        self._deleting: set[Key] = set()  # marked for deletion, waiting on finalizers
        self._rv = 0
        self._history = watches.History(history)
        self._watchers: list[watches.Watcher] = []
        for ns in INITIAL_NAMESPACES:
            self.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})

    # --- reads -------------------------------------------------------------------------------
    @property
    def resource_version(self) -> int:
        """The resourceVersion of the latest write."""
        return self._rv

    def resource(self, group: str, kind: str) -> registry.Resource:
        """The served resource of (group, kind); 404 when not served."""
        return self.registry.by_kind(group, kind)

    def find(self, group: str, kind: str, namespace: str, name: str) -> Obj | None:
        """The stored object (shared: do not change it), or None."""
        return self._objects.get((group, kind), {}).get((namespace, name))

    def get(self, group: str, kind: str, namespace: str, name: str) -> Obj:
        """A copy of one object; 404 NotFound."""
        with self.lock:
            res = self.resource(group, kind)
            found = self.find(group, kind, namespace if res.namespaced else "", name)
            if found is None:
                raise errors.not_found(group, res.plural, name)
            return watches.copy_obj(found)

    def list(
        self,
        group: str,
        kind: str,
        namespace: str | None = None,
        *,
        labels: str | selectors.Selector = "",
        fields: str | selectors.FieldSelector = "",
    ) -> tuple[builtins.list[Obj], int]:
        """Copies of the matching objects sorted by (namespace, name), and the list's resourceVersion."""
        labels = selectors.parse_labels(labels) if isinstance(labels, str) else labels
        fields = selectors.parse_fields(fields) if isinstance(fields, str) else fields
        with self.lock:
            self.resource(group, kind)
            items = self._objects.get((group, kind), {})
            keys = sorted(k for k in items if namespace is None or k[0] == namespace)
            out = [
                watches.copy_obj(items[k])
                for k in keys
                if selectors.matches(labels, items[k]) and selectors.fields_match(fields, items[k])
            ]
            return out, self._rv

    def objects(self) -> builtins.list[Obj]:
        """Copies of every stored object, sorted by (group, kind, namespace, name)."""
        with self.lock:
            return [
                watches.copy_obj(items[k])
                for gk in sorted(self._objects)
                for items in [self._objects[gk]]
                for k in sorted(items)
            ]

    # --- watches -----------------------------------------------------------------------------
    def watch(
        self,
        group: str | None = None,
        kind: str | None = None,
        namespace: str | None = None,
        *,
        resource_version: str | int | None = None,
        labels: str = "",
        fields: str = "",
        bookmarks: bool = False,
        wake: Any = None,
    ) -> watches.Watcher:
        """A watcher of changes after `resource_version` (None/"0"/"": current objects as ADDED).

        410 Expired when the resourceVersion is older than the kept history.
        """
        flt = watches.Filter(
            group,
            kind,
            namespace,
            selectors.parse_labels(labels),
            selectors.parse_fields(fields),
        )
        rv = _parse_rv(resource_version)
        with self.lock:
            if group is not None and kind is not None:
                self.resource(group, kind)
            watcher = watches.Watcher(flt, bookmarks=bookmarks, wake=wake, on_close=self._forget)
            if rv == 0:
                for (g, k), items in sorted(self._objects.items()):
                    if flt.wants_kind(g, k):
                        for name in sorted(items):
                            obj = items[name]
                            watcher.offer(watches.Event(watches.ADDED, self._rv, g, k, obj, obj))
            else:
                if rv < self._history.compacted:
                    raise errors.expired(rv, self._history.compacted + 1)
                for event in self._history.since(rv):
                    watcher.offer(event)
            self._watchers.append(watcher)
            return watcher

    def bookmark(
        self, watcher: watches.Watcher | None = None, *, initial_end: bool = False
    ) -> None:
        """Queue a BOOKMARK at the current resourceVersion (to one watcher, or every watcher
        that allows bookmarks); `initial_end` marks the end of initial events (sendInitialEvents).
        """
        with self.lock:
            obj: Obj = {"metadata": {"resourceVersion": str(self._rv)}}
            if initial_end:
                obj["metadata"]["annotations"] = {"k8s.io/initial-events-end": "true"}
            for each in [watcher] if watcher is not None else list(self._watchers):
                if each.bookmarks:
                    each.offer(watches.Event(watches.BOOKMARK, self._rv, "", "", obj))

    def close_watches(self) -> None:
        """End every open watch (a server shutting down)."""
        with self.lock:
            for watcher in list(self._watchers):
                watcher.close()

    def _forget(self, watcher: watches.Watcher) -> None:
        with self.lock:
            if watcher in self._watchers:
                self._watchers.remove(watcher)

    # --- writes ------------------------------------------------------------------------------
    def create(
        self,
        obj: Obj,
        *,
        namespace: str | None = None,
        user: review.UserInfo = ADMIN,
        dry_run: bool = False,
        warnings: Warnings | None = None,
        field_validation: str = "Warn",
        keep_status: bool = False,
        restore: Obj | None = None,
    ) -> Obj:
        """Create an object (404 unknown kind, 409 AlreadyExists, 422 Invalid); returns a copy.

        `namespace` is the request path's namespace (must agree with metadata.namespace).
        `keep_status` stores the given status as is and `restore` the given uid and
        creationTimestamp (loading cluster state: not an API call).
        """
        obj = normalized(obj)
        with self.lock:
            res = self._resource_of(obj)
            obj = names.prepare_create(self, res, obj, namespace)
            attrs = pipeline.attributes("CREATE", res, obj, None, "", user, dry_run)
            obj = pipeline.defaulted(res, obj, warnings, field_validation)
            obj = pipeline.mutated(self, attrs, obj, warnings)
            m = meta(obj)
            if not m.get("name") and m.get("generateName"):
                m["name"] = str(m["generateName"]) + self.ids.suffix()
            names.validate_meta(res, obj, None)
            key = key_of(res, obj)
            if self.find(*key) is not None:
                raise errors.already_exists(res.group, res.plural, key[3])
            names.check_namespace(self, res, key)
            m["uid"] = str((restore or {}).get("uid") or self.ids.uid())
            m["creationTimestamp"] = str(
                (restore or {}).get("creationTimestamp") or self.clock.timestamp()
            )
            m.pop("deletionTimestamp", None)
            if res.generation:
                m["generation"] = 1
            if res.status and not keep_status:
                obj.pop("status", None)
            obj = defaults.initial_status(self, res, obj, keep_status)
            obj = pipeline.validated(res, obj)
            pipeline.validate(self, attrs, obj, warnings)
            if dry_run:
                m["resourceVersion"] = str(self._rv)
                return watches.copy_obj(obj)
            return watches.copy_obj(self._commit(res, obj, None))

    def update(
        self,
        obj: Obj,
        *,
        subresource: str = "",
        namespace: str | None = None,
        name: str | None = None,
        user: review.UserInfo = ADMIN,
        dry_run: bool = False,
        warnings: Warnings | None = None,
        field_validation: str = "Warn",
    ) -> Obj:
        """Replace an object (404, 409 on a stale resourceVersion, 422); returns a copy.

        With `subresource="status"` only status changes; otherwise status is kept as stored
        (for resources with a status subresource). An empty resourceVersion is unconditional
        for built-in kinds; custom resources refuse it (422), as kube-apiserver's CRD strategy.
        """
        obj = normalized(obj)
        with self.lock:
            res = self._resource_of(obj)
            key = names.request_key(res, obj, namespace, name)
            old = self.find(*key)
            if old is None:
                raise errors.not_found(res.group, res.plural, key[3])
            if res.crd and not meta(obj).get("resourceVersion"):
                raise errors.invalid(
                    res.group, res.kind, key[3],
                    [errors.field_error(
                        "metadata.resourceVersion", "FieldValueInvalid",
                        "Invalid value: 0x0: must be specified for an update",
                    )],
                )  # fmt: skip
            return self._update(
                res, old, obj, subresource, user, dry_run, warnings, field_validation
            )

    def update_status(self, obj: Obj, **kwargs: Any) -> Obj:
        """`update(obj, subresource="status")`."""
        return self.update(obj, subresource="status", **kwargs)

    def patch(
        self,
        group: str,
        kind: str,
        namespace: str,
        name: str,
        body: Any,
        *,
        patch_type: str = "application/merge-patch+json",
        subresource: str = "",
        user: review.UserInfo = ADMIN,
        dry_run: bool = False,
        warnings: Warnings | None = None,
        field_validation: str = "Warn",
    ) -> Obj:
        """Patch an object in place (merge, JSON or strategic-as-merge); 404 when absent."""
        with self.lock:
            res = self.resource(group, kind)
            ns = namespace if res.namespaced else ""
            old = self.find(group, kind, ns, name)
            if old is None:
                raise errors.not_found(group, res.plural, name)
            patched = patches.apply(old, body, patch_type, strategic_merge=not res.crd)
            if not isinstance(patched, dict):
                raise errors.bad_request("the patch must leave a JSON object")
            patched = normalized(patched)
            for field, want in (("kind", old.get("kind")), ("apiVersion", old.get("apiVersion"))):
                if patched.get(field) != want:  # a patch cannot turn an object into another
                    raise errors.invalid(
                        group, kind, name,
                        [errors.field_error(
                            field, "FieldValueInvalid",
                            f"Invalid value: {orjson.dumps(patched.get(field)).decode()}: "
                            f"must be {want}",
                        )],
                    )  # fmt: skip
            m = meta(patched)
            if str(m.get("name", name)) != name:
                raise errors.bad_request(
                    f"the name of the object ({m.get('name')}) does not match the name on the URL ({name})"
                )
            return self._update(
                res, old, patched, subresource, user, dry_run, warnings, field_validation
            )

    def apply(self, obj: Obj, *, user: review.UserInfo = ADMIN, **kwargs: Any) -> Obj:
        """Create the object, or update it unconditionally when it exists (status kept)."""
        obj = normalized(obj)
        with self.lock:
            res = self._resource_of(obj)
            m = meta(obj)
            ns = str(m.get("namespace") or "") if res.namespaced else ""
            if m.get("name") and self.find(res.group, res.kind, ns, str(m["name"])) is not None:
                m.pop("resourceVersion", None)
                return self.update(obj, user=user, **kwargs)
            return self.create(obj, user=user, **kwargs)

    def load(self, objs: Iterable[Obj]) -> builtins.list[Obj]:
        """Seed cluster state without admission, keeping each object's status, uid and
        creationTimestamp as written (an export of a real cluster loads as it was).

        CRDs and Namespaces go first; missing namespaces are created; server-owned fields such
        as resourceVersion are dropped; an object repeated to the letter (one file reached by
        two paths) is stored once. Returns the stored copies.
        """
        ordered = sorted(
            (normalized(o) for o in manifests.without_repeats(list(objs))),
            key=lambda o: (kinds.key_of(o) not in (kinds.CRD.key, kinds.NAMESPACE.key),),
        )
        out = []
        with self.lock:
            chain, auto = self.chain, self.auto_namespaces
            self.chain, self.auto_namespaces = None, True
            try:
                for obj in ordered:
                    m = meta(obj)
                    identity = {k: m.get(k) for k in ("uid", "creationTimestamp") if m.get(k)}
                    for field in ("resourceVersion", "managedFields", "selfLink"):
                        m.pop(field, None)
                    out.append(self.create(obj, keep_status="status" in obj, restore=identity))
            finally:
                self.chain, self.auto_namespaces = chain, auto
        return out

    def delete(
        self,
        group: str,
        kind: str,
        namespace: str,
        name: str,
        *,
        propagation: str | None = None,
        preconditions: Obj | None = None,
        user: review.UserInfo = ADMIN,
        dry_run: bool = False,
        warnings: Warnings | None = None,
    ) -> Obj:
        """Delete (or, with finalizers, mark for deletion) an object; returns its last state.

        `propagation`: Background (default), Foreground or Orphan, as DeleteOptions.
        """
        with self.lock:
            res = self.resource(group, kind)
            ns = namespace if res.namespaced else ""
            old = self.find(group, kind, ns, name)
            if old is None:
                raise errors.not_found(group, res.plural, name)
            if res.key == kinds.NAMESPACE.key and name in names.UNDELETABLE_NAMESPACES:
                raise errors.forbidden("", "namespaces", name, "this namespace may not be deleted")
            gc.check_preconditions(res, old, preconditions)
            policy = gc.propagation_policy(propagation)
            attrs = pipeline.attributes("DELETE", res, None, old, "", user, dry_run)
            pipeline.mutate(self, attrs, None, warnings)
            pipeline.validate(self, attrs, None, warnings)
            if dry_run:
                return watches.copy_obj(old)
            return watches.copy_obj(gc.delete(self, res, old, policy))

    # --- internals shared with gc/names ------------------------------------------------------
    def _resource_of(self, obj: Obj) -> registry.Resource:
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if not isinstance(kind, str) or not kind:
            raise errors.bad_request("Object 'Kind' is missing in the request body")
        if not isinstance(api_version, str) or not api_version:
            raise errors.bad_request("Object 'apiVersion' is missing in the request body")
        group = kinds.group_of(api_version)
        res = self.registry.by_kind(group, kind)
        version = api_version.rpartition("/")[2]
        if version not in res.versions:
            raise errors.resource_not_found()
        obj["apiVersion"] = res.api_version()
        return res

    def _update(
        self,
        res: registry.Resource,
        old: Obj,
        new: Obj,
        subresource: str,
        user: review.UserInfo,
        dry_run: bool,
        warnings: Warnings | None,
        field_validation: str = "Warn",
    ) -> Obj:
        if subresource not in ("", "status") or (subresource == "status" and not res.status):
            raise errors.resource_not_found()
        key = key_of(res, old)
        rv = str(meta(new).get("resourceVersion") or "")
        if rv and rv != meta(old).get("resourceVersion"):
            raise errors.conflict(res.group, res.plural, key[3])
        new = names.prepare_update(res, old, new, subresource)
        attrs = pipeline.attributes("UPDATE", res, new, old, subresource, user, dry_run)
        if not subresource:
            new = pipeline.defaulted(res, new, warnings, field_validation)
        new = pipeline.mutated(self, attrs, new, warnings)
        new = names.prepare_update(res, old, new, subresource)
        names.validate_meta(res, new, old)
        new = pipeline.validated(res, new)
        pipeline.validate(self, attrs, new, warnings)
        names.bump_generation(res, old, new)
        if dry_run or new == old:
            return watches.copy_obj(new if dry_run else old)
        if meta(new).get("deletionTimestamp") and not meta(new).get("finalizers"):
            return gc.finish(self, res, new)
        return watches.copy_obj(self._commit(res, new, old))

    def _commit(self, res: registry.Resource, new: Obj | None, old: Obj | None) -> Obj:
        """Store (or, with new=None, remove) one object: new resourceVersion, event, indexes."""
        self._rv += 1
        current = new if new is not None else dict(old or {})
        current["metadata"] = dict(meta(current), resourceVersion=str(self._rv))
        key = key_of(res, current)
        bucket = self._objects.setdefault(res.key[:2], {})
        if new is None:
            bucket.pop(key[2:], None)
            if res.key in self.view_kinds:
                self.view.delete(current)
            event = watches.Event(watches.DELETED, self._rv, res.group, res.kind, current, old)
        else:
            bucket[key[2:]] = current
            if res.key in self.view_kinds:
                self.view.upsert(current)
            kind = watches.ADDED if old is None else watches.MODIFIED
            event = watches.Event(kind, self._rv, res.group, res.kind, current, old)
        gc.reindex(self, key, old, new)
        if res.key == kinds.CRD.key:
            self._sync_crd(current, new is not None)
        if res.key == kinds.OPERATION_TEMPLATE.key and new is not None:
            self._watch_target_kinds(current)
        self._history.append(event)
        for watcher in list(self._watchers):
            watcher.offer(event)
        return current

    def _watch_target_kinds(self, template: Obj) -> None:
        """Index the target kinds an OperationTemplate names (existing objects included)."""
        spec = registry.as_dict(template.get("spec"))
        for ref in spec.get("targetKinds") or ():
            if not isinstance(ref, dict):
                continue
            key = (kinds.group_of(str(ref.get("apiVersion", ""))), str(ref.get("kind", "")))
            if key not in self.view_kinds:
                self.view_kinds.add(key)
                for obj in self._bucket(*key).values():
                    self.view.upsert(obj)

    def _sync_crd(self, crd: Obj, present: bool) -> None:
        name = str(meta(crd).get("name", ""))
        established = present and bool(clusterview.crd_established(self.view, name))
        self.registry.sync_crd(crd, established)

    def _bucket(self, group: str, kind: str) -> dict[tuple[str, str], Obj]:
        return self._objects.get((group, kind), {})


def _parse_rv(value: str | int | None) -> int:
    if value in (None, ""):
        return 0
    try:
        rv = int(value)  # type: ignore[arg-type]
    except ValueError:
        raise errors.bad_request(f"invalid resource version: {value!r}") from None
    if rv < 0:
        raise errors.bad_request(f"invalid resource version: {value!r}")
    return rv
