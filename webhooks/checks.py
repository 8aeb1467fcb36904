"""The Operation admission checks of DESIGN's table, in order, as pure functions.

Each check takes the shared `Context`, returns a `Failure` or None, and may record what it
found (the engine, the OperationTemplate, the resolved WorkflowTemplate) for the checks after it.
A check whose input an earlier (warned or disabled) check could not provide is not applicable.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import orjson

from policies import model
from webhooks import clusterview, decisions, kinds, resolve, schemas
from webhooks.rbac import builtins as rbac_builtins
from webhooks.rbac import findings

Obj = dict[str, Any]
# At most this many field errors are spelled out in a denial message; causes list them all.
MESSAGE_CAUSES = 5
# What each memoized fact depends on: a write to any of these kinds recomputes it.
TEMPLATE_KINDS = (
    kinds.OPERATION_TEMPLATE.key,
    kinds.WORKFLOW_TEMPLATE.key,
    kinds.CLUSTER_WORKFLOW_TEMPLATE.key,
)
_OPERATION_TEMPLATES = (kinds.OPERATION_TEMPLATE.key,)
_CRDS = (kinds.CRD.key,)
_RUNNER_KINDS = (kinds.SERVICE_ACCOUNT.key, *kinds.RBAC_KINDS)


@dataclasses.dataclass(frozen=True, slots=True)
class Failure:
    """A failed check: deny reason, HTTP-style code, message (without the reason) and causes."""

    reason: str
    code: int
    message: str
    causes: tuple[decisions.Cause, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class TemplateFacts:
    """What the checks read from the chosen OperationTemplate (derived once per revision)."""

    name: str
    template_parameter: str  # the Operation parameter that names the WorkflowTemplate
    runner: str  # the runner ServiceAccount's name
    target_kinds: tuple[tuple[str, str], ...] | None  # allowed (group, kind)s; None: any kind


def template_facts(
    view: clusterview.ClusterView, optemplate: Obj, policy: model.Policy
) -> TemplateFacts:
    """The checks' view of an OperationTemplate, memoized until an OperationTemplate changes."""
    name = _template_name(optemplate)

    def derive() -> TemplateFacts:
        allowed = resolve.mapping(optemplate.get("spec")).get("targetKinds")
        pairs = None
        if isinstance(allowed, list) and allowed:  # malformed entries allow nothing
            pairs = tuple(
                (kinds.group_of(_str(k.get("apiVersion"))), _str(k.get("kind")))
                for k in allowed
                if isinstance(k, dict)
            )
        return TemplateFacts(
            name,
            resolve.template_parameter(optemplate),
            resolve.runner_service_account(optemplate, policy.runner_sa_name),
            pairs,
        )

    return view.memoized(
        ("template-facts", name, policy.runner_sa_name),
        derive,
        depends=_OPERATION_TEMPLATES,
    )


@dataclasses.dataclass(slots=True)
class Context:
    """The Operation under review and what the checks so far have resolved."""

    operation: Obj
    namespace: str
    view: clusterview.ClusterView
    policy: model.Policy
    engine: model.Engine | None = None
    optemplate: Obj | None = None
    template: resolve.Resolved | None = None
    facts: TemplateFacts | None = None  # set with `optemplate`
    # `spec` and `spec.parameters`, or {} when absent or malformed (read by most checks).
    spec: Obj = dataclasses.field(init=False)
    parameters: Obj = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.spec = resolve.mapping(self.operation.get("spec"))
        self.parameters = resolve.mapping(self.spec.get("parameters"))

    @property
    def name(self) -> str:
        """The Operation's name."""
        return str(resolve.mapping(self.operation.get("metadata")).get("name") or "")


def q(value: Any) -> str:
    """A value quoted as Kubernetes messages quote it (JSON string)."""
    return orjson.dumps(value).decode() if isinstance(value, str) else str(value)


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _template_name(obj: Obj | None) -> str:
    return str(resolve.mapping((obj or {}).get("metadata")).get("name") or "")


