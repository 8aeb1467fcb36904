"""Object metadata the way kube-apiserver prepares and validates it on create and update.

Names must be RFC 1123 subdomains (namespaces: labels; RBAC objects: any path segment), the
namespace must exist and not be terminating, server-owned fields (uid, creationTimestamp,
generation, deletionTimestamp) are kept from the stored object, and generation moves only when
something other than metadata (and status, for resources with a status subresource) changes.
"""

from __future__ import annotations

import base64
import re
from typing import TYPE_CHECKING, Any

from sim import errors, registry, watches
from webhooks import kinds

if TYPE_CHECKING:
    from sim import store as store_mod

Obj = dict[str, Any]
Key = tuple[str, str, str, str]
# k8s.io/apimachinery/pkg/util/validation: DNS-1123 subdomain (253 chars) and label (63 chars).
SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    r"for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
# Label kube-apiserver puts on every namespace (since 1.21), used by namespaceSelectors.
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
SECRET, CONFIG_MAP = ("", "Secret"), ("", "ConfigMap")
# Namespaces kube-apiserver refuses to delete (the NamespaceLifecycle admission plugin).
UNDELETABLE_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})
# Fields only the server sets; clients' values are replaced by the stored ones on update.
SERVER_FIELDS = (
    "uid",
    "creationTimestamp",
    "generation",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)


def _meta(obj: Obj) -> Obj:
    m = obj.get("metadata")
    if m is None:
        m = obj["metadata"] = {}
    if not isinstance(m, dict):
        raise errors.bad_request("metadata must be a JSON object")
    return m


def prepare_create(
    store: store_mod.Store, res: registry.Resource, obj: Obj, namespace: str | None
) -> Obj:
    """Set the namespace (from the request path), refuse a client resourceVersion."""
    m = _meta(obj)
    if m.get("resourceVersion"):
        raise errors.bad_request("resourceVersion should not be set on objects to be created")
    if res.namespaced:
        given = str(m.get("namespace") or "")
        if namespace and given and given != namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        m["namespace"] = namespace or given
    else:
        m.pop("namespace", None)
    for field in SERVER_FIELDS:
        m.pop(field, None)
    if res.key == SECRET:
        _fold_string_data(obj)
        if not obj.get("type"):
            obj["type"] = "Opaque"  # the apiserver's default for Secrets
    if res.key == kinds.NAMESPACE.key and m.get("name"):
        _name_label(m)
    return obj


def _name_label(meta: Obj) -> None:
    """A namespace's name as its `kubernetes.io/metadata.name` label (malformed labels are
    left for validation to report)."""
    labels = meta.get("labels")
    if labels is None or isinstance(labels, dict):
        meta["labels"] = {**(labels or {}), NAMESPACE_NAME_LABEL: str(meta["name"])}


def request_key(res: registry.Resource, obj: Obj, namespace: str | None, name: str | None) -> Key:
    """The key an update addresses; 400 when the body disagrees with the request path."""
    m = _meta(obj)
    body_name = str(m.get("name") or "")
    if name is not None and body_name and body_name != name:
        raise errors.bad_request(
            f"the name of the object ({body_name}) does not match the name on the URL ({name})"
        )
    name = name or body_name
    if not name:
        raise errors.invalid(
            res.group,
            res.kind,
            "",
            [
                errors.field_error(
                    "metadata.name", "FieldValueRequired", "Required value: name is required"
                )
            ],
        )
    ns = ""
    if res.namespaced:
        given = str(m.get("namespace") or "")
        if namespace and given and given != namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        ns = namespace or given
    return (res.group, res.kind, ns, name)


def _name_problem(res: registry.Resource, name: str) -> str:
    if res.group == kinds.RBAC_GROUP:
        bad = name in (".", "..") or "/" in name or "%" in name
        return "may not contain '/' or '%'" if bad else ""
    if res.key == kinds.NAMESPACE.key:
        ok = len(name) <= 63 and LABEL.fullmatch(name)
        return "" if ok else LABEL_MESSAGE
    ok = len(name) <= 253 and SUBDOMAIN.fullmatch(name)
    return "" if ok else SUBDOMAIN_MESSAGE


