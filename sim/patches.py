"""The patch formats of the Kubernetes API: JSON merge patch (RFC 7386) and JSON patch (RFC 6902).

Strategic merge patch is applied as a merge patch (exact for custom resources, which is what
kube-apiserver does for them too; built-in lists are replaced rather than merged).
"""

from __future__ import annotations

import copy
from typing import Any

from sim import errors

MERGE = "application/merge-patch+json"
JSON = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"


def merge(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict):
            out[key] = merge(out.get(key), value)
        else:
            out[key] = copy.deepcopy(value)
    return out


class PatchFailed(ValueError):
    """A JSON patch operation that cannot be applied (what and where)."""


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise PatchFailed(f"invalid JSON pointer {path!r}: must be empty or start with /")
    return [_unescape(t) for t in path.split("/")[1:]] if path else []


def _index(container: list[Any], token: str, *, adding: bool) -> int:
    if adding and token == "-":
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise PatchFailed(f"invalid array index {token!r}")
    index = int(token)
    if index > len(container) or (not adding and index == len(container)):
        raise PatchFailed(f"array index {index} out of range")
    return index


def _parent(doc: Any, tokens: list[str], path: str) -> Any:
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, adding=False)]
        else:
            raise PatchFailed(f"jsonpatch: path {path!r} does not exist")
    return node


def _get(doc: Any, path: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return doc
    parent = _parent(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, adding=False)]
    raise PatchFailed(f"jsonpatch: path {path!r} does not exist")


def _remove(doc: Any, path: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        raise PatchFailed("jsonpatch: cannot remove the whole document")
    parent = _parent(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, adding=False))
    raise PatchFailed(f"jsonpatch: path {path!r} does not exist to remove")


def _add(doc: Any, path: str, value: Any, *, replace: bool = False) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return value
    parent = _parent(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise PatchFailed(f"jsonpatch: path {path!r} does not exist to replace")
        parent[last] = value
    elif isinstance(parent, list):
        if replace:
            parent[_index(parent, last, adding=False)] = value
        else:
            parent.insert(_index(parent, last, adding=True), value)
    else:
        raise PatchFailed(f"jsonpatch: parent of {path!r} is not an object or array")
    return doc


# kube-apiserver's bound on the operations of one JSON patch.
MAX_JSON_PATCH_OPERATIONS = 10_000
# kube-apiserver's message for a JSON patch that fails to apply (a generic 422 Invalid).
PATCH_FAILED = "the server rejected our request due to an error in our request"


def json_patch(doc: Any, ops: Any) -> Any:
    """RFC 6902 on a copy of `doc`; PatchFailed says which operation failed and why."""
    if not isinstance(ops, list) or not all(isinstance(op, dict) for op in ops):
        raise PatchFailed("a JSON patch must be an array of operation objects")
    doc = copy.deepcopy(doc)
    for number, op in enumerate(ops):
        doc = _apply_op(doc, number, op)
    return doc


def apply_json_patch(doc: Any, ops: Any) -> Any:
    """`json_patch` with kube-apiserver's codes: 400 BadRequest when the body is not an array
    of objects, 413 past 10,000 operations, 422 Invalid when an operation fails."""
    if not isinstance(ops, list) or not all(isinstance(op, dict) for op in ops):
        raise errors.bad_request("a JSON patch must be an array of operation objects")
    if len(ops) > MAX_JSON_PATCH_OPERATIONS:
        raise errors.ApiError(
            errors.status(
                413,
                "RequestEntityTooLarge",
                f"The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, "
                f"got {len(ops)}",
            )
        )
    try:
        return json_patch(doc, ops)
    except PatchFailed as exc:
        raise errors.ApiError(errors.status(422, "Invalid", f"{PATCH_FAILED}: {exc}")) from None


def _apply_op(doc: Any, number: int, op: dict[str, Any]) -> Any:
    """One operation on `doc` (changed in place where it can be); ApiError says what failed."""
    if "op" not in op or "path" not in op:
        raise PatchFailed(f"JSON patch operation {number} needs op and path")
    kind, path = op["op"], op["path"]
    if kind in ("add", "replace", "test") and "value" not in op:
        raise PatchFailed(f"JSON patch operation {number} ({kind}) needs a value")
    if kind == "add":
        return _add(doc, path, copy.deepcopy(op["value"]))
    if kind == "remove":
        _remove(doc, path)
        return doc
    if kind == "replace":
        return _add(doc, path, copy.deepcopy(op["value"]), replace=True)
    if kind in ("move", "copy"):
        source = op.get("from")
        if not isinstance(source, str):
            raise PatchFailed(f"JSON patch operation {number} ({kind}) needs from")
        if kind == "move" and source == path:
            _get(doc, source)  # RFC 6902: moving a value onto itself changes nothing
            return doc
        if kind == "move" and str(path).startswith(source + "/"):
            raise PatchFailed(f"jsonpatch: cannot move {source!r} into its own child")
        value = _remove(doc, source) if kind == "move" else copy.deepcopy(_get(doc, source))
        return _add(doc, path, value)
    if kind == "test":
        if _get(doc, path) != op["value"]:
            raise PatchFailed(f"testing value {path} failed")
        return doc
    raise PatchFailed(f"Unexpected kind: {kind}")


def strategic(target: Any, patch: Any) -> Any:
    """A strategic merge patch applied as a merge patch, honouring its map directives:
    `$patch: replace` replaces the map, `$patch: delete` removes it, other `$` keys
    (`$setElementOrder/...`, `$retainKeys`, `$deleteFromPrimitiveList/...`) are dropped."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    rest = {k: v for k, v in patch.items() if not str(k).startswith("$")}
    if directive == "replace":
        return {k: strategic(None, v) for k, v in rest.items() if v is not None}
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in rest.items():
        if value is None or (isinstance(value, dict) and value.get("$patch") == "delete"):
            out.pop(key, None)
        elif isinstance(value, dict):
            out[key] = strategic(out.get(key), value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def apply(doc: Any, patch: Any, content_type: str, *, strategic_merge: bool = True) -> Any:
    """Apply a patch body of a given content type to a copy of `doc`; `strategic_merge=False`
    for custom resources, which kube-apiserver does not strategic-merge (415)."""
    content_type = content_type.split(";")[0].strip()
    if content_type == STRATEGIC and not strategic_merge:
        raise errors.unsupported_media_type(content_type, (JSON, MERGE, APPLY))
    if content_type == JSON:
        return apply_json_patch(doc, patch)
    if content_type in (MERGE, STRATEGIC, APPLY):
        if not isinstance(patch, dict):
            raise errors.bad_request("a merge patch must be a JSON object")
        return strategic(doc, patch) if content_type == STRATEGIC else merge(doc, patch)
    raise errors.unsupported_media_type(content_type)
