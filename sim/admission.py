"""The admission chain of kube-apiserver, run on every write of the fake cluster.

For each write the store runs: the mutating webhooks of the stored
MutatingWebhookConfigurations (configurations by name, webhooks in order, then once more those
with `reinvocationPolicy: IfNeeded` that ran before a later webhook changed the object), then
the CRD's structural schema (in the store), then every matching validating webhook. A webhook is
called when its namespaceSelector, objectSelector (object or oldObject) and rules (operations,
apiGroups, apiVersions, resources with subresources, scope) match, as in
`k8s.io/apiserver/pkg/admission/plugin/webhook`. Outcomes are Status errors formed as the
apiserver forms them: a denial `admission webhook "<name>" denied the request: <message>` with
the webhook's code, reason and causes; a call failure under `failurePolicy: Fail`
`Internal error occurred: failed calling webhook "<name>": ...` (500); under Ignore the webhook
is skipped. Dry-run requests reach only webhooks whose sideEffects are None/NoneOnDryRun.

Who answers a call is the `callers` module's business: in process or over real HTTPS.
The configurations used are the ones we ship, `deploy/webhook/*webhookconfiguration.yaml`
(`load_configurations`), stored in the fake cluster like any object.

`matchConditions` are evaluated after the rules and selectors match, with the CEL subset of
`sim.cel`: any false skips the webhook; errors with none false fail the write under
`failurePolicy: Fail` (403 Forbidden, as the apiserver fails closed) and skip it under Ignore; a
condition outside the subset is taken as holding.

Not simulated: timeouts of in-process calls (a decision in process cannot be interrupted; over HTTPS the
webhook's `timeoutSeconds` applies), and audit annotations.
"""

from __future__ import annotations

import base64
import dataclasses
import threading
from pathlib import Path
from typing import Any, Protocol

import orjson

from sim import cel, clock, errors, patches, registry, selectors
from webhooks import clusterview, manifests, review

Obj = dict[str, Any]
# Webhook configurations are never sent to webhooks (kube-apiserver exempts them).
EXEMPT = frozenset(
    {
        registry.MUTATING_WEBHOOK_CONFIGURATION.key,
        registry.VALIDATING_WEBHOOK_CONFIGURATION.key,
    }
)
# kube-apiserver's default webhook timeout (seconds) when timeoutSeconds is absent.
DEFAULT_TIMEOUT = 10
# The webhook configurations we ship, relative to the repository root.
DEPLOY = Path(__file__).resolve().parents[1] / "deploy" / "webhook"
CONFIG_FILES = ("mutatingwebhookconfiguration.yaml", "validatingwebhookconfiguration.yaml")
OPTIONS_KIND = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions", "DELETE": "DeleteOptions"}


@dataclasses.dataclass(frozen=True)
class Attributes:
    """What a write is: operation, resource, subresource, namespace, name, user, dry-run, old."""

    operation: str
    resource: registry.Resource
    version: str
    subresource: str
    namespace: str
    name: str
    user: review.UserInfo
    dry_run: bool
    old: Obj | None = None


@dataclasses.dataclass(frozen=True)
class Webhook:
    """One entry of a webhook configuration, parsed with the apiserver's defaults."""

    configuration: str
    name: str
    mutating: bool
    rules: tuple[Obj, ...]
    namespace_selector: selectors.Selector
    object_selector: selectors.Selector
    failure_policy: str
    side_effects: str
    timeout: int
    reinvoke: bool
    match_policy: str
    client_config: Obj = dataclasses.field(hash=False, compare=False)
    # (expression, compiled or None when outside the CEL subset), in order.
    match_conditions: tuple[tuple[str, cel.Program | None], ...] = dataclasses.field(
        default=(), hash=False, compare=False
    )

    @property
    def path(self) -> str:
        """The request path: the service path, or the path of the URL."""
        service = self.client_config.get("service")
        if isinstance(service, dict):
            return str(service.get("path") or "/")
        url = str(self.client_config.get("url") or "")
        rest = url.split("://", 1)[-1]
        return "/" + rest.split("/", 1)[1] if "/" in rest else "/"


class CallFailed(errors.SimError):
    """A webhook could not be called or answered nonsense (subject to failurePolicy)."""


class Caller(Protocol):
    """Sends one AdmissionReview to a webhook and returns the decoded AdmissionReview answer."""

    def __call__(self, hook: Webhook, body: Obj, view: clusterview.ClusterIndex) -> Obj:
        """The webhook's AdmissionReview response; CallFailed when it cannot be had."""
        ...