def check_engine(ctx: Context) -> Failure | None:
    """The engine is known to the engine catalog."""
    raw = ctx.spec.get("engine")
    engine = _str(raw)
    found = ctx.policy.engines.get(engine)
    if found is not None:
        ctx.engine = found
        return None
    known = ", ".join(sorted(ctx.policy.engines))
    if raw is not None and raw != "" and not engine:
        return Failure(
            "UnknownEngine",
            422,
            f"spec.engine must be a string naming an engine, got {schemas.show(raw)}; use one of: "
            f"{known}",
            (
                decisions.Cause(
                    "spec.engine", f"Invalid value: {schemas.show(raw)}: must be a string"
                ),
            ),
        )
    if not engine:
        return Failure(
            "UnknownEngine",
            422,
            f"spec.engine is not set and no single OperationTemplate for type "
            f"{q(_str(ctx.spec.get('type')))} lets it be defaulted; set spec.engine to one of: {known}",
            (decisions.Cause("spec.engine", "Required value", "FieldValueRequired"),),
        )
    return Failure(
        "UnknownEngine",
        422,
        f"engine {q(engine)} is not in the engine catalog; use one of: {known}",
        (
            decisions.Cause(
                "spec.engine", f"Unsupported value: {q(engine)}", "FieldValueNotSupported"
            ),
        ),
    )


def check_engine_installed(ctx: Context) -> Failure | None:
    """Every CRD the catalog lists for the engine exists and is Established."""
    if ctx.engine is None or ctx.engine.builtin:
        return None
    engine = ctx.engine
    problems = ctx.view.memoized(
        ("engine-installed", engine.crds),
        lambda: _missing_crds(ctx.view, engine.crds),
        depends=_CRDS,
    )
    if not problems:
        return None
    return Failure(
        "EngineNotInstalled",
        403,
        f"engine {q(ctx.engine.name)} is not installed in this cluster: {'; '.join(problems)}; "
        f"install it (it needs {', '.join(ctx.engine.crds)}) or choose another engine",
        (decisions.Cause("spec.engine", f"engine {q(ctx.engine.name)} is not installed"),),
    )


def _missing_crds(view: clusterview.ClusterView, crds: tuple[str, ...]) -> list[str]:
    problems = []
    for crd in crds:
        state = clusterview.crd_established(view, crd)
        if state is None:
            problems.append(f"CRD {crd} is not installed")
        elif state is False:
            problems.append(f"CRD {crd} is not Established")
    return problems


def check_operation_template(ctx: Context) -> Failure | None:
    """Exactly one OperationTemplate exists for (type, engine)."""
    type_, engine = _str(ctx.spec.get("type")), _str(ctx.spec.get("engine"))
    found = ctx.view.operation_templates(type_, engine)
    if len(found) == 1:
        ctx.optemplate = found[0]
        ctx.facts = template_facts(ctx.view, found[0], ctx.policy)
        return None
    cause = (decisions.Cause("spec.type", f"no single OperationTemplate for {type_}/{engine}"),)
    if not found:
        others = sorted(
            _str(resolve.mapping(t.get("spec")).get("engine"))
            for t in ctx.view.operation_templates(type_)
        )
        hint = f"engines with a template for this type: {', '.join(others)}" if others else ""
        return Failure(
            "OperationTemplateNotFound",
            422,
            f"no OperationTemplate for type {q(type_)} and engine {q(engine)}; "
            + (hint or "ask your platform team to install one, or pick another type"),
            cause,
        )
    names = ", ".join(_template_name(t) for t in found)
    return Failure(
        "OperationTemplateNotFound",
        422,
        f"{len(found)} OperationTemplates match type {q(type_)} and engine {q(engine)} ({names}); "
        "exactly one must, so delete or change all but one",
        cause,
    )


