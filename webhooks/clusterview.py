"""The read-only cluster view admission decides against, and the one index that backs it.

Three feeders share `ClusterIndex`: the static view (manifests), the live view (list+watch
cache) and the simulator's store. Every lookup admission makes is a dict access: O(1) in the
number of stored objects.
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Any, Protocol, TypeVar

from webhooks import kinds

Obj = dict[str, Any]
# A subject as RBAC authorizes it: (kind, namespace, name); namespace is "" except for SAs.
Subject = tuple[str, str, str]
# Annotation alias: inside the classes below `list` names their method, not the builtin.
Objs = list[Obj]
T = TypeVar("T")


class ClusterView(Protocol):
    """What the policy core may ask about the cluster. Implementations never do I/O here."""

    def get(self, group: str, kind: str, namespace: str, name: str) -> Obj | None:
        """One object by (group, kind, namespace, name); namespace "" for cluster-scoped kinds."""
        ...

    def list(self, group: str, kind: str, namespace: str | None = None) -> Objs:
        """Every object of a kind, optionally in one namespace."""
        ...

    def operation_templates(self, type_: str, engine: str | None = None) -> Objs:
        """OperationTemplates for a type (and engine), sorted by name."""
        ...

    def workflow_template_namespaces(self, name: str) -> builtins.list[str]:
        """The namespaces holding a WorkflowTemplate of this name, sorted."""
        ...

    def bindings_for_subject(self, subject: Subject) -> Objs:
        """RoleBindings and ClusterRoleBindings that name this subject directly."""
        ...

    def memoized(
        self,
        key: Hashable,
        compute: Callable[[], T],
        depends: Iterable[tuple[str, str]] | None = None,
    ) -> T:
        """`compute()`, cached until a write to one of the `depends` kinds (default: any write)."""
        ...


def subjects_of(binding: Obj) -> Iterator[Subject]:
    """The subjects of a (Cluster)RoleBinding, with RoleBinding SA namespaces defaulted."""
    meta = binding.get("metadata")
    default_ns = str(meta.get("namespace") or "") if isinstance(meta, dict) else ""
    listed = binding.get("subjects")
    for subject in listed if isinstance(listed, list) else ():
        if not isinstance(subject, dict):
            continue
        kind = str(subject.get("kind", ""))
        name = str(subject.get("name", ""))
        if kind == "ServiceAccount":
            yield (kind, str(subject.get("namespace") or default_ns), name)
        else:
            yield (kind, "", name)


def _type_engine(optemplate: Obj) -> tuple[str, str]:
    spec = optemplate.get("spec")
    if not isinstance(spec, dict):
        return ("", "")
    return (str(spec.get("type", "")), str(spec.get("engine", "")))


def _meta(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


# Memoized derived facts kept at most (oldest dropped first); far more than a cluster's templates.
MEMO_LIMIT = 8192


class ClusterIndex:
    """An in-memory set of objects with the secondary indexes admission needs.

    Writers (cache threads, the simulator) call `upsert`/`delete`; readers on the event loop
    only read. Each write replaces dict entries atomically under a lock, so a reader sees an
    object either before or after a write, never half of it.
    """

    def __init__(self, objects: Iterable[Obj] = ()) -> None:
        self._lock = threading.Lock()
        self._by_kind: dict[tuple[str, str], dict[tuple[str, str], Obj]] = {}
        self._optemplates: dict[tuple[str, str], dict[str, Obj]] = {}
        self._optemplates_by_type: dict[str, dict[str, Obj]] = {}
        self._wft_namespaces: dict[str, set[str]] = {}
        self._bindings: dict[Subject, dict[tuple[str, str, str], Obj]] = {}
        self.revision = 0
        self.synced = True
        self._kind_revisions: dict[tuple[str, str], int] = {}
        # (revision, stamp) of each `depends` tuple: a hit at the current revision costs one
        # lookup instead of one per kind. Writers (the cache's thread) bump the kind's revision
        # before `revision`, so a stamp read at revision r never misses a write counted in r.
        self._stamps: dict[tuple[tuple[str, str], ...], tuple[int, tuple[int, ...]]] = {}
        self._memo: dict[Hashable, tuple[Hashable, Any]] = {}
        for obj in objects:
            self.upsert(obj)

    # --- reads -----------------------------------------------------------------------------
    def get(self, group: str, kind: str, namespace: str, name: str) -> Obj | None:
        """One object by (group, kind, namespace, name)."""
        return self._by_kind.get((group, kind), {}).get((namespace, name))

    def list(self, group: str, kind: str, namespace: str | None = None) -> Objs:
        """Every object of a kind, optionally in one namespace, sorted by (namespace, name)."""
        items = self._by_kind.get((group, kind), {})
        # list(...) copies in one step: a writer thread may change the dict meanwhile.
        keys = sorted(k for k in list(items) if namespace is None or k[0] == namespace)
        return [items[k] for k in keys]

    def operation_templates(self, type_: str, engine: str | None = None) -> Objs:
        """OperationTemplates for a type (and engine), sorted by name."""
        found = (
            self._optemplates_by_type.get(type_, {})
            if engine is None
            else self._optemplates.get((type_, engine), {})
        )
        return [found[name] for name in sorted(list(found))]

    def workflow_template_namespaces(self, name: str) -> builtins.list[str]:
        """The namespaces holding a WorkflowTemplate of this name, sorted."""
        return sorted(list(self._wft_namespaces.get(name, ())))

    def bindings_for_subject(self, subject: Subject) -> Objs:
        """RoleBindings and ClusterRoleBindings that name this subject directly."""
        found = self._bindings.get(subject, {})
        return [found[k] for k in sorted(list(found))]

    def memoized(
        self,
        key: Hashable,
        compute: Callable[[], T],
        depends: Iterable[tuple[str, str]] | None = None,
    ) -> T:
        """`compute()`, cached until a write to one of the `depends` (group, kind)s.

        Without `depends` any write invalidates it. For derived facts such as RBAC findings.
        """
        stamp: Hashable
        if depends is None:
            stamp = self.revision
        else:
            depends = tuple(depends)
            revision = self.revision
            cached = self._stamps.get(depends)
            if cached is not None and cached[0] == revision:
                stamp = cached[1]
            else:
                stamp = tuple([self._kind_revisions.get(k, 0) for k in depends])
                self._stamps[depends] = (revision, stamp)
        found = self._memo.get(key)
        if found is not None and found[0] == stamp:
            return found[1]  # type: ignore[no-any-return]
        value = compute()
        if len(self._memo) >= MEMO_LIMIT:  # keys may come from requests: never grow unbounded
            self._memo.pop(next(iter(self._memo)), None)
        self._memo[key] = (stamp, value)
        return value

    def kinds(self) -> builtins.list[tuple[str, str]]:
        """Every (group, kind) with at least one object."""
        return sorted(k for k, v in list(self._by_kind.items()) if v)

    def __len__(self) -> int:
        return sum(len(v) for v in list(self._by_kind.values()))

    # --- writes ----------------------------------------------------------------------------
    def upsert(self, obj: Obj) -> None:
        """Add or replace an object (by group, kind, namespace, name)."""
        key = kinds.key_of(obj)
        ns, name = _meta(obj)
        with self._lock:
            old = self._by_kind.get(key, {}).get((ns, name))
            if old is not None:
                self._unindex(key, old)
            self._by_kind.setdefault(key, {})[(ns, name)] = obj
            self._index(key, obj)
            self._kind_revisions[key] = self._kind_revisions.get(key, 0) + 1
            self.revision += 1

    def delete(self, obj: Obj) -> None:
        """Remove an object if present (matched by group, kind, namespace, name)."""
        key = kinds.key_of(obj)
        ns, name = _meta(obj)
        with self._lock:
            old = self._by_kind.get(key, {}).pop((ns, name), None)
            if old is not None:
                self._unindex(key, old)
                self._kind_revisions[key] = self._kind_revisions.get(key, 0) + 1
                self.revision += 1

    def replace_kind(self, group: str, kind: str, objects: Iterable[Obj]) -> None:
        """Replace every object of one kind (a relist)."""
        for old in list(self._by_kind.get((group, kind), {}).values()):
            self.delete(old)
        for obj in objects:
            self.upsert(obj)

    def _index(self, key: tuple[str, str], obj: Obj) -> None:
        ns, name = _meta(obj)
        if key == kinds.OPERATION_TEMPLATE.key:
            type_, engine = _type_engine(obj)
            self._optemplates.setdefault((type_, engine), {})[name] = obj
            self._optemplates_by_type.setdefault(type_, {})[name] = obj
        elif key == kinds.WORKFLOW_TEMPLATE.key:
            self._wft_namespaces.setdefault(name, set()).add(ns)
        elif key in (kinds.ROLE_BINDING.key, kinds.CLUSTER_ROLE_BINDING.key):
            for subject in subjects_of(obj):
                self._bindings.setdefault(subject, {})[(key[1], ns, name)] = obj

    def _unindex(self, key: tuple[str, str], obj: Obj) -> None:
        ns, name = _meta(obj)
        if key == kinds.OPERATION_TEMPLATE.key:
            type_, engine = _type_engine(obj)
            self._optemplates.get((type_, engine), {}).pop(name, None)
            self._optemplates_by_type.get(type_, {}).pop(name, None)
        elif key == kinds.WORKFLOW_TEMPLATE.key:
            self._wft_namespaces.get(name, set()).discard(ns)
        elif key in (kinds.ROLE_BINDING.key, kinds.CLUSTER_ROLE_BINDING.key):
            for subject in subjects_of(obj):
                self._bindings.get(subject, {}).pop((key[1], ns, name), None)


def crd_established(view: ClusterView, name: str) -> bool | None:
    """None when the CRD is absent; else whether it is Established.

    A CRD without a status (a manifest in offline simulation) counts as Established.
    """
    crd = view.get(kinds.CRD.group, kinds.CRD.kind, "", name)
    if crd is None:
        return None
    status = crd.get("status")
    if not isinstance(status, dict) or "conditions" not in status:
        return True
    for cond in status.get("conditions") or ():
        if isinstance(cond, dict) and cond.get("type") == "Established":
            return cond.get("status") == "True"
    return False
