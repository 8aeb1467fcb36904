"""The Workflow guard (`/validate/workflows`): who may write managed Workflows, and what they hold.

A Workflow is *managed* when it (or, on UPDATE, its old version) carries the label
`app.vworkspace.io/managed-by: <policy.managed_by>`. Rules, in order (DESIGN "Admission"):

1. Only the operator's own service account creates a managed Workflow or changes its spec or
   ownership labels. Anybody else (the Argo controller writing status and its own labels, a human
   running `argo suspend|resume|stop|terminate`) may make changes that leave spec alone apart
   from the lifecycle controls `suspend`, `shutdown` and a shorter `activeDeadlineSeconds`.
   -> `WorkflowNotAllowed` (403).
2. A managed Workflow runs a WorkflowTemplate by `workflowTemplateRef` and sets nothing but the
   fields the reconciler writes (no inline `templates`, `podSpecPatch`, `templateDefaults`,
   `hooks`, `volumes`, `podGC`, `executor`, ... and argument parameters carry plain values).
   -> `WorkflowNotAllowed` (403).
3. Its `serviceAccountName` is a runner SA (the policy's, or one an OperationTemplate names in
   `spec.workflow.serviceAccountName`), the operator's own SA never runs a Workflow, and
   the template it references picks no other SA for any pod (a template-level
   `serviceAccountName`, an `executor`, a `podSpecPatch`).
   -> `ServiceAccountNotAllowed` (403).
4. A Workflow that is not managed may not name a runner SA (nor the operator's SA) anywhere it
   can pick a pod's service account, including through the WorkflowTemplate it references and
   the templates its steps and tasks call by `templateRef`, so nobody borrows the runner's
   rights. Templates absent from the cluster view are not judged (Argo fails such Workflows). On UPDATE only newly introduced names count, so the Argo
   controller can always finish a Workflow that existed before the guard.
   -> `ServiceAccountNotAllowed` (403).

DELETE, CONNECT and sub-resource requests are admitted. Each reason follows `policy.mode`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import yaml

from policies import model
from webhooks import clusterview, decisions, errors, kinds, resolve, review

MANAGED_BY_LABEL = "app.vworkspace.io/managed-by"
# The labels that tie a Workflow to its Operation (DESIGN "Reconciler"); only the operator sets them.
OWNERSHIP_LABELS: tuple[str, ...] = (
    MANAGED_BY_LABEL,
    "app.vworkspace.io/cluster-id",
    "ops.vworkspace.io/operation",
)
WORKFLOW_NOT_ALLOWED = "WorkflowNotAllowed"
SERVICE_ACCOUNT_NOT_ALLOWED = "ServiceAccountNotAllowed"
# Both are authorization failures of an otherwise valid object: 403 Forbidden, like RBAC's.
CODE = 403
# The spec fields the reconciler writes, plus the lifecycle controls; anything else widens what
# the referenced template runs (inline code, pod patches, volumes, hooks, executors, pod GC).
MANAGED_SPEC_FIELDS = frozenset(
    {
        "workflowTemplateRef",
        "serviceAccountName",
        "arguments",
        "activeDeadlineSeconds",
        "suspend",
        "shutdown",
    }
)
# What anybody may change on a managed Workflow: the Argo CLI's suspend/resume/stop/terminate.
CONTROL_FIELDS = frozenset({"suspend", "shutdown"})
# Keys a `workflowTemplateRef` and an argument parameter may hold (no `valueFrom`, which would
# let the controller read ConfigMaps on the Workflow's behalf, no artifacts).
TEMPLATE_REF_FIELDS = frozenset({"name", "clusterScope"})
PARAMETER_FIELDS = frozenset({"name", "value"})
ARGUMENT_FIELDS = frozenset({"parameters"})


@dataclasses.dataclass(frozen=True, slots=True)
class Finding:
    """One failed rule: its deny reason, message and field causes."""

    reason: str
    message: str
    causes: tuple[decisions.Cause, ...] = ()


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _labels(obj: dict[str, Any] | None) -> dict[str, Any]:
    return _dict(_dict(_dict(obj).get("metadata")).get("labels"))


def label_path(key: str) -> str:
    """The field path of a label, as Kubernetes writes it (`metadata.labels[key]`)."""
    return f"metadata.labels[{key}]"


def is_managed(obj: dict[str, Any] | None, policy: model.Policy) -> bool:
    """Whether a Workflow carries the operator's managed-by label."""
    return _labels(obj).get(MANAGED_BY_LABEL) == policy.managed_by


