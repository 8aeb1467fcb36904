"""Which resources the fake apiserver serves: built-in kinds plus CRDs registered as they appear.

A custom resource is served only while its CRD exists and is Established, as kube-apiserver does;
otherwise its paths answer 404 "the server could not find the requested resource".
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sim import errors
from webhooks import kinds

Obj = dict[str, Any]


def as_dict(value: Any) -> Obj:
    """`value` when it is a JSON object, else an empty one (for reading untrusted manifests)."""
    return value if isinstance(value, dict) else {}


@dataclasses.dataclass(frozen=True)
class Resource:
    """One served resource: names, scope, versions, subresources and (for CRDs) schemas."""

    group: str
    kind: str
    plural: str
    namespaced: bool
    versions: tuple[str, ...]  # served versions, the storage version first
    singular: str = ""
    short_names: tuple[str, ...] = ()
    status: bool = False  # has a /status subresource
    crd: str = ""  # name of the CRD that defines it ("" for built-ins)
    schemas: dict[str, Obj] = dataclasses.field(default_factory=dict, compare=False, hash=False)
    columns: dict[str, list[Obj]] = dataclasses.field(
        default_factory=dict, compare=False, hash=False
    )

    @property
    def key(self) -> tuple[str, str]:
        """(group, kind)."""
        return (self.group, self.kind)

    @property
    def generation(self) -> bool:
        """Whether objects carry metadata.generation (custom resources and some built-ins)."""
        return bool(self.crd) or self.key in GENERATION_KINDS

    @property
    def storage_version(self) -> str:
        """The version objects are stored in."""
        return self.versions[0]

    def api_version(self, version: str | None = None) -> str:
        """`group/version` (core: `version`) for `version`, default the storage version."""
        version = version or self.storage_version
        return f"{self.group}/{version}" if self.group else version

    @property
    def list_kind(self) -> str:
        """`<Kind>List`."""
        return f"{self.kind}List"


def _builtin(kind: kinds.Kind, *, status: bool = False, short: tuple[str, ...] = ()) -> Resource:
    return Resource(
        group=kind.group,
        kind=kind.kind,
        plural=kind.plural,
        namespaced=kind.namespaced,
        versions=(kind.version,),
        singular=kind.kind.lower(),
        short_names=short,
        status=status,
    )


ADMISSION_GROUP = "admissionregistration.k8s.io"
MUTATING_WEBHOOK_CONFIGURATION = kinds.Kind(
    ADMISSION_GROUP,
    "v1",
    "MutatingWebhookConfiguration",
    "mutatingwebhookconfigurations",
    False,
)
VALIDATING_WEBHOOK_CONFIGURATION = kinds.Kind(
    ADMISSION_GROUP,
    "v1",
    "ValidatingWebhookConfiguration",
    "validatingwebhookconfigurations",
    False,
)

# Built-in kinds whose registry strategy sets metadata.generation (most built-ins leave it unset).
GENERATION_KINDS = frozenset(
    {
        ("apps", "Deployment"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        (ADMISSION_GROUP, "MutatingWebhookConfiguration"),
        (ADMISSION_GROUP, "ValidatingWebhookConfiguration"),
    }
)
# Access reviews (`kubectl auth can-i`): answered by `sim.access`, never stored.
REVIEWS = tuple(
    _builtin(kinds.Kind("authorization.k8s.io", "v1", kind, kind.lower() + "s", namespaced))
    for kind, namespaced in (
        ("SelfSubjectAccessReview", False),
        ("SubjectAccessReview", False),
        ("LocalSubjectAccessReview", True),
    )
)
# Built-in kinds clients of opgate touch (the view kinds plus what controllers and kubectl use).
BUILTINS: tuple[Resource, ...] = (
    _builtin(kinds.NAMESPACE, status=True, short=("ns",)),
    _builtin(kinds.SERVICE_ACCOUNT, short=("sa",)),
    _builtin(kinds.Kind("", "v1", "ConfigMap", "configmaps", True), short=("cm",)),
    _builtin(kinds.Kind("", "v1", "Secret", "secrets", True)),
    _builtin(kinds.Kind("", "v1", "Service", "services", True), status=True, short=("svc",)),
    _builtin(kinds.Kind("", "v1", "Pod", "pods", True), status=True, short=("po",)),
    _builtin(kinds.Kind("", "v1", "Event", "events", True), short=("ev",)),
    _builtin(
        kinds.Kind("apps", "v1", "Deployment", "deployments", True), status=True, short=("deploy",)
    ),
    _builtin(kinds.Kind("coordination.k8s.io", "v1", "Lease", "leases", True)),
    _builtin(kinds.Kind("events.k8s.io", "v1", "Event", "events", True), short=("ev",)),
    _builtin(kinds.ROLE),
    _builtin(kinds.CLUSTER_ROLE),
    _builtin(kinds.ROLE_BINDING),
    _builtin(kinds.CLUSTER_ROLE_BINDING),
    _builtin(kinds.CRD, status=True, short=("crd", "crds")),
    _builtin(MUTATING_WEBHOOK_CONFIGURATION),
    _builtin(VALIDATING_WEBHOOK_CONFIGURATION),
    *REVIEWS,
)


def from_crd(crd: Obj) -> Resource | None:
    """The resource a CRD defines, or None when its spec is too broken to serve."""
    spec = as_dict(crd.get("spec"))
    names = as_dict(spec.get("names"))
    group, kind, plural = spec.get("group"), names.get("kind"), names.get("plural")
    if not (isinstance(group, str) and isinstance(kind, str) and isinstance(plural, str)):
        return None
    served: list[str] = []
    schemas: dict[str, Obj] = {}
    columns: dict[str, list[Obj]] = {}
    status = False
    for version in spec.get("versions") or ():
        if not isinstance(version, dict) or not version.get("served", True):
            continue
        name = str(version.get("name", ""))
        if version.get("storage"):
            served.insert(0, name)
        else:
            served.append(name)
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if isinstance(schema, dict):
            schemas[name] = schema
        columns[name] = list(version.get("additionalPrinterColumns") or ())
        status = status or "status" in (version.get("subresources") or {})
    if not served:
        return None
    return Resource(
        group=group,
        kind=kind,
        plural=plural,
        namespaced=spec.get("scope", "Namespaced") != "Cluster",
        versions=tuple(served),
        singular=str(names.get("singular") or kind.lower()),
        short_names=tuple(names.get("shortNames") or ()),
        status=status,
        crd=f"{plural}.{group}",
        schemas=schemas,
        columns=columns,
    )


class Registry:
    """Resources by (group, kind) and by (group, plural)."""

    def __init__(self) -> None:
        self._by_kind: dict[tuple[str, str], Resource] = {}
        self._by_plural: dict[tuple[str, str], Resource] = {}
        for res in BUILTINS:
            self.add(res)

    def add(self, res: Resource) -> None:
        """Serve a resource (replacing one of the same group and kind or plural)."""
        self.remove(res.group, res.kind)
        old = self._by_plural.get((res.group, res.plural))
        if old is not None:
            self.remove(old.group, old.kind)
        self._by_kind[res.key] = res
        self._by_plural[(res.group, res.plural)] = res

    def remove(self, group: str, kind: str) -> None:
        """Stop serving a resource."""
        old = self._by_kind.pop((group, kind), None)
        if old is not None:
            self._by_plural.pop((old.group, old.plural), None)

    def sync_crd(self, crd: Obj, established: bool) -> Resource | None:
        """Serve or stop serving the resource of a CRD as it was written; returns it."""
        res = from_crd(crd)
        if res is None:
            return None
        current = self._by_plural.get((res.group, res.plural))
        if current is not None and not current.crd:
            return None  # a CRD may not shadow a built-in
        if established:
            self.add(res)
        else:
            self.remove(res.group, res.kind)
        return res

    def by_kind(self, group: str, kind: str) -> Resource:
        """The resource of (group, kind); 404 when not served."""
        res = self._by_kind.get((group, kind))
        if res is None:
            raise errors.resource_not_found()
        return res

    def find_kind(self, group: str, kind: str) -> Resource | None:
        """The resource of (group, kind), or None."""
        return self._by_kind.get((group, kind))

    def by_plural(self, group: str, version: str, plural: str) -> Resource:
        """The resource served at group/version/plural; 404 when not served."""
        res = self._by_plural.get((group, plural))
        if res is None or version not in res.versions:
            raise errors.resource_not_found()
        return res

    def all(self) -> list[Resource]:
        """Every served resource, sorted by (group, plural)."""
        return sorted(self._by_plural.values(), key=lambda r: (r.group, r.plural))
