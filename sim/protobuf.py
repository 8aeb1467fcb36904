"""Decode the Kubernetes protobuf request bodies kubectl sends for built-in kinds.

`kubectl create namespace|configmap|secret|serviceaccount|role|rolebinding|...` send their
object as `application/vnd.kubernetes.protobuf`: the 4-byte magic `k8s\\0` and a
`runtime.Unknown` whose `raw` holds the object's protobuf. Only decoding is needed (responses are
JSON, which kubectl also accepts), and only for the kinds below; the field numbers are those of
`k8s.io/api` and `k8s.io/apimachinery` generated.proto, kept here as data.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from sim import errors

Obj = dict[str, Any]
MAGIC = b"k8s\x00"
# message -> field number -> (JSON name, type). Types: string, bytes, bool, int, time,
# map (string->string), bytesmap (string->base64 bytes), [T] repeated, or another message.
MESSAGES: dict[str, dict[int, tuple[str, Any]]] = {
    "Unknown": {
        1: ("typeMeta", "TypeMeta"),
        2: ("raw", "rawbytes"),
        3: ("contentEncoding", "string"),
        4: ("contentType", "string"),
    },
    "TypeMeta": {1: ("apiVersion", "string"), 2: ("kind", "string")},
    "ObjectMeta": {
        1: ("name", "string"),
        2: ("generateName", "string"),
        3: ("namespace", "string"),
        5: ("uid", "string"),
        6: ("resourceVersion", "string"),
        7: ("generation", "int"),
        8: ("creationTimestamp", "time"),
        9: ("deletionTimestamp", "time"),
        10: ("deletionGracePeriodSeconds", "int"),
        11: ("labels", "map"),
        12: ("annotations", "map"),
        13: ("ownerReferences", ["OwnerReference"]),
        14: ("finalizers", ["string"]),
    },
    "OwnerReference": {
        1: ("kind", "string"),
        3: ("name", "string"),
        4: ("uid", "string"),
        5: ("apiVersion", "string"),
        6: ("controller", "bool"),
        7: ("blockOwnerDeletion", "bool"),
    },
    "Time": {1: ("seconds", "int"), 2: ("nanos", "int")},
    "Namespace": {1: ("metadata", "ObjectMeta"), 2: ("spec", "NamespaceSpec")},
    "NamespaceSpec": {1: ("finalizers", ["string"])},
    "ConfigMap": {
        1: ("metadata", "ObjectMeta"),
        2: ("data", "map"),
        3: ("binaryData", "bytesmap"),
        4: ("immutable", "bool"),
    },
    "Secret": {
        1: ("metadata", "ObjectMeta"),
        2: ("data", "bytesmap"),
        3: ("type", "string"),
        4: ("stringData", "map"),
        5: ("immutable", "bool"),
    },
    "ServiceAccount": {
        1: ("metadata", "ObjectMeta"),
        2: ("secrets", ["ObjectReference"]),
        3: ("imagePullSecrets", ["LocalObjectReference"]),
        4: ("automountServiceAccountToken", "bool"),
    },
    "ObjectReference": {
        1: ("kind", "string"),
        2: ("namespace", "string"),
        3: ("name", "string"),
        4: ("uid", "string"),
        5: ("apiVersion", "string"),
        6: ("resourceVersion", "string"),
        7: ("fieldPath", "string"),
    },
    "LocalObjectReference": {1: ("name", "string")},
    "Role": {1: ("metadata", "ObjectMeta"), 2: ("rules", ["PolicyRule"])},
    "ClusterRole": {
        1: ("metadata", "ObjectMeta"),
        2: ("rules", ["PolicyRule"]),
        3: ("aggregationRule", "AggregationRule"),
    },
    "AggregationRule": {1: ("clusterRoleSelectors", ["LabelSelector"])},
    "LabelSelector": {
        1: ("matchLabels", "map"),
        2: ("matchExpressions", ["LabelSelectorRequirement"]),
    },
    "LabelSelectorRequirement": {
        1: ("key", "string"),
        2: ("operator", "string"),
        3: ("values", ["string"]),
    },
    "PolicyRule": {
        1: ("verbs", ["string"]),
        2: ("apiGroups", ["string"]),
        3: ("resources", ["string"]),
        4: ("resourceNames", ["string"]),
        5: ("nonResourceURLs", ["string"]),
    },
    "RoleBinding": {
        1: ("metadata", "ObjectMeta"),
        2: ("subjects", ["Subject"]),
        3: ("roleRef", "RoleRef"),
    },
    "ClusterRoleBinding": {
        1: ("metadata", "ObjectMeta"),
        2: ("subjects", ["Subject"]),
        3: ("roleRef", "RoleRef"),
    },
    "Subject": {
        1: ("kind", "string"),
        2: ("apiGroup", "string"),
        3: ("name", "string"),
        4: ("namespace", "string"),
    },
    "RoleRef": {1: ("apiGroup", "string"), 2: ("kind", "string"), 3: ("name", "string")},
    "SelfSubjectAccessReview": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "SelfSubjectAccessReviewSpec"),
    },
    "SelfSubjectAccessReviewSpec": {
        1: ("resourceAttributes", "ResourceAttributes"),
        2: ("nonResourceAttributes", "NonResourceAttributes"),
    },
    "SubjectAccessReview": {1: ("metadata", "ObjectMeta"), 2: ("spec", "SubjectAccessReviewSpec")},
    "SubjectAccessReviewSpec": {
        1: ("resourceAttributes", "ResourceAttributes"),
        2: ("nonResourceAttributes", "NonResourceAttributes"),
        3: ("user", "string"),
        4: ("groups", ["string"]),
        6: ("uid", "string"),
    },
    "ResourceAttributes": {
        1: ("namespace", "string"),
        2: ("verb", "string"),
        3: ("group", "string"),
        4: ("version", "string"),
        5: ("resource", "string"),
        6: ("subresource", "string"),
        7: ("name", "string"),
    },
    "NonResourceAttributes": {1: ("path", "string"), 2: ("verb", "string")},
}
# Kinds whose protobuf requests are understood, by (group, kind).
KINDS = {
    ("", "Namespace"): "Namespace",
    ("", "ConfigMap"): "ConfigMap",
    ("", "Secret"): "Secret",
    ("", "ServiceAccount"): "ServiceAccount",
    ("rbac.authorization.k8s.io", "Role"): "Role",
    ("rbac.authorization.k8s.io", "ClusterRole"): "ClusterRole",
    ("rbac.authorization.k8s.io", "RoleBinding"): "RoleBinding",
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): "ClusterRoleBinding",
    ("authorization.k8s.io", "SelfSubjectAccessReview"): "SelfSubjectAccessReview",
    ("authorization.k8s.io", "SubjectAccessReview"): "SubjectAccessReview",
    ("authorization.k8s.io", "LocalSubjectAccessReview"): "SubjectAccessReview",
}


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs of one message: ints for varints, bytes for the rest."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        tag, pos = _varint(data, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            out.append((number, value))
        elif wire == 2:
            size, pos = _varint(data, pos)
            if pos + size > len(data):
                raise ValueError("truncated field")
            out.append((number, data[pos : pos + size]))
            pos += size
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            out.append((number, data[pos : pos + width]))
            pos += width
        else:
            raise ValueError(f"unsupported wire type {wire}")
    return out


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _scalar(kind: str, value: int | bytes) -> Any:
    if kind in ("string",):
        return bytes(value).decode("utf-8") if isinstance(value, bytes) else str(value)
    if kind == "rawbytes":
        return value
    if kind == "bool":
        return bool(value)
    if kind == "int":
        return _signed(value) if isinstance(value, int) else 0
    if kind == "time":
        stamp = message("Time", bytes(value)) if isinstance(value, bytes) else {}
        instant = dt.datetime.fromtimestamp(int(stamp.get("seconds", 0)), tz=dt.UTC)
        return instant.strftime("%Y-%m-%dT%H:%M:%SZ")
    return message(kind, bytes(value)) if isinstance(value, bytes) else {}


def message(name: str, data: bytes) -> Obj:
    """One protobuf message of a known type, as the JSON object Kubernetes would serialize."""
    spec = MESSAGES[name]
    out: Obj = {}
    for number, value in _fields(data):
        if number not in spec:
            continue
        field, kind = spec[number]
        if isinstance(kind, list):
            out.setdefault(field, []).append(_scalar(kind[0], value))
        elif kind in ("map", "bytesmap"):
            entry = dict(_fields(bytes(value))) if isinstance(value, bytes) else {}
            key = (
                bytes(entry.get(1, b"")).decode("utf-8")
                if isinstance(entry.get(1, b""), bytes)
                else ""
            )
            raw = entry.get(2, b"")
            raw = raw if isinstance(raw, bytes) else b""
            shown = (
                base64.b64encode(raw).decode("ascii") if kind == "bytesmap" else raw.decode("utf-8")
            )
            out.setdefault(field, {})[key] = shown
        else:
            found = _scalar(kind, value)
            if found != "":  # Go's empty strings are omitempty in JSON
                out[field] = found
    return out


def decode(body: bytes, group: str, kind: str) -> Obj:
    """The object in a `application/vnd.kubernetes.protobuf` body; 415 for a kind not covered."""
    name = KINDS.get((group, kind))
    if name is None:
        raise errors.unsupported_media_type(
            f"application/vnd.kubernetes.protobuf (for {kind}; send JSON, e.g. kubectl apply)"
        )
    if not body.startswith(MAGIC):
        raise errors.bad_request("protobuf body must start with the k8s magic prefix")
    try:
        envelope = message("Unknown", body[len(MAGIC) :])
        obj = message(name, bytes(envelope.get("raw") or b""))
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.bad_request(f"the protobuf body cannot be decoded: {exc}") from None
    meta = envelope.get("typeMeta") or {}
    if meta.get("apiVersion"):
        obj["apiVersion"] = meta["apiVersion"]
    if meta.get("kind"):
        obj["kind"] = meta["kind"]
    return obj