def check_target(ctx: Context) -> Failure | None:
    """targetRef names a kind the template allows and an object in the Operation's namespace."""
    if ctx.facts is None:
        return None
    ref = resolve.mapping(ctx.spec.get("targetRef"))
    api_version, kind, name = (
        _str(ref.get("apiVersion")),
        _str(ref.get("kind")),
        _str(ref.get("name")),
    )
    if not (api_version and kind and name):
        missing = [f"spec.targetRef.{k}" for k in ("apiVersion", "kind", "name") if not ref.get(k)]
        return Failure(
            "TargetNotFound",
            422,
            f"targetRef is incomplete: set {', '.join(missing)}",
            tuple(decisions.Cause(f, "Required value", "FieldValueRequired") for f in missing),
        )
    group = kinds.group_of(api_version)
    pairs = ctx.facts.target_kinds
    if pairs is not None and (group, kind) not in pairs:
        names = ", ".join(f"{k}.{g}" if g else k for g, k in pairs)
        return Failure(
            "TargetNotFound",
            422,
            f"OperationTemplate {ctx.facts.name} does not allow targetRef kind "
            f"{kind} ({api_version}); allowed kinds: {names}",
            (
                decisions.Cause(
                    "spec.targetRef.kind",
                    f"Unsupported value: {q(kind)}",
                    "FieldValueNotSupported",
                ),
            ),
        )
    if ctx.view.get(group, kind, ctx.namespace, name) is None:
        return Failure(
            "TargetNotFound",
            422,
            f"{kind} {q(name)} not found in namespace {ctx.namespace}; targetRef must name an "
            "existing object in the Operation's own namespace",
            (
                decisions.Cause(
                    "spec.targetRef.name", f"Not found: {q(name)}", "FieldValueNotFound"
                ),
            ),
        )
    return None


def input_validator(view: clusterview.ClusterView, optemplate: Obj) -> Any:
    """The compiled validator of a template's inputSchema, once per OperationTemplate revision
    (no per-request schema hashing); raises if the schema cannot be compiled."""

    def compile_schema() -> Any:
        schema = resolve.mapping(optemplate.get("spec")).get("inputSchema")
        meta = resolve.mapping(optemplate.get("metadata"))
        identity = (str(meta.get("uid") or ""), str(meta.get("resourceVersion") or ""))
        return schemas.validator(schema, identity)

    return view.memoized(
        ("inputSchema", _template_name(optemplate)),
        compile_schema,
        depends=_OPERATION_TEMPLATES,
    )


def _parameter_causes(ctx: Context, optemplate: Obj, facts: TemplateFacts) -> list[decisions.Cause]:
    raw = ctx.spec.get("parameters", {})
    if not isinstance(raw, dict):
        return [decisions.Cause("spec.parameters", "Invalid value: must be an object")]
    schema = resolve.mapping(optemplate.get("spec")).get("inputSchema")
    causes: list[decisions.Cause] = []
    if isinstance(schema, dict | bool):
        try:
            checker = input_validator(ctx.view, optemplate)
            causes = schemas.instance_causes(checker, raw, "spec.parameters")
        except Exception as exc:  # a broken schema must deny, never crash admission
            causes = [
                decisions.Cause(
                    "spec.parameters",
                    f"inputSchema of OperationTemplate {facts.name} cannot be "
                    f"evaluated ({type(exc).__name__}); fix the OperationTemplate",
                )
            ]
    if ctx.engine is not None and ctx.engine.name == "workflow":
        param = facts.template_parameter
        if _str(raw.get(param)):
            return causes
        field = schemas.field_path("spec.parameters", [param])
        if all(c.field != field for c in causes):
            causes.append(
                decisions.Cause(
                    field,
                    "Required value: names the WorkflowTemplate to run",
                    "FieldValueRequired",
                )
            )
    return causes


def check_parameters(ctx: Context) -> Failure | None:
    """spec.parameters is valid against the template's inputSchema; the template parameter is set."""
    if ctx.optemplate is None or ctx.facts is None:
        return None
    causes = _parameter_causes(ctx, ctx.optemplate, ctx.facts)
    if not causes:
        return None
    listed = "; ".join(f"{c.field}: {c.message}" for c in causes[:MESSAGE_CAUSES])
    more = f"; and {len(causes) - MESSAGE_CAUSES} more" if len(causes) > MESSAGE_CAUSES else ""
    return Failure(
        "ParametersInvalid",
        422,
        f"spec.parameters does not match the inputSchema of OperationTemplate "
        f"{ctx.facts.name} ({len(causes)} error{'s' if len(causes) > 1 else ''}): "
        f"{listed}{more}",
        tuple(causes),
    )