def parse(config: Obj, *, mutating: bool) -> list[Webhook]:
    """The webhooks of one (Mutating|Validating)WebhookConfiguration, with defaults applied."""
    out = []
    name = str((config.get("metadata") or {}).get("name", ""))
    for entry in config.get("webhooks") or ():
        if not isinstance(entry, dict):
            continue
        out.append(
            Webhook(
                configuration=name,
                name=str(entry.get("name", "")),
                mutating=mutating,
                rules=tuple(r for r in entry.get("rules") or () if isinstance(r, dict)),
                namespace_selector=selectors.from_label_selector(entry.get("namespaceSelector")),
                object_selector=selectors.from_label_selector(entry.get("objectSelector")),
                failure_policy=str(entry.get("failurePolicy") or "Fail"),
                side_effects=str(entry.get("sideEffects") or "Unknown"),
                timeout=int(entry.get("timeoutSeconds") or DEFAULT_TIMEOUT),
                reinvoke=mutating and entry.get("reinvocationPolicy") == "IfNeeded",
                match_policy=str(entry.get("matchPolicy") or "Equivalent"),
                client_config=dict(entry.get("clientConfig") or {}),
                match_conditions=_conditions(entry.get("matchConditions")),
            )
        )
    return out


def _conditions(entries: Any) -> tuple[tuple[str, cel.Program | None], ...]:
    out: list[tuple[str, cel.Program | None]] = []
    for entry in entries or ():
        if not isinstance(entry, dict):
            continue
        expression = str(entry.get("expression", ""))
        try:
            program: cel.Program | None = cel.compile(expression)
        except cel.Unsupported:
            program = None
        out.append((expression, program))
    return tuple(out)


def conditions_hold(hook: Webhook, attrs: Attributes, obj: Obj | None, request: Obj) -> bool:
    """Whether the webhook's matchConditions let the call through (kube-apiserver's matcher):
    any false skips it; errors with none false raise 403 under Fail and skip it under Ignore."""
    if not hook.match_conditions:
        return True
    env = {"object": obj, "oldObject": attrs.old, "request": request}
    problems: list[str] = []
    for expression, program in hook.match_conditions:
        if program is None:
            continue
        try:
            verdict = program(env)
        except cel.CelError as exc:
            problems.append(f"expression '{expression}' resulted in error: {exc}")
            continue
        if verdict is False:
            return False
        if verdict is not True:
            problems.append(f"expression '{expression}' resulted in error: no such overload")
    if not problems:
        return True
    if hook.failure_policy == "Ignore":
        return False
    res = attrs.resource
    problem = problems[0] if len(problems) == 1 else "[" + ", ".join(problems) + "]"
    raise errors.forbidden(res.group, res.plural, attrs.name, problem)


def load_configurations(
    paths: list[Path] | None = None, *, ca_bundle: str | None = None
) -> list[Obj]:
    """The webhook configurations we ship (or those at `paths`), caBundle set when given."""
    found = manifests.load([str(p) for p in paths or [DEPLOY / f for f in CONFIG_FILES]])
    for config in found:
        for entry in config.get("webhooks") or ():
            if ca_bundle is not None and isinstance(entry, dict):
                entry.setdefault("clientConfig", {})["caBundle"] = ca_bundle
    return found


def _rule_matches(rule: Obj, attrs: Attributes, equivalent: bool) -> bool:
    res = attrs.resource

    def listed(field: str, value: str) -> bool:
        values = rule.get(field) or ()
        return "*" in values or value in values

    if not (listed("operations", attrs.operation) and listed("apiGroups", res.group)):
        return False
    versions = rule.get("apiVersions") or ()
    version_ok = "*" in versions or attrs.version in versions
    if not version_ok and not (equivalent and any(v in versions for v in res.versions)):
        return False
    for entry in rule.get("resources") or ():
        plural, _, sub = str(entry).partition("/")
        if (plural in ("*", res.plural)) and (sub in ("*", attrs.subresource)):
            break
    else:
        return False
    scope = rule.get("scope") or "*"
    is_namespace = res.key == ("", "Namespace")
    if scope == "Namespaced":
        return not is_namespace and bool(attrs.namespace)
    if scope == "Cluster":
        return is_namespace or not attrs.namespace
    return True


def _namespace_labels(
    view: clusterview.ClusterIndex, attrs: Attributes, obj: Obj | None
) -> Obj | None:
    """Labels the namespaceSelector is matched against; None when it does not apply."""
    if attrs.resource.key == ("", "Namespace") and not attrs.subresource:
        if attrs.operation in ("CREATE", "UPDATE"):
            return dict(selectors.labels_of(obj))
        return dict(selectors.labels_of(attrs.old))
    if not attrs.namespace:
        return None
    return dict(selectors.labels_of(view.get("", "Namespace", "", attrs.namespace)))