def runner_names(view: clusterview.ClusterView, policy: model.Policy) -> tuple[str, ...]:
    """The runner service accounts, sorted: the policy's, and each one an OperationTemplate
    names in `spec.workflow.serviceAccountName` (the operator's own SA never counts)."""

    def collect() -> tuple[str, ...]:
        group, kind = kinds.OPERATION_TEMPLATE.key
        named = {
            resolve.runner_service_account(optemplate, policy.runner_sa_name)
            for optemplate in view.list(group, kind)
        }
        return tuple(sorted((named - {policy.operator_sa.name}) | {policy.runner_sa_name}))

    return view.memoized(
        ("runner-names", policy.runner_sa_name, policy.operator_sa.name),
        collect,
        depends=(kinds.OPERATION_TEMPLATE.key,),
    )


def _forbidden(field: str, message: str) -> decisions.Cause:
    return decisions.Cause(field, message, "FieldValueForbidden")


# --- managed Workflows: who and what --------------------------------------------------------


def _changed_by_others(old: dict[str, Any], new: dict[str, Any]) -> list[decisions.Cause]:
    """The changes a non-operator made that the guard does not allow."""
    causes: list[decisions.Cause] = []
    old_spec, new_spec = _dict(old.get("spec")), _dict(new.get("spec"))
    for key in sorted(set(old_spec) | set(new_spec)):
        before, after = old_spec.get(key), new_spec.get(key)
        if before == after or key in CONTROL_FIELDS:
            continue
        if key == "activeDeadlineSeconds" and _shortens(before, after):
            continue
        causes.append(_forbidden(f"spec.{key}", "only the operator may change this field"))
    old_labels, new_labels = _labels(old), _labels(new)
    for key in OWNERSHIP_LABELS:
        if old_labels.get(key) != new_labels.get(key):
            causes.append(_forbidden(label_path(key), "only the operator may change this label"))
    return causes


def _shortens(before: Any, after: Any) -> bool:
    ok = isinstance(after, int) and not isinstance(after, bool) and after >= 0
    if not ok:
        return False
    return before is None or (isinstance(before, int) and after <= before)


def _shape(spec: dict[str, Any]) -> list[decisions.Cause]:
    """Why a managed Workflow's spec is more than a reference to a template, field by field."""
    causes = [
        _forbidden(f"spec.{key}", "not allowed in a managed Workflow; set it in the template")
        for key in sorted(spec)
        if key not in MANAGED_SPEC_FIELDS
    ]
    ref = spec.get("workflowTemplateRef")
    if not isinstance(ref, dict) or not isinstance(ref.get("name"), str) or not ref.get("name"):
        causes.append(
            decisions.Cause(
                "spec.workflowTemplateRef.name",
                "a managed Workflow must name its WorkflowTemplate",
                "FieldValueRequired",
            )
        )
    else:
        causes += [
            _forbidden(f"spec.workflowTemplateRef.{key}", "only name and clusterScope allowed")
            for key in sorted(ref)
            if key not in TEMPLATE_REF_FIELDS
        ]
    arguments = spec.get("arguments")
    if arguments is None:
        return causes
    if not isinstance(arguments, dict):
        return [*causes, _forbidden("spec.arguments", "must be an object of parameters")]
    causes += [
        _forbidden(f"spec.arguments.{key}", "only plain parameters allowed")
        for key in sorted(arguments)
        if key not in ARGUMENT_FIELDS
    ]
    params = arguments.get("parameters") or []
    if not isinstance(params, list):
        return [*causes, _forbidden("spec.arguments.parameters", "must be a list")]
    for i, param in enumerate(params):
        if not isinstance(param, dict):
            causes.append(_forbidden(f"spec.arguments.parameters[{i}]", "must be an object"))
            continue
        causes += [
            _forbidden(f"spec.arguments.parameters[{i}].{key}", "only name and value allowed")
            for key in sorted(param)
            if key not in PARAMETER_FIELDS
        ]
    return causes


