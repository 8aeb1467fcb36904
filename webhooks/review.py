"""AdmissionReview v1 wire format: parse a request, encode a response.

Only this module knows the JSON shape; handlers see `AdmissionRequest` and return a Decision.
"""

from __future__ import annotations

import base64
import dataclasses
from typing import Any, Literal, NotRequired, TypedDict

import orjson

from webhooks import decisions, errors

API_VERSION = "admission.k8s.io/v1"
Operation = Literal["CREATE", "UPDATE", "DELETE", "CONNECT"]
OPERATIONS: frozenset[str] = frozenset({"CREATE", "UPDATE", "DELETE", "CONNECT"})


class GroupVersionKind(TypedDict):
    group: str
    version: str
    kind: str


class UserInfoJSON(TypedDict, total=False):
    username: str
    uid: str
    groups: list[str]
    extra: dict[str, list[str]]


class RequestJSON(TypedDict):
    uid: str
    kind: GroupVersionKind
    resource: NotRequired[dict[str, str]]
    subResource: NotRequired[str]
    name: NotRequired[str]
    namespace: NotRequired[str]
    operation: Operation
    userInfo: NotRequired[UserInfoJSON]
    object: NotRequired[dict[str, Any] | None]
    oldObject: NotRequired[dict[str, Any] | None]
    dryRun: NotRequired[bool]
    options: NotRequired[dict[str, Any] | None]


class StatusJSON(TypedDict, total=False):
    status: str
    code: int
    reason: str
    message: str
    details: dict[str, Any]


class ResponseJSON(TypedDict):
    uid: str
    allowed: bool
    status: NotRequired[StatusJSON]
    patchType: NotRequired[Literal["JSONPatch"]]
    patch: NotRequired[str]
    warnings: NotRequired[list[str]]


class ReviewJSON(TypedDict):
    apiVersion: str
    kind: Literal["AdmissionReview"]
    response: ResponseJSON


@dataclasses.dataclass(frozen=True, slots=True)
class UserInfo:
    """Who sent the request: username and groups."""

    username: str = ""
    groups: tuple[str, ...] = ()


# Not frozen: a frozen dataclass of 12 fields costs ~1.5 µs more to build, on every request;
# handlers treat it as read-only all the same.
@dataclasses.dataclass(slots=True)
class AdmissionRequest:
    """The parts of an AdmissionRequest the checks use (read-only by convention)."""

    uid: str
    operation: str
    kind: str
    group: str = ""
    version: str = ""
    namespace: str = ""
    name: str = ""
    sub_resource: str = ""
    object: dict[str, Any] | None = None
    old_object: dict[str, Any] | None = None
    user: UserInfo = UserInfo()
    dry_run: bool = False