def should_call(
    hook: Webhook, view: clusterview.ClusterIndex, attrs: Attributes, obj: Obj | None
) -> bool:
    """Whether kube-apiserver would send this request to this webhook."""
    # Every part must match; the rules are the cheapest test and rule most hooks out.
    equivalent = hook.match_policy == "Equivalent"
    if not any(_rule_matches(rule, attrs, equivalent) for rule in hook.rules):
        return False
    labels = _namespace_labels(view, attrs, obj)
    selected = labels is None or all(req.matches(labels) for req in hook.namespace_selector)
    if not selected:
        return False
    if not hook.object_selector:
        return True
    return (obj is not None and selectors.matches(hook.object_selector, obj)) or (
        attrs.old is not None and selectors.matches(hook.object_selector, attrs.old)
    )


def denial(hook: Webhook, status: Obj | None) -> errors.ApiError:
    """A webhook's refusal as kube-apiserver returns it (webhookerrors.ToStatusErr)."""
    status = dict(status or {})
    code = int(status.get("code") or 0)
    prefix = f'admission webhook "{hook.name}" denied the request'
    if status.get("message"):
        message = f"{prefix}: {status['message']}"
    elif status.get("reason"):
        message = f"{prefix}: {status['reason']}"
    else:
        message = f"{prefix} without explanation"
    out: Obj = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
    }
    if status.get("reason"):
        out["reason"] = status["reason"]
    if isinstance(status.get("details"), dict):
        out["details"] = status["details"]
    out["code"] = code if code >= 400 else 400
    return errors.ApiError(out)


def call_failure(hook: Webhook, problem: str) -> errors.ApiError:
    """500 `Internal error occurred: failed calling webhook "<name>": <problem>`."""
    detail = f'failed calling webhook "{hook.name}": {problem}'
    return errors.internal(detail, causes=[{"message": detail}])


