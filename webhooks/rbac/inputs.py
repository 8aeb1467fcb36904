"""Where RBAC objects come from, for the CLI: manifest files (with their locations) or a live
cluster listed through the `kubernetes` client. The only module of the package that does I/O.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from webhooks import errors as webhook_errors
from webhooks import kinds, manifests
from webhooks.rbac import errors, roles

Obj = dict[str, Any]
# The four RBAC kinds with the RbacAuthorizationV1Api method that lists each cluster-wide.
RBAC_LISTS = (
    (kinds.CLUSTER_ROLE, "list_cluster_role"),
    (kinds.CLUSTER_ROLE_BINDING, "list_cluster_role_binding"),
    (kinds.ROLE, "list_role_for_all_namespaces"),
    (kinds.ROLE_BINDING, "list_role_binding_for_all_namespaces"),
)
# Seconds one list call may take before the review gives up on the cluster.
LIST_TIMEOUT = 30
RBAC_KINDS = frozenset(k.kind for k, _ in RBAC_LISTS)
# Where `kubectl apply` puts a namespaced manifest that names no namespace (the context's
# namespace, `default` unless configured): a Role/RoleBinding template is reviewed there.
DEFAULT_NAMESPACE = "default"
# Tuples, not sets: membership of an untrusted (maybe unhashable) value must not raise.
NAMESPACED_RBAC = ("Role", "RoleBinding")


@dataclasses.dataclass(frozen=True, slots=True)
class Location:
    """Where an object was read from: a file and the 1-based line its document starts on."""

    file: str
    line: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Loaded:
    """The objects read, and the location of each RBAC object by reference."""

    objects: list[Obj]
    locations: dict[roles.Ref, Location]


def _node_value(node: yaml.Node, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return v
    return None


def _scalar(node: yaml.Node | None) -> str:
    return str(node.value) if isinstance(node, yaml.ScalarNode) else ""


def _locate(text: str, file: str) -> dict[roles.Ref, Location]:
    out: dict[roles.Ref, Location] = {}
    try:
        docs = list(yaml.compose_all(text))
    except yaml.YAMLError:
        return out
    for doc in docs:
        items = _node_value(doc, "items") if doc is not None else None
        nodes = items.value if isinstance(items, yaml.SequenceNode) else [doc]
        for node in nodes:
            meta = _node_value(node, "metadata") if node is not None else None
            kind = _scalar(_node_value(node, "kind")) if node is not None else ""
            if meta is None or kind not in RBAC_KINDS:
                continue
            namespace = _scalar(_node_value(meta, "namespace"))
            if kind in NAMESPACED_RBAC and not namespace:
                namespace = DEFAULT_NAMESPACE
            ref = roles.Ref(kind, namespace, _scalar(_node_value(meta, "name")))
            out.setdefault(ref, Location(file, node.start_mark.line + 1))
    return out


def with_namespace(obj: Obj, namespace: str = DEFAULT_NAMESPACE) -> Obj:
    """A Role or RoleBinding without a namespace placed in `namespace`; others unchanged."""
    if obj.get("kind") not in NAMESPACED_RBAC or not str(obj.get("apiVersion", "")).startswith(
        kinds.RBAC_GROUP
    ):
        return obj
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or meta.get("namespace"):
        return obj
    return {**obj, "metadata": {**meta, "namespace": namespace}}


def from_paths(paths: Iterable[str]) -> Loaded:
    """Every object in files, directories or `-` (stdin), with the location of RBAC objects.

    A Role or RoleBinding without a namespace (a template such as `deploy/runner`) is read as
    being in `default`, where `kubectl apply` would put it.
    """
    objects: list[Obj] = []
    locations: dict[roles.Ref, Location] = {}
    for raw in paths:
        if raw == "-":
            text, found = sys.stdin.read(), ["<stdin>"]
        else:
            path = Path(raw)
            if not path.exists():
                raise webhook_errors.ManifestError(raw, "no such file or directory")
            found = [str(p) for p in manifests.files_under(path)]
            text = ""
        for file in found:
            if file != "<stdin>":
                try:
                    text = Path(file).read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError) as exc:
                    raise webhook_errors.ManifestError(file, f"cannot read: {exc}") from None
            objects.extend(with_namespace(o) for o in manifests.parse_documents(text, file))
            if file != "<stdin>":
                for ref, where in _locate(text, file).items():
                    locations.setdefault(ref, where)
    return Loaded(objects, locations)


def _status_message(raw: Any) -> str:
    """The message of a Kubernetes Status body, or "" when it has none."""
    try:
        body = json.loads(raw)
    except (TypeError, ValueError):
        return ""
    return str(body.get("message") or "") if isinstance(body, dict) else ""


def from_cluster(kubeconfig: str | None, context: str | None = None) -> Loaded:
    """Every Role, ClusterRole and binding of a live cluster (list calls, no watch)."""
    from kubernetes import client, config  # imported lazily: only the live mode needs it

    try:
        api = config.new_client_from_config(config_file=kubeconfig, context=context)
    except Exception as exc:  # the client raises several unrelated types for a bad kubeconfig
        raise errors.ClusterReadError(f"cannot load kubeconfig {kubeconfig!r}: {exc}") from None
    objects: list[Obj] = []
    rbac = client.RbacAuthorizationV1Api(api)
    with api:
        for kind, method in RBAC_LISTS:
            path = f"/apis/{kinds.RBAC_GROUP}/{kind.version}/{kind.plural}"
            try:
                response = getattr(rbac, method)(
                    _preload_content=False, _request_timeout=LIST_TIMEOUT
                )
                raw = response.data if hasattr(response, "data") else response.read()
                status = int(getattr(response, "status", 200))
                body = json.loads(raw)
            except client.ApiException as exc:
                raise errors.ClusterReadError(
                    f"GET {path} failed: HTTP {exc.status} {_status_message(exc.body) or exc.reason}"
                ) from None
            except Exception as exc:  # connection refused, TLS, timeouts, bad JSON
                raise errors.ClusterReadError(f"GET {path} failed: {exc}") from None
            if status >= 400:
                message = body.get("message", "") if isinstance(body, dict) else ""
                raise errors.ClusterReadError(
                    f"GET {path} failed: HTTP {status} {message}".rstrip()
                )
            if not isinstance(body, dict) or not isinstance(body.get("items") or [], list):
                raise errors.ClusterReadError(f"GET {path} did not return a {kind.kind}List")
            for item in body.get("items") or ():
                meta = item.get("metadata") if isinstance(item, dict) else None
                if isinstance(meta, dict) and isinstance(meta.get("name"), str):
                    objects.append({"apiVersion": kind.api_version, "kind": kind.kind, **item})
    return Loaded(objects, {})