def _str(value: Any, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise errors.MalformedReview(f"request.{field} must be a string")
    return value


def parse_request(body: Any) -> AdmissionRequest:
    """The AdmissionRequest of a decoded AdmissionReview; MalformedReview names what is wrong."""
    if not isinstance(body, dict):
        raise errors.MalformedReview("body must be a JSON object (an AdmissionReview)")
    if body.get("kind") != "AdmissionReview":
        raise errors.MalformedReview(f"kind must be AdmissionReview, got {body.get('kind')!r}")
    if body.get("apiVersion") != API_VERSION:
        raise errors.MalformedReview(
            f"apiVersion must be {API_VERSION}, got {body.get('apiVersion')!r}; "
            "set admissionReviewVersions: [v1] in the webhook configuration"
        )
    req = body.get("request")
    if not isinstance(req, dict):
        raise errors.MalformedReview("request is missing or not an object")
    uid = req.get("uid")
    if not isinstance(uid, str) or not uid:
        raise errors.MalformedReview("request.uid is missing or empty")
    operation = req.get("operation")
    if not isinstance(operation, str) or operation not in OPERATIONS:
        raise errors.MalformedReview(
            f"request.operation must be one of {sorted(OPERATIONS)}, got {operation!r}"
        )
    kind = req.get("kind")
    if not isinstance(kind, dict) or not isinstance(kind.get("kind"), str):
        raise errors.MalformedReview("request.kind must be an object with group, version, kind")
    obj, old = req.get("object"), req.get("oldObject")
    for field, value in (("object", obj), ("oldObject", old)):
        if value is not None and not isinstance(value, dict):
            raise errors.MalformedReview(f"request.{field} must be an object or null")
    if obj is None and operation in ("CREATE", "UPDATE"):
        article = "an" if operation == "UPDATE" else "a"
        raise errors.MalformedReview(f"request.object is required for {article} {operation}")
    user: dict[str, Any] = req["userInfo"] if isinstance(req.get("userInfo"), dict) else {}
    groups: list[Any] = user["groups"] if isinstance(user.get("groups"), list) else []
    username = user.get("username")
    return AdmissionRequest(
        uid,
        operation,
        kind["kind"],
        _str(kind.get("group"), "kind.group"),
        _str(kind.get("version"), "kind.version"),
        _str(req.get("namespace"), "namespace"),
        _str(req.get("name"), "name"),
        _str(req.get("subResource"), "subResource"),
        obj,
        old,
        UserInfo(
            username if isinstance(username, str) else "",
            tuple([g for g in groups if isinstance(g, str)]),
        ),
        req.get("dryRun") is True,
    )


def response(uid: str, decision: decisions.Decision) -> ReviewJSON:
    """The AdmissionReview answering request `uid` with `decision`."""
    out: ResponseJSON = {"uid": uid, "allowed": decision.allowed}
    if not decision.allowed:
        status: StatusJSON = {
            "status": "Failure",
            "code": decision.code,
            "reason": decision.reason,
            "message": decision.message,
        }
        if decision.causes:
            status["details"] = {"causes": [c.to_json() for c in decision.causes]}
        out["status"] = status
    elif decision.patch:
        out["patchType"] = "JSONPatch"
        out["patch"] = base64.b64encode(orjson.dumps(list(decision.patch))).decode("ascii")
    if decision.warnings:
        out["warnings"] = list(decision.warnings)
    return {"apiVersion": API_VERSION, "kind": "AdmissionReview", "response": out}


def request_body(
    obj: dict[str, Any],
    *,
    operation: str = "CREATE",
    old: dict[str, Any] | None = None,
    uid: str = "00000000-0000-0000-0000-000000000000",
    username: str = "",
    groups: tuple[str, ...] = (),
    dry_run: bool = False,
    plural: str = "",
) -> dict[str, Any]:
    """The AdmissionReview kube-apiserver would send for writing `obj` (offline use, demos)."""
    api_version = str(obj.get("apiVersion", ""))
    group, _, version = api_version.rpartition("/")
    kind = str(obj.get("kind", ""))
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    gvk = {"group": group, "version": version, "kind": kind}
    resource = {"group": group, "version": version, "resource": plural or kind.lower() + "s"}
    request: dict[str, Any] = {
        "uid": uid,
        "kind": gvk,
        "resource": resource,
        "requestKind": gvk,
        "requestResource": resource,
        "name": str(meta.get("name") or ""),
        "operation": operation,
        "userInfo": {"username": username, "groups": list(groups)},
        "object": None if operation == "DELETE" else obj,
        "oldObject": old,
        "dryRun": dry_run,
    }
    if meta.get("namespace"):
        request["namespace"] = str(meta["namespace"])
    return {"apiVersion": API_VERSION, "kind": "AdmissionReview", "request": request}


def request_review(obj: dict[str, Any], **kwargs: Any) -> AdmissionRequest:
    """The parsed AdmissionRequest for writing `obj`; keywords as for `request_body`."""
    return parse_request(request_body(obj, **kwargs))