def _unresolved_message(found: resolve.Unresolved, optemplate: Obj) -> str:
    name, ns = found.name, found.namespace
    tpl = _template_name(optemplate)
    if found.local_exists and not found.namespace_allowed:
        return (
            f"WorkflowTemplate {q(name)} exists in {ns}, but {ns} does not match the "
            f"allowedTemplateNamespaces of OperationTemplate {tpl}"
        )
    if found.cluster_template_exists and not found.cluster_allowed:
        return (
            f"ClusterWorkflowTemplate {q(name)} exists but OperationTemplate {tpl} sets "
            f"allowClusterWorkflowTemplates: false; install it as a WorkflowTemplate in {ns}"
        )
    if found.other_namespaces:
        where = ", ".join(found.other_namespaces)
        return (
            f"WorkflowTemplate {q(name)} exists only in namespace {where}, but Argo resolves "
            f"workflowTemplateRef (clusterScope: false) only in the Workflow's own namespace "
            f"{ns}, so it cannot run from here; install it as a ClusterWorkflowTemplate or as a "
            f"WorkflowTemplate in {ns}"
        )
    return (
        f"no WorkflowTemplate {q(name)} in namespace {ns} and no ClusterWorkflowTemplate {q(name)}; "
        "check the template name in spec.parameters"
    )


def check_workflow_template(ctx: Context) -> Failure | None:
    """The named WorkflowTemplate resolves as Argo will resolve it (workflow engine only)."""
    if ctx.facts is None or ctx.engine is None or ctx.engine.name != "workflow":
        return None
    param = ctx.facts.template_parameter
    name = _str(ctx.parameters.get(param))
    if not name:
        field = schemas.field_path("spec.parameters", [param])
        return Failure(
            "TemplateNotFound",
            422,
            f"{field} does not name a WorkflowTemplate; set it to the template to run",
            (decisions.Cause(field, "Required value", "FieldValueRequired"),),
        )
    # Only the namespace's allowance (globs) is memoized: a key with the requested template
    # name would let anyone creating Operations flood the memo and evict its costly entries.
    optemplate, namespace = ctx.optemplate or {}, ctx.namespace
    allowed_ns = ctx.view.memoized(
        ("template-namespace", ctx.facts.name, namespace),
        lambda: resolve.namespace_allowed(optemplate, namespace),
        depends=_OPERATION_TEMPLATES,
    )
    found = resolve.workflow_template(ctx.view, optemplate, namespace, name, allowed_ns=allowed_ns)
    if isinstance(found, resolve.Resolved):
        ctx.template = found
        return None
    field = schemas.field_path("spec.parameters", [param])
    return Failure(
        "TemplateNotFound",
        422,
        _unresolved_message(found, optemplate),
        (decisions.Cause(field, f"Not found: {q(name)}", "FieldValueNotFound"),),
    )


def check_template_arguments(ctx: Context) -> Failure | None:
    """Every parameter the WorkflowTemplate declares without a default gets a value."""
    if ctx.template is None:
        return None
    template = ctx.template
    meta = resolve.mapping(template.obj.get("metadata"))
    required = ctx.view.memoized(
        ("required-parameters", template.cluster_scope, meta.get("namespace"), template.name),
        lambda: resolve.required_parameters(template.obj),
        depends=TEMPLATE_KINDS,
    )
    given = ctx.parameters
    missing = [
        name
        for name in required
        if given.get(name) is None and name not in ("targetName", "targetNamespace")
    ]
    if not missing:
        return None
    kind = "ClusterWorkflowTemplate" if ctx.template.cluster_scope else "WorkflowTemplate"
    return Failure(
        "TemplateArgumentMissing",
        422,
        f"{kind} {ctx.template.name} declares parameters without a default that the Operation "
        f"does not set: {', '.join(missing)}; add them to spec.parameters",
        tuple(
            decisions.Cause(
                schemas.field_path("spec.parameters", [m]), "Required value", "FieldValueRequired"
            )
            for m in missing
        ),
    )