# k8s.io/apimachinery/pkg/util/validation: qualified names (label and annotation keys) and
# label values, with the apiserver's messages.
QUALIFIED = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
NAME_PART_MESSAGE = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
LABEL_VALUE_MESSAGE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


def _key_problems(key: str) -> list[str]:
    """What is wrong with a label or annotation key (a qualified name)."""
    prefix, _, name = key.rpartition("/")
    out = []
    if "/" in prefix:
        return ["a qualified name must consist of an optional DNS subdomain prefix and a name"]
    if not name:
        out.append("name part must be non-empty")
    elif len(name) > 63:
        out.append("name part must be no more than 63 characters")
    elif not QUALIFIED.fullmatch(name):
        out.append(NAME_PART_MESSAGE)
    if "/" in key and not (len(prefix) <= 253 and SUBDOMAIN.fullmatch(prefix)):
        out.append("prefix part " + SUBDOMAIN_MESSAGE)
    return out


def _string_map(m: Obj, field: str, causes: list[dict[str, str]]) -> None:
    value = m.get(field)
    if value is None:
        return
    where = f"metadata.{field}"
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        causes.append(
            errors.field_error(
                where,
                "FieldValueInvalid",
                "Invalid value: must be a map of string keys to string values",
            )
        )
        return
    for key, text in value.items():
        for problem in _key_problems(str(key)):
            causes.append(
                errors.field_error(where, "FieldValueInvalid", f'Invalid value: "{key}": {problem}')
            )
        if field != "labels" or not text:
            continue
        if len(text) > 63:
            causes.append(
                errors.field_error(
                    where,
                    "FieldValueInvalid",
                    f'Invalid value: "{text}": must be no more than 63 characters',
                )
            )
        elif not QUALIFIED.fullmatch(text):
            causes.append(
                errors.field_error(
                    where, "FieldValueInvalid", f'Invalid value: "{text}": {LABEL_VALUE_MESSAGE}'
                )
            )


def validate_meta(res: registry.Resource, obj: Obj, old: Obj | None) -> None:
    """422 Invalid for a missing or malformed name, labels, annotations, finalizers or owners."""
    m = _meta(obj)
    name = m.get("name")
    causes: list[dict[str, str]] = []
    if not name:
        causes.append(
            errors.field_error(
                "metadata.name",
                "FieldValueRequired",
                "Required value: name or generateName is required",
            )
        )
    elif not isinstance(name, str):
        causes.append(
            errors.field_error(
                "metadata.name", "FieldValueInvalid", "Invalid value: must be a string"
            )
        )
    else:
        problem = _name_problem(res, name)
        if problem:
            causes.append(
                errors.field_error(
                    "metadata.name", "FieldValueInvalid", f'Invalid value: "{name}": {problem}'
                )
            )
    if res.namespaced and not m.get("namespace"):
        causes.append(
            errors.field_error("metadata.namespace", "FieldValueRequired", "Required value")
        )
    _string_map(m, "labels", causes)
    _string_map(m, "annotations", causes)
    finalizers = m.get("finalizers")
    if finalizers is not None and (
        not isinstance(finalizers, list) or not all(isinstance(f, str) for f in finalizers)
    ):
        causes.append(
            errors.field_error(
                "metadata.finalizers",
                "FieldValueInvalid",
                "Invalid value: must be a list of strings",
            )
        )
    refs = m.get("ownerReferences")
    if refs is not None and not isinstance(refs, list):
        causes.append(
            errors.field_error(
                "metadata.ownerReferences", "FieldValueInvalid", "Invalid value: must be a list"
            )
        )
    for i, ref in enumerate(refs if isinstance(refs, list) else ()):
        for field in ("apiVersion", "kind", "name", "uid"):
            if (
                not isinstance(ref, dict)
                or not isinstance(ref.get(field), str)
                or not ref.get(field)
            ):
                causes.append(
                    errors.field_error(
                        f"metadata.ownerReferences[{i}].{field}",
                        "FieldValueRequired",
                        "Required value",
                    )
                )
    if old is not None:
        old_m = old.get("metadata") or {}
        if old_m.get("deletionTimestamp") and isinstance(finalizers, list):
            added = sorted(set(finalizers) - set(old_m.get("finalizers") or ()))
            if added:
                causes.append(
                    errors.field_error(
                        "metadata.finalizers",
                        "FieldValueForbidden",
                        f"Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers {added}",
                    )
                )
    if causes:
        raise errors.invalid(res.group, res.kind, str(name or ""), causes)