def _managed_findings(
    request: review.AdmissionRequest,
    view: clusterview.ClusterView,
    policy: model.Policy,
    namespace: str,
) -> list[Finding]:
    new, old = _dict(request.object), _dict(request.old_object)
    operator = policy.operator_sa
    label = f"{MANAGED_BY_LABEL}={policy.managed_by}"
    if request.user.username != operator.username:
        if request.operation == "UPDATE":
            causes = _changed_by_others(old, new)
            if not causes:
                return []
            what = "change the spec or ownership labels of"
        else:
            causes = [_forbidden(label_path(MANAGED_BY_LABEL), "set only by the operator")]
            what = "create"
        user = request.user.username or "an anonymous user"
        message = (
            f"{WORKFLOW_NOT_ALLOWED}: only {operator.username} may {what} Workflows labelled "
            f"{label}, not {user}; create an Operation instead (suspend, stop and terminate "
            "stay allowed)"
        )
        return [Finding(WORKFLOW_NOT_ALLOWED, message, tuple(causes))]
    if request.operation == "UPDATE" and _dict(old.get("spec")) == _dict(new.get("spec")):
        return []
    findings: list[Finding] = []
    spec = _dict(new.get("spec"))
    shape = _shape(spec)
    if shape:
        fields = ", ".join(c.field for c in shape)
        message = (
            f"{WORKFLOW_NOT_ALLOWED}: a managed Workflow runs a WorkflowTemplate by "
            f"spec.workflowTemplateRef and sets only {', '.join(sorted(MANAGED_SPEC_FIELDS))}; "
            f"not allowed: {fields}"
        )
        findings.append(Finding(WORKFLOW_NOT_ALLOWED, message, tuple(shape)))
    sa = spec.get("serviceAccountName")
    field = "spec.serviceAccountName"
    runners = runner_names(view, policy)
    listed = ", ".join(runners)
    if sa == operator.name and namespace == operator.namespace:
        message = (
            f"{SERVICE_ACCOUNT_NOT_ALLOWED}: the operator's own service account "
            f"{operator.namespace}/{operator.name} never runs a Workflow; use a runner: {listed}"
        )
        findings.append(
            Finding(SERVICE_ACCOUNT_NOT_ALLOWED, message, (_forbidden(field, "operator's SA"),))
        )
    elif sa not in runners:
        message = (
            f"{SERVICE_ACCOUNT_NOT_ALLOWED}: a managed Workflow runs as a runner service account "
            f"(the policy's or one an OperationTemplate names: {listed}), not {sa!r}"
        )
        findings.append(
            Finding(
                SERVICE_ACCOUNT_NOT_ALLOWED,
                message,
                (_forbidden(field, f"must be one of: {listed}"),),
            )
        )
    borrowed = [acc for acc in pod_accounts(spec, view, namespace) if acc.via and acc.value != sa]
    if borrowed:
        where = "; ".join(f"{acc.value!r} at {acc.via}" for acc in borrowed)
        message = (
            f"{SERVICE_ACCOUNT_NOT_ALLOWED}: a managed Workflow runs every pod as its "
            f"spec.serviceAccountName {sa!r}, but its template picks another service account: "
            f"{where}"
        )
        picked = tuple(
            _forbidden(acc.field, f"{acc.via} runs as {acc.value!r}") for acc in borrowed
        )
        findings.append(Finding(SERVICE_ACCOUNT_NOT_ALLOWED, message, picked))
    return findings


# --- every other Workflow: it may not borrow a reserved service account ----------------------


