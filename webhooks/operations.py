"""Admission decisions for Operations: validate (DESIGN's checks in order) and mutate (defaults)."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, Literal

from policies import model
from webhooks import checks, clusterview, decisions, errors, resolve, review, schemas

Obj = dict[str, Any]
Outcome = Literal["pass", "fail", "warn", "off", "not-applicable"]
# Changed fields listed in a FieldImmutable denial; causes list them all.
MAX_DIFF_PATHS = 50


@dataclasses.dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's outcome for `opgate simulate --explain` and the decision it led to."""

    check: str
    outcome: Outcome
    mode: model.Mode
    failure: checks.Failure | None = None


def _failure_text(failure: checks.Failure) -> str:
    """A warning for a failure in `warn` mode: the reason and message when they fit in a
    warning (120 characters), else the reason and the first field error, field first."""
    text = f"{failure.reason}: {failure.message}"
    if len(text) <= decisions.MAX_WARNING or not failure.causes:
        return text
    first = failure.causes[0]
    more = f" (and {len(failure.causes) - 1} more)" if len(failure.causes) > 1 else ""
    return f"{failure.reason}: {first.field}: {first.message}{more}"


def run_checks(
    operation: Obj,
    namespace: str,
    view: clusterview.ClusterView,
    policy: model.Policy,
    *,
    passes: bool = True,
) -> list[CheckResult]:
    """Every check in order with its outcome; stops after the first enforced failure.

    A check in mode `off` still runs (later checks need what it resolves); its failure is ignored.
    With `passes=False` only the failed checks are listed: all that `decide` reads.
    """
    ctx = checks.Context(operation, namespace, view, policy)
    results: list[CheckResult] = []
    for reason, check in checks.ORDER:
        failure = check(ctx)
        if failure is None:
            if passes:
                outcome: Outcome = "pass" if _applicable(reason, ctx) else "not-applicable"
                results.append(CheckResult(reason, outcome, policy.mode(reason)))
            continue
        mode = policy.mode(reason)
        if mode == "off":
            results.append(CheckResult(reason, "off", mode, failure))
        elif mode == "warn":
            results.append(CheckResult(reason, "warn", mode, failure))
        else:
            results.append(CheckResult(reason, "fail", mode, failure))
            break
    return results


def _applicable(reason: str, ctx: checks.Context) -> bool:
    if reason in ("UnknownEngine", "OperationTemplateNotFound"):
        return True
    if reason == "EngineNotInstalled":
        return ctx.engine is not None and not ctx.engine.builtin
    if reason in ("TemplateNotFound", "TemplateArgumentMissing"):
        return ctx.template is not None
    return ctx.optemplate is not None


def decide(results: list[CheckResult]) -> decisions.Decision:
    """The decision the check results lead to: a denial for an enforced failure, else allowed."""
    warnings = [_failure_text(r.failure) for r in results if r.outcome == "warn" and r.failure]
    last = results[-1] if results else None
    if last is not None and last.outcome == "fail" and last.failure is not None:
        f = last.failure
        return decisions.denied(f.reason, f.code, f.message, causes=f.causes, warnings=warnings)
    return decisions.allowed(warnings=warnings)


def _diff(old: Any, new: Any, parts: list[Any], out: list[tuple[str, Any]]) -> None:
    """(field path, new value) of every leaf that differs; an absent value is None."""
    if len(out) >= MAX_DIFF_PATHS:
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            if old.get(key, _MISSING) != new.get(key, _MISSING):
                _diff(old.get(key), new.get(key), [*parts, key], out)
        return
    if old != new:
        out.append((schemas.field_path("spec", parts), new))


_MISSING = object()


def immutability(old: Obj, new: Obj, name: str) -> checks.Failure | None:
    """The FieldImmutable failure of an UPDATE from `old` to `new`; None when spec is unchanged."""
    changed: list[tuple[str, Any]] = []
    _diff(old.get("spec"), new.get("spec"), [], changed)
    if not changed:
        return None
    return checks.Failure(
        "FieldImmutable",
        422,
        f"spec of Operation {name} is immutable once created (changed: "
        f"{', '.join(path for path, _ in changed)}); create a new Operation instead",
        tuple(
            decisions.Cause(path, f"Invalid value: {schemas.show(value)}: field is immutable")
            for path, value in changed
        ),
    )


def _immutable(request: review.AdmissionRequest, policy: model.Policy) -> decisions.Decision:
    failure = immutability(request.old_object or {}, request.object or {}, request.name)
    mode = policy.mode("FieldImmutable")
    if failure is None or mode == "off":
        return decisions.allowed()
    if mode == "warn":
        return decisions.allowed(warnings=[_failure_text(failure)])
    return decisions.denied(failure.reason, failure.code, failure.message, causes=failure.causes)


def validate_operation(
    request: review.AdmissionRequest, view: clusterview.ClusterView, policy: model.Policy
) -> decisions.Decision:
    """The validating decision for an Operation CREATE/UPDATE (DELETE and subresources pass).

    An UPDATE that leaves `spec` alone (status, labels, finalizers) is admitted without the
    checks, so it never depends on the cluster still holding the template. An UPDATE that
    changes `spec` runs DESIGN's checks in order on the new object, then FieldImmutable.
    """
    if request.operation not in ("CREATE", "UPDATE") or request.sub_resource:
        return decisions.allowed()
    operation = request.object if isinstance(request.object, dict) else {}
    if request.operation == "UPDATE":
        if not isinstance(request.old_object, dict):
            raise errors.MalformedReview("request.oldObject is required for an UPDATE")
        if request.old_object.get("spec") == operation.get("spec"):
            return decisions.allowed()
    decision = decide(run_checks(operation, request.namespace, view, policy, passes=False))
    if request.operation == "UPDATE" and decision.allowed:
        return decisions.with_warnings(_immutable(request, policy), decision.warnings)
    return decision


def _pointer(*parts: str) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def mutate_operation(
    request: review.AdmissionRequest, view: clusterview.ClusterView, policy: model.Policy
) -> decisions.Decision:
    """The mutating decision on CREATE: default spec.engine, fill absent parameters from defaults."""
    del policy  # defaults come from the OperationTemplate, not from policy
    obj = request.object
    if request.operation != "CREATE" or not isinstance(obj, dict):
        return decisions.allowed()
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return decisions.allowed()
    patch: list[dict[str, Any]] = []
    type_ = str(spec["type"]) if isinstance(spec.get("type"), str) else ""
    engine: Any = spec.get("engine")
    if engine is None or engine == "":
        candidates = view.operation_templates(type_)
        if len(candidates) != 1:
            return decisions.allowed()
        engine = resolve.mapping(candidates[0].get("spec")).get("engine")
        if not isinstance(engine, str) or not engine:
            return decisions.allowed()
        op = "replace" if "engine" in spec else "add"
        patch.append({"op": op, "path": "/spec/engine", "value": engine})
    if not isinstance(engine, str):
        return decisions.allowed()  # a malformed engine is validation's to report
    optemplate = resolve.operation_template(view, type_, engine)
    defaults = resolve.mapping(resolve.mapping((optemplate or {}).get("spec")).get("defaults"))
    params = spec.get("parameters")
    if defaults and params is None and "parameters" not in spec:
        patch.append({"op": "add", "path": "/spec/parameters", "value": copy.deepcopy(defaults)})
    elif defaults and isinstance(params, dict):
        for key in sorted(defaults):
            if key not in params:
                patch.append(
                    {
                        "op": "add",
                        "path": _pointer("spec", "parameters", key),
                        "value": copy.deepcopy(defaults[key]),
                    }
                )
    return decisions.patched(patch)