def check_namespace(store: store_mod.Store, res: registry.Resource, key: Key) -> None:
    """404 when a namespaced object's namespace is missing (or create it), 403 when terminating."""
    if not res.namespaced:
        return
    ns = store.find("", "Namespace", "", key[2])
    if ns is None:
        if store.auto_namespaces:
            store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": key[2]}})
            return
        raise errors.not_found("", "namespaces", key[2])
    if (ns.get("metadata") or {}).get("deletionTimestamp"):
        raise errors.forbidden(
            res.group,
            res.plural,
            key[3],
            f"unable to create new content in namespace {key[2]} because it is being terminated",
        )


def prepare_update(res: registry.Resource, old: Obj, new: Obj, subresource: str) -> Obj:
    """The object an update stores: server fields from `old`; status or the rest kept per endpoint."""
    old_m = old.get("metadata") or {}
    if subresource == "status":
        out = watches.copy_obj(old)
        if "status" in new:
            out["status"] = new["status"]
        else:
            out.pop("status", None)
        return out
    m = _meta(new)
    if m.get("uid") and m["uid"] != old_m.get("uid"):
        raise errors.invalid(
            res.group,
            res.kind,
            str(old_m.get("name", "")),
            [
                errors.field_error(
                    "metadata.uid",
                    "FieldValueInvalid",
                    f'Invalid value: "{m["uid"]}": field is immutable',
                )
            ],
        )
    for field in (*SERVER_FIELDS, "resourceVersion", "name", "namespace"):
        if field in old_m:
            m[field] = old_m[field]
        else:
            m.pop(field, None)
    if res.status:
        if "status" in old:
            new["status"] = old["status"]
        else:
            new.pop("status", None)
    if res.key == kinds.NAMESPACE.key:
        _name_label(m)
    if res.key == SECRET:
        _fold_string_data(new)
    if res.key in (SECRET, CONFIG_MAP) and old.get("immutable") is True:
        _check_immutable(res, old, new)
    return new


def _fold_string_data(secret: Obj) -> None:
    """Secret.stringData is write-only: merged into data (base64), as the apiserver does."""
    extra = secret.pop("stringData", None)
    if isinstance(extra, dict) and extra:
        encoded = {
            str(k): base64.b64encode(str(v).encode()).decode("ascii") for k, v in extra.items()
        }
        secret["data"] = dict(registry.as_dict(secret.get("data")), **encoded)


def _check_immutable(res: registry.Resource, old: Obj, new: Obj) -> None:
    """422 when an `immutable: true` ConfigMap or Secret changes its data or immutability."""
    causes = [
        errors.field_error(
            field, "FieldValueForbidden", "Forbidden: field is immutable when `immutable` is set"
        )
        for field in ("data", "binaryData", "immutable")
        if old.get(field) != new.get(field)
    ]
    if causes:
        name = str((old.get("metadata") or {}).get("name", ""))
        raise errors.invalid(res.group, res.kind, name, causes)


def bump_generation(res: registry.Resource, old: Obj, new: Obj) -> None:
    """generation + 1 when the non-metadata (and non-status, with a status subresource) part moved."""
    if not res.generation:
        return
    skip = ("metadata", "status") if res.status else ("metadata",)
    before = {k: v for k, v in old.items() if k not in skip}
    after = {k: v for k, v in new.items() if k not in skip}
    generation = int((old.get("metadata") or {}).get("generation") or 1)
    new["metadata"]["generation"] = generation + 1 if before != after else generation