def _patch_names(patch: Any) -> set[str]:
    """Service account names a podSpecPatch (JSON or YAML text) sets; the raw text if unreadable."""
    if not isinstance(patch, str):
        return set()
    try:
        data = yaml.safe_load(patch)
    except yaml.YAMLError:
        return {patch}
    data = _dict(data)
    return {str(data[k]) for k in ("serviceAccountName", "serviceAccount") if k in data}


@dataclasses.dataclass(frozen=True, slots=True)
class Account:
    """A place that picks a pod's service account: the field, its value and what it came from."""

    field: str
    value: str
    via: str = ""


def _node_accounts(node: dict[str, Any], path: str, top: bool = True) -> list[Account]:
    """The SA-picking fields of one spec or template (`top`: include its serviceAccountName)."""
    out: list[Account] = []
    if top and isinstance(node.get("serviceAccountName"), str):
        out.append(Account(f"{path}.serviceAccountName", node["serviceAccountName"]))
    executor = _dict(node.get("executor"))
    if isinstance(executor.get("serviceAccountName"), str):
        out.append(Account(f"{path}.executor.serviceAccountName", executor["serviceAccountName"]))
    out.extend(Account(f"{path}.podSpecPatch", n) for n in _patch_names(node.get("podSpecPatch")))
    return out


def _spec_accounts(spec: dict[str, Any], prefix: str, top: bool = True) -> list[Account]:
    """Every SA-picking field of a Workflow(Template) spec, its defaults and its templates."""
    out = _node_accounts(spec, prefix, top)
    out += _node_accounts(_dict(spec.get("templateDefaults")), f"{prefix}.templateDefaults")
    for i, template in enumerate(_list(spec.get("templates"))):
        out += _node_accounts(_dict(template), f"{prefix}.templates[{i}]")
    return out


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _lookup(
    ref: dict[str, Any], view: clusterview.ClusterView, namespace: str
) -> tuple[str, dict[str, Any]] | None:
    """The (Cluster)WorkflowTemplate a workflowTemplateRef or templateRef names, if in the view."""
    name = ref.get("name")
    if not isinstance(name, str) or not name:
        return None
    if ref.get("clusterScope") is True:
        kind, ns = kinds.CLUSTER_WORKFLOW_TEMPLATE, ""
    else:
        kind, ns = kinds.WORKFLOW_TEMPLATE, namespace
    found = view.get(kind.group, kind.kind, ns, name)
    return None if found is None else (f"{kind.kind} {ns + '/' if ns else ''}{name}", found)


