"""The fake apiserver's resource handlers: path parsing, get/list and the write verbs.

Shared by `sim.apiserver` (routing, serving) and `sim.restwatch` (watch streams). Failures are
raised as `errors.ApiError`; the router answers them as Status objects.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from typing import Any

import orjson
import yaml
from aiohttp import web
from multidict import CIMultiDict

from sim import access, discovery, errors, patches, protobuf, registry, store
from webhooks import review

Obj = dict[str, Any]
# The largest request body accepted (kube-apiserver limits requests to 3 MiB).
MAX_BODY = 3 * 1024 * 1024
STORE: web.AppKey[store.Store] = web.AppKey("store", store.Store)
CONFIG: web.AppKey[dict[str, Any]] = web.AppKey("config", dict)


def json_response(data: Any, status: int = 200, warnings: list[str] | None = None) -> web.Response:
    """A JSON response; each warning becomes a `Warning: 299 - "..."` header, as the apiserver sends."""
    headers = CIMultiDict[str]()
    for text in warnings or ():
        escaped = text.replace("\\", "\\\\").replace('"', '\\"')
        headers.add("Warning", f'299 - "{escaped}"')
    return web.Response(
        body=orjson.dumps(data), status=status, content_type="application/json", headers=headers
    )


def error_response(exc: errors.ApiError) -> web.Response:
    return json_response(exc.status, exc.code)


def user_of(request: web.Request) -> review.UserInfo:
    config = request.app[CONFIG]
    user = store.ADMIN
    auth = request.headers.get("Authorization", "")
    tokens = config.get("tokens") or {}
    if auth.startswith("Bearer ") and tokens:
        found = tokens.get(auth.removeprefix("Bearer ").strip())
        if found is None:
            raise errors.ApiError(errors.status(401, "Unauthorized", "Unauthorized"))
        user = found
    impersonate = request.headers.get("Impersonate-User")
    if impersonate:
        user = review.UserInfo(
            impersonate,
            tuple(request.headers.getall("Impersonate-Group", [])) or ("system:authenticated",),
        )
    return user


def _dry_run(request: web.Request, options: Obj | None = None) -> bool:
    values = request.query.getall("dryRun", []) + list((options or {}).get("dryRun") or [])
    for value in values:
        if value != "All":
            raise errors.bad_request(
                f'Invalid dry run value: "{value}"; the only valid value is "All"'
            )
    return bool(values)


# DeleteOptions fields and the JSON types they must have.
_DELETE_OPTION_TYPES: dict[str, type | tuple[type, ...]] = {
    "apiVersion": str,
    "kind": str,
    "gracePeriodSeconds": int,
    "preconditions": dict,
    "orphanDependents": bool,
    "propagationPolicy": str,
    "dryRun": list,
}


def _delete_options(body: Any) -> Obj:
    """A delete's body as DeleteOptions (none is {}); 400, deleting nothing, when it is not."""
    if body is None:
        return {}

    def bad(problem: str) -> errors.ApiError:
        return errors.bad_request(f"the request body is not valid DeleteOptions: {problem}")

    if not isinstance(body, dict):
        raise bad(f"expected an object, got {type(body).__name__}")
    if body.get("kind") not in (None, "DeleteOptions"):
        raise bad(f"kind must be DeleteOptions, got {body.get('kind')!r}")
    for key, kind in _DELETE_OPTION_TYPES.items():
        value = body.get(key)
        if value is not None and (
            not isinstance(value, kind) or isinstance(value, bool) != (kind is bool)
        ):
            raise bad(f"{key} has the wrong type ({type(value).__name__})")
    return body  # the propagationPolicy value is gc.propagation_policy's to judge (422)


async def _body(request: web.Request, res: registry.Resource) -> Any:
    too_large = errors.ApiError(
        errors.status(413, "RequestEntityTooLarge", "Request entity too large")
    )
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:  # aiohttp stops reading at its limit
        raise too_large from None
    if len(raw) > MAX_BODY:
        raise too_large
    if not raw.strip():
        return None
    content_type = request.headers.get("Content-Type", "")
    if "protobuf" in content_type:
        return protobuf.decode(raw, res.group, res.kind)
    try:
        if "yaml" in content_type:
            return yaml.safe_load(raw)
        return orjson.loads(raw)
    except (orjson.JSONDecodeError, yaml.YAMLError) as exc:
        raise errors.bad_request(
            f"the request body is not valid {'YAML' if 'yaml' in content_type else 'JSON'}: {exc}"
        ) from None


def out(obj: Obj, res: registry.Resource, version: str) -> Obj:
    obj["apiVersion"] = res.api_version(version)
    return obj


class Target:
    """What a resource path addresses: resource, version, namespace, name and subresource."""

    def __init__(
        self, res: registry.Resource, version: str, namespace: str | None, name: str, sub: str
    ) -> None:
        self.res, self.version, self.namespace, self.name, self.sub = (
            res,
            version,
            namespace,
            name,
            sub,
        )


def target_of(reg: registry.Registry, group: str, version: str, parts: list[str]) -> Target:
    namespace: str | None = None
    if len(parts) >= 3 and parts[0] == "namespaces":
        candidate = None
        with contextlib.suppress(errors.ApiError):
            candidate = reg.by_plural(group, version, parts[2])
        if candidate is not None and candidate.namespaced:
            namespace, parts = parts[1], parts[2:]
    if not parts or len(parts) > 3:
        raise errors.resource_not_found()
    res = reg.by_plural(group, version, parts[0])
    name = parts[1] if len(parts) > 1 else ""
    sub = parts[2] if len(parts) > 2 else ""
    if sub and (sub != "status" or not res.status):
        raise errors.resource_not_found()
    if (res.namespaced and name and namespace is None) or (
        not res.namespaced and namespace is not None
    ):
        raise errors.resource_not_found()
    return Target(res, version, namespace, name, sub)