class Chain:
    """Mutating webhooks, then (in the store) schema validation, then validating webhooks."""

    def __init__(self, caller: Caller, *, seed: int = 0) -> None:
        self.caller = caller
        self.ids = clock.Ids(seed)
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, tuple[tuple[str, str], ...]], list[Webhook]] = {}

    def hooks(self, view: clusterview.ClusterIndex, mutating: bool) -> list[Webhook]:
        """The webhooks of every stored configuration of one type, in the apiserver's order."""
        kind = (
            registry.MUTATING_WEBHOOK_CONFIGURATION
            if mutating
            else registry.VALIDATING_WEBHOOK_CONFIGURATION
        )
        configs = view.list(kind.group, kind.kind)
        key = (
            kind.kind,
            tuple(
                (str(c["metadata"].get("name")), str(c["metadata"].get("resourceVersion")))
                for c in configs
            ),
        )
        with self._lock:
            found = self._cache.get(key)
            if found is None:
                configs = sorted(configs, key=lambda c: str(c["metadata"].get("name")))
                found = [h for c in configs for h in parse(c, mutating=mutating)]
                self._cache = {
                    key: found,
                    **{k: v for k, v in self._cache.items() if k[0] != kind.kind},
                }
            return found

    def review_request(self, attrs: Attributes, obj: Obj | None) -> Obj:
        """The AdmissionReview kube-apiserver sends for this write."""
        res = attrs.resource
        gvk = {"group": res.group, "version": attrs.version, "kind": res.kind}
        gvr = {"group": res.group, "version": attrs.version, "resource": res.plural}
        request: Obj = {
            "uid": self.ids.uid(),
            "kind": gvk,
            "resource": gvr,
            "requestKind": gvk,
            "requestResource": gvr,
            "name": attrs.name,
            "operation": attrs.operation,
            "userInfo": {"username": attrs.user.username, "groups": list(attrs.user.groups)},
            "object": obj,
            "oldObject": attrs.old,
            "dryRun": attrs.dry_run,
            "options": {
                "apiVersion": "meta.k8s.io/v1",
                "kind": OPTIONS_KIND.get(attrs.operation, "CreateOptions"),
            },
        }
        if attrs.subresource:
            request["subResource"] = request["requestSubResource"] = attrs.subresource
        if attrs.namespace:
            request["namespace"] = attrs.namespace
        return {"apiVersion": review.API_VERSION, "kind": "AdmissionReview", "request": request}

    def _selected(
        self, hook: Webhook, view: clusterview.ClusterIndex, attrs: Attributes, obj: Obj | None
    ) -> Obj | None:
        """The AdmissionReview to send when kube-apiserver would call this webhook, else None."""
        if not should_call(hook, view, attrs, obj):
            return None
        body = self.review_request(attrs, obj)
        return body if conditions_hold(hook, attrs, obj, body["request"]) else None

    def _call(
        self, hook: Webhook, view: clusterview.ClusterIndex, attrs: Attributes, body: Obj
    ) -> Obj | None:
        """The webhook's response; None when it failed and failurePolicy is Ignore."""
        if attrs.dry_run and hook.side_effects not in ("None", "NoneOnDryRun"):
            raise errors.bad_request(f'admission webhook "{hook.name}" does not support dry run')
        try:
            answer = self.caller(hook, body, view)
            return _checked(answer, body["request"]["uid"])
        except CallFailed as exc:
            if hook.failure_policy == "Ignore":
                return None
            raise call_failure(hook, str(exc)) from None

    def mutate(
        self, view: clusterview.ClusterIndex, attrs: Attributes, obj: Obj | None
    ) -> tuple[Obj | None, list[str]]:
        """The object after every matching mutating webhook, and their warnings."""
        hooks = self.hooks(view, mutating=True)
        warnings: list[str] = []
        invoked: list[int] = []
        again: set[int] = set()
        for index, hook in enumerate(hooks):
            body = self._selected(hook, view, attrs, obj)
            if body is None:
                continue
            obj, changed = self._mutate_once(hook, view, attrs, obj, body, warnings)
            if changed:
                again.update(invoked)
            if hook.reinvoke:
                invoked.append(index)
        for index, hook in enumerate(hooks):
            if index not in again:
                continue
            body = self._selected(hook, view, attrs, obj)
            if body is not None:
                obj, _ = self._mutate_once(hook, view, attrs, obj, body, warnings)
        return obj, warnings

    def _mutate_once(
        self,
        hook: Webhook,
        view: clusterview.ClusterIndex,
        attrs: Attributes,
        obj: Obj | None,
        body: Obj,
        warnings: list[str],
    ) -> tuple[Obj | None, bool]:
        response = self._call(hook, view, attrs, body)
        if response is None:
            return obj, False
        warnings.extend(str(w) for w in response.get("warnings") or ())
        if not response.get("allowed"):
            raise denial(hook, response.get("status"))
        if not response.get("patch") or obj is None:
            return obj, False
        if response.get("patchType") != "JSONPatch":
            raise call_failure(hook, f"unsupported patch type {response.get('patchType')!r}")
        try:
            ops = orjson.loads(base64.b64decode(str(response["patch"]), validate=True))
            patched = patches.json_patch(obj, ops)
        except ValueError as exc:  # undecodable, or an operation that cannot apply
            raise errors.internal(
                f'admission webhook "{hook.name}" returned an unusable patch: {exc}'
            ) from None
        if not isinstance(patched, dict):
            raise errors.internal(
                f'admission webhook "{hook.name}" patched the object into a non-object'
            )
        return patched, patched != obj

    def validate(
        self, view: clusterview.ClusterIndex, attrs: Attributes, obj: Obj | None
    ) -> list[str]:
        """Warnings of the matching validating webhooks; raises the first refusal (in order)."""
        warnings: list[str] = []
        first: errors.ApiError | None = None
        for hook in self.hooks(view, mutating=False):
            try:
                body = self._selected(hook, view, attrs, obj)
                response = None if body is None else self._call(hook, view, attrs, body)
            except errors.ApiError as exc:
                first = first or exc
                continue
            if response is None:
                continue
            warnings.extend(str(w) for w in response.get("warnings") or ())
            if not response.get("allowed"):
                first = first or denial(hook, response.get("status"))
            elif response.get("patch"):
                first = first or call_failure(hook, "validating webhooks may not return a patch")
        if first is not None:
            raise first
        return warnings


def _checked(answer: Any, uid: str) -> Obj:
    """The `response` of an AdmissionReview answer; CallFailed when it is not a valid one."""
    if not isinstance(answer, dict) or answer.get("kind") != "AdmissionReview":
        raise CallFailed("received invalid webhook response: expected an AdmissionReview")
    if answer.get("apiVersion") != review.API_VERSION:
        raise CallFailed(
            f"expected webhook response of {review.API_VERSION}, Kind=AdmissionReview, got {answer.get('apiVersion')}"
        )
    response = answer.get("response")
    if not isinstance(response, dict):
        raise CallFailed("webhook response was absent")
    if response.get("uid") != uid:
        raise CallFailed(f'expected response.uid="{uid}", got "{response.get("uid")}"')
    return response