def _step_refs(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(field path, templateRef) of every step and DAG task that calls another template."""
    out: list[tuple[str, dict[str, Any]]] = []
    for i, template in enumerate(_list(spec.get("templates"))):
        template = _dict(template)
        for j, group in enumerate(_list(template.get("steps"))):
            for k, step in enumerate(_list(group)):
                ref = _dict(_dict(step).get("templateRef"))
                if ref:
                    out.append((f"spec.templates[{i}].steps[{j}][{k}].templateRef", ref))
        for j, task in enumerate(_list(_dict(template.get("dag")).get("tasks"))):
            ref = _dict(_dict(task).get("templateRef"))
            if ref:
                out.append((f"spec.templates[{i}].dag.tasks[{j}].templateRef", ref))
    return out


def pod_accounts(
    spec: dict[str, Any], view: clusterview.ClusterView, namespace: str
) -> list[Account]:
    """Every place a Workflow's pods get their service account: its own spec, the template its
    workflowTemplateRef names (whose top-level one the Workflow's own overrides), and the
    templates its steps and tasks call by templateRef."""
    out = _spec_accounts(spec, "spec")
    found = _lookup(_dict(spec.get("workflowTemplateRef")), view, namespace)
    if found is not None:
        label, template = found
        own = isinstance(spec.get("serviceAccountName"), str)
        for acc in _spec_accounts(_dict(template.get("spec")), "spec", top=not own):
            out.append(Account("spec.workflowTemplateRef", acc.value, f"{label} {acc.field}"))
    for field, ref in _step_refs(spec):
        found = _lookup(ref, view, namespace)
        if found is None:
            continue
        label, template = found
        for i, called in enumerate(_list(_dict(template.get("spec")).get("templates"))):
            called = _dict(called)
            if called.get("name") == ref.get("template"):
                for acc in _node_accounts(called, f"spec.templates[{i}]"):
                    out.append(Account(field, acc.value, f"{label} {acc.field}"))
    return out


def _reserved_names(
    obj: dict[str, Any], view: clusterview.ClusterView, namespace: str, reserved: set[str]
) -> set[tuple[str, str]]:
    """(field, explanation) for each place this Workflow would run pods as a reserved SA."""
    spec = _dict(obj.get("spec"))
    args = repr(_dict(spec.get("arguments")))
    hits: set[tuple[str, str]] = set()
    for acc in pod_accounts(spec, view, namespace):
        where = f" ({acc.via})" if acc.via else ""
        if acc.value in reserved:
            hits.add((acc.field, f"runs as the reserved service account {acc.value!r}{where}"))
        elif acc.field.endswith("podSpecPatch") and any(n in acc.value for n in reserved):
            hits.add((acc.field, "an unreadable podSpecPatch naming a reserved service account"))
        elif "{{" in acc.value and any(name in args for name in reserved):
            hits.add((acc.field, "takes its service account from arguments naming a reserved one"))
    return hits


def _unmanaged_findings(
    request: review.AdmissionRequest,
    view: clusterview.ClusterView,
    policy: model.Policy,
    namespace: str,
) -> list[Finding]:
    reserved = set(runner_names(view, policy))
    if namespace == policy.operator_sa.namespace:
        reserved.add(policy.operator_sa.name)
    hits = _reserved_names(_dict(request.object), view, namespace, reserved)
    if request.operation == "UPDATE" and request.old_object is not None:
        hits -= _reserved_names(_dict(request.old_object), view, namespace, reserved)
    if not hits:
        return []
    causes = tuple(_forbidden(field, why) for field, why in sorted(hits))
    message = (
        f"{SERVICE_ACCOUNT_NOT_ALLOWED}: the reserved service accounts "
        f"({', '.join(sorted(reserved))}) run only Workflows the operator "
        f"creates from Operations (label {MANAGED_BY_LABEL}={policy.managed_by}); this Workflow "
        f"would run as a reserved service account at {', '.join(c.field for c in causes)}; "
        "use another service account or create an Operation"
    )
    return [Finding(SERVICE_ACCOUNT_NOT_ALLOWED, message, causes)]


# --- the decision ----------------------------------------------------------------------------


def findings(
    request: review.AdmissionRequest, view: clusterview.ClusterView, policy: model.Policy
) -> list[Finding]:
    """Every rule the request breaks, in rule order; empty when nothing is wrong."""
    if request.operation not in ("CREATE", "UPDATE") or request.sub_resource:
        return []
    if not isinstance(request.object, dict):
        raise errors.MalformedReview(
            f"request.object is missing for a Workflow {request.operation}"
        )
    meta = _dict(request.object.get("metadata"))
    namespace = request.namespace or str(meta.get("namespace") or "")
    if is_managed(request.object, policy) or is_managed(request.old_object, policy):
        return _managed_findings(request, view, policy, namespace)
    return _unmanaged_findings(request, view, policy, namespace)


def validate_workflow(
    request: review.AdmissionRequest, view: clusterview.ClusterView, policy: model.Policy
) -> decisions.Decision:
    """The guard's decision: the first enforced finding denies; warn-mode findings become warnings."""
    warnings: list[str] = []
    for finding in findings(request, view, policy):
        mode = policy.mode(finding.reason)
        if mode == "off":
            continue
        if mode == "warn":
            warnings.append(finding.message)
            continue
        return decisions.denied(
            finding.reason, CODE, finding.message, causes=finding.causes, warnings=warnings
        )
    return decisions.allowed(warnings=warnings)
