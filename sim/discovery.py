"""Discovery documents and table output of the fake apiserver, built from the resource registry.

Enough of `/api`, `/apis`, `/api/v1`, `/apis/{group}/{version}` and `/version` for kubectl's
legacy discovery and the python `kubernetes` client, and the `meta.k8s.io/v1` Table kubectl asks
for when it prints `get` output.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sim import clock, registry

Obj = dict[str, Any]
# Verbs every simulated resource supports (and its /status subresource's).
VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
STATUS_VERBS = ["get", "patch", "update"]
# The Kubernetes version the fake apiserver claims to be (the kubectl installed with it is 1.32).
VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0+opgate-sim",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.23.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def api_versions(address: str) -> Obj:
    """`GET /api`."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
    }


def _groups(reg: registry.Registry) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for res in reg.all():
        if not res.group:
            continue
        versions = out.setdefault(res.group, [])
        for version in res.versions:
            if version not in versions:
                versions.append(version)
    return out


def api_group(group: str, versions: list[str]) -> Obj:
    """One APIGroup entry."""
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": entries,
        "preferredVersion": entries[0],
    }


def group_list(reg: registry.Registry) -> Obj:
    """`GET /apis`."""
    groups = [api_group(g, vs) for g, vs in sorted(_groups(reg).items())]
    for entry in groups:
        entry.pop("kind")
        entry.pop("apiVersion")
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def group(reg: registry.Registry, name: str) -> Obj | None:
    """`GET /apis/{group}`, or None when no resource of the group is served."""
    versions = _groups(reg).get(name)
    return api_group(name, versions) if versions else None


def resource_list(reg: registry.Registry, grp: str, version: str) -> Obj | None:
    """`GET /api/v1` or `/apis/{group}/{version}`, or None when that group/version is not served."""
    resources: list[Obj] = []
    for res in reg.all():
        if res.group != grp or version not in res.versions:
            continue
        entry: Obj = {
            "name": res.plural,
            "singularName": res.singular,
            "namespaced": res.namespaced,
            "kind": res.kind,
            "verbs": ["create"] if res in registry.REVIEWS else VERBS,
        }
        if res.short_names:
            entry["shortNames"] = list(res.short_names)
        resources.append(entry)
        if res.status:
            resources.append(
                {
                    "name": f"{res.plural}/status",
                    "singularName": "",
                    "namespaced": res.namespaced,
                    "kind": res.kind,
                    "verbs": STATUS_VERBS,
                }
            )
    if not resources:
        return None
    group_version = f"{grp}/{version}" if grp else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }


def age(created: str, now: dt.datetime) -> str:
    """kubectl's short age (`45s`, `3m`, `2h`, `5d`) of a creationTimestamp at `now`."""
    try:
        then = dt.datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return "<unknown>"
    seconds = max(0, int((now - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _json_path(obj: Any, path: str) -> Any:
    node = obj
    for part in path.strip().lstrip(".").split("."):
        if not part:
            continue
        node = node.get(part) if isinstance(node, dict) else None
    return node


def table(
    res: registry.Resource, version: str, items: list[Obj], rv: int, sim_clock: clock.Clock
) -> Obj:
    """A `meta.k8s.io/v1` Table of objects: Name, the CRD's printer columns, Age."""
    extra = [
        c
        for c in res.columns.get(version, ())
        if c.get("jsonPath") != ".metadata.creationTimestamp"
    ]
    columns = [
        {
            "name": "Name",
            "type": "string",
            "format": "name",
            "description": "Name of the object",
            "priority": 0,
        }
    ]
    columns += [
        {
            "name": str(c.get("name")),
            "type": str(c.get("type", "string")),
            "format": "",
            "description": str(c.get("description", "")),
            "priority": int(c.get("priority", 0)),
        }
        for c in extra
    ]
    if res.kind == "Namespace":
        columns.append(
            {
                "name": "Status",
                "type": "string",
                "format": "",
                "description": "phase",
                "priority": 0,
            }
        )
    columns.append(
        {
            "name": "Age",
            "type": "string",
            "format": "",
            "description": "time since creation",
            "priority": 0,
        }
    )
    rows = []
    for obj in items:
        meta = obj.get("metadata") or {}
        cells: list[Any] = [meta.get("name", "")]
        for col in extra:
            value = _json_path(obj, str(col.get("jsonPath", "")))
            cells.append(
                ""
                if value is None
                else value
                if isinstance(value, int | float | bool)
                else str(value)
            )
        if res.kind == "Namespace":
            cells.append((obj.get("status") or {}).get("phase", ""))
        cells.append(age(str(meta.get("creationTimestamp", "")), sim_clock.now()))
        partial = {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": meta,
        }
        rows.append({"cells": cells, "object": partial})
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": str(rv)},
        "columnDefinitions": columns,
        "rows": rows,
    }


def openapi_index(reg: registry.Registry) -> Obj:
    """`GET /openapi/v3`: one entry per served group/version."""
    paths: Obj = {}
    for res in reg.all():
        for version in res.versions:
            prefix = f"apis/{res.group}/{version}" if res.group else f"api/{version}"
            paths[prefix] = {"serverRelativeURL": f"/openapi/v3/{prefix}"}
    return {"paths": dict(sorted(paths.items()))}


def openapi_doc(reg: registry.Registry, grp: str, version: str) -> Obj | None:
    """`GET /openapi/v3/{api/v1|apis/g/v}`: just enough for kubectl to see that PATCH takes
    `fieldValidation` (so it validates on the server instead of downloading schemas)."""
    paths: Obj = {}
    for res in reg.all():
        if res.group != grp or version not in res.versions:
            continue
        base = f"/apis/{grp}/{version}" if grp else f"/api/{version}"
        scope = "/namespaces/{namespace}" if res.namespaced else ""
        gvk = {"group": grp, "version": version, "kind": res.kind}
        param = {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}
        paths[f"{base}{scope}/{res.plural}/{{name}}"] = {
            "patch": {
                "x-kubernetes-group-version-kind": gvk,
                "x-kubernetes-action": "patch",
                "parameters": [param],
                "responses": {"200": {"description": "OK"}},
            }
        }
    if not paths:
        return None
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": VERSION["gitVersion"]},
        "paths": paths,
        "components": {"schemas": {}},
    }