def _runner_bindings(view: clusterview.ClusterView, ns: str, name: str) -> list[tuple[str, Obj]]:
    """Bindings that reach the SA: naming it, its username, or its SA groups; with the route.

    Kubernetes' own bootstrap bindings (every cluster has them) are not counted; broader groups
    such as system:authenticated are left to the RBAC findings.
    """
    routes = [
        ("it", ("ServiceAccount", ns, name)),
        ("it", ("User", "", f"system:serviceaccount:{ns}:{name}")),
        (f"its group system:serviceaccounts:{ns}", ("Group", "", f"system:serviceaccounts:{ns}")),
        ("its group system:serviceaccounts", ("Group", "", "system:serviceaccounts")),
    ]
    found = []
    for via, subject in routes:
        for binding in view.bindings_for_subject(subject):
            labels = resolve.mapping(resolve.mapping(binding.get("metadata")).get("labels"))
            if labels.get(rbac_builtins.BOOTSTRAP_LABEL[0]) != rbac_builtins.BOOTSTRAP_LABEL[1]:
                found.append((via, binding))
    return found


def _binding_text(binding: Obj, via: str) -> str:
    meta = resolve.mapping(binding.get("metadata"))
    role = resolve.mapping(binding.get("roleRef"))
    role_name = f"{role.get('kind')} {role.get('name')}"
    if binding.get("kind") == "ClusterRoleBinding":
        return f"ClusterRoleBinding {meta.get('name')} ({role_name}) binds {via} cluster-wide"
    where = meta.get("namespace")
    return f"RoleBinding {where}/{meta.get('name')} ({role_name}) binds {via} in namespace {where}"


def check_service_account(ctx: Context) -> Failure | None:
    """The runner SA exists here, is not the operator's, is bound only here, holds no high risk."""
    if ctx.facts is None:
        return None
    name = ctx.facts.runner
    ns = ctx.namespace
    sa = f"ServiceAccount {ns}/{name}"
    operator = ctx.policy.operator_sa
    if (ns, name) == (operator.namespace, operator.name):
        return Failure(
            "ServiceAccountNotAllowed",
            403,
            f"{sa} is the operator's own ServiceAccount and may never run a Workflow; "
            "use a least-privileged runner",
        )
    # The rest depends only on the SA and RBAC: judged once per change of those kinds.
    return ctx.view.memoized(
        ("runner-sa", ns, name),
        lambda: _judge_runner(ctx.view, ns, name),
        depends=_RUNNER_KINDS,
    )


def _judge_runner(view: clusterview.ClusterView, ns: str, name: str) -> Failure | None:
    sa = f"ServiceAccount {ns}/{name}"
    if view.get("", "ServiceAccount", ns, name) is None:
        return Failure(
            "ServiceAccountNotAllowed",
            403,
            f"runner {sa} does not exist; create it with a Role scoped to {ns} "
            "(see deploy/runner/)",
        )
    wide = [
        _binding_text(binding, via)
        for via, binding in _runner_bindings(view, ns, name)
        if binding.get("kind") == "ClusterRoleBinding"
        or resolve.mapping(binding.get("metadata")).get("namespace") != ns
    ]
    if wide:
        return Failure(
            "ServiceAccountNotAllowed",
            403,
            f"runner {sa} must be bound only in {ns}: {'; '.join(wide)}; remove those bindings",
        )
    subject = ("ServiceAccount", ns, name)
    risky = findings.at_least(findings.for_subject(view, subject), "high")
    if risky:
        listed = "; ".join(f"{f.id} ({f.severity}) {f.message}" for f in risky[:3])
        more = f"; and {len(risky) - 3} more" if len(risky) > 3 else ""
        return Failure(
            "ServiceAccountNotAllowed",
            403,
            f"runner {sa} is not least-privileged: {listed}{more}; see "
            f"`opgate review-rbac permissions ServiceAccount/{ns}/{name}`",
        )
    return None


Check = Callable[[Context], Failure | None]

# DESIGN's table, in order: the first failing enforced check decides.
ORDER: tuple[tuple[str, Check], ...] = (
    ("UnknownEngine", check_engine),
    ("EngineNotInstalled", check_engine_installed),
    ("OperationTemplateNotFound", check_operation_template),
    ("TargetNotFound", check_target),
    ("ParametersInvalid", check_parameters),
    ("TemplateNotFound", check_workflow_template),
    ("TemplateArgumentMissing", check_template_arguments),
    ("ServiceAccountNotAllowed", check_service_account),
)