def list_objects(request: web.Request, sim: store.Store, target: Target) -> web.Response:
    res = target.res
    items, rv = sim.list(
        res.group,
        res.kind,
        target.namespace,
        labels=request.query.get("labelSelector", ""),
        fields=request.query.get("fieldSelector", ""),
    )
    meta: Obj = {"resourceVersion": str(rv)}
    token = request.query.get("continue", "")
    if token:
        try:
            start = tuple(orjson.loads(base64.urlsafe_b64decode(token.encode()))["start"])
        except (ValueError, KeyError, TypeError):
            raise errors.ApiError(
                errors.status(
                    410,
                    "Expired",
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
                )
            ) from None
        items = [o for o in items if _sort_key(o) > start]
    limit = request.query.get("limit", "")
    if limit.isdigit() and 0 < int(limit) < len(items):
        items = items[: int(limit)]
        last = list(_sort_key(items[-1]))
        meta["continue"] = base64.urlsafe_b64encode(
            orjson.dumps({"rv": rv, "start": last})
        ).decode()
    for obj in items:
        out(obj, res, target.version)
    if "as=Table" in request.headers.get("Accept", ""):
        return json_response(discovery.table(res, target.version, items, rv, sim.clock))
    return json_response(
        {
            "kind": res.list_kind,
            "apiVersion": res.api_version(target.version),
            "metadata": meta,
            "items": items,
        }
    )


def _sort_key(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))


async def write(
    request: web.Request, sim: store.Store, target: Target, user: review.UserInfo, verb: str
) -> web.Response:
    res, ns = target.res, target.namespace
    body = await _body(request, res)
    options = _delete_options(body) if verb in ("delete", "deletecollection") else {}
    dry_run = _dry_run(request, options)
    found: list[str] = []
    kwargs: Obj = {"user": user, "dry_run": dry_run, "warnings": found}
    if verb in ("create", "update", "patch"):
        kwargs["field_validation"] = request.query.get("fieldValidation") or "Warn"

    def run() -> tuple[Any, int]:
        if verb == "create" and res.key in access.KEYS:
            _check_body(body, res, target.version)
            return access.decide(sim.view, body, user, ns), 201
        if verb == "create":
            _check_body(body, res, target.version)
            return sim.create(body, namespace=ns, **kwargs), 201
        if verb == "update":
            _check_body(body, res, target.version)
            return sim.update(
                body, subresource=target.sub, namespace=ns, name=target.name, **kwargs
            ), 200
        if verb == "patch":
            content_type = request.headers.get("Content-Type", patches.MERGE)
            if (
                content_type.startswith(patches.APPLY)
                and sim.find(res.group, res.kind, ns or "", target.name) is None
            ):
                _check_body(body, res, target.version)
                return sim.create(body, namespace=ns, **kwargs), 201
            return sim.patch(
                res.group,
                res.kind,
                ns or "",
                target.name,
                body,
                patch_type=content_type,
                subresource=target.sub,
                **kwargs,
            ), 200
        propagation = request.query.get("propagationPolicy") or options.get("propagationPolicy")
        if verb == "delete":
            gone = sim.delete(
                res.group,
                res.kind,
                ns or "",
                target.name,
                propagation=propagation,
                preconditions=options.get("preconditions"),
                **kwargs,
            )
            still = sim.find(res.group, res.kind, ns or "", target.name) is not None and not dry_run
            if res.crd or res.kind == "Namespace" or still:
                return gone, 202 if still else 200
            meta = gone.get("metadata") or {}
            return {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": {
                    "name": meta.get("name"),
                    "group": res.group,
                    "kind": res.plural,
                    "uid": meta.get("uid"),
                },
            }, 200
        items, _ = sim.list(
            res.group,
            res.kind,
            ns,
            labels=request.query.get("labelSelector", ""),
            fields=request.query.get("fieldSelector", ""),
        )
        for obj in items:
            meta = obj.get("metadata") or {}
            with contextlib.suppress(errors.ApiError):
                sim.delete(
                    res.group,
                    res.kind,
                    meta.get("namespace", ""),
                    meta["name"],
                    propagation=propagation,
                    **kwargs,
                )
        return {
            "kind": res.list_kind,
            "apiVersion": res.api_version(target.version),
            "metadata": {},
            "items": items,
        }, 200

    result, code = await asyncio.get_running_loop().run_in_executor(None, run)
    if result.get("kind") == res.kind:
        out(result, res, target.version)
    return json_response(result, code, found)


def _check_body(body: Any, res: registry.Resource, version: str) -> None:
    """Default apiVersion/kind from the path, as kube-apiserver's decoder does; 400 on a mismatch."""
    if not isinstance(body, dict):
        raise errors.bad_request("the request body must be a JSON object (a Kubernetes object)")
    want = res.api_version(version)
    body.setdefault("apiVersion", want)
    body.setdefault("kind", res.kind)
    if body.get("apiVersion") != want:
        raise errors.bad_request(
            f"the API version in the data ({body.get('apiVersion')}) does not match the expected API version ({want})"
        )
    if body.get("kind") != res.kind:
        raise errors.bad_request(
            f"the kind in the data ({body.get('kind')}) does not match the expected kind ({res.kind})"
        )
