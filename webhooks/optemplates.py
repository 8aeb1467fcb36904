"""Admission decision for OperationTemplates: the inputSchema must be a valid JSON Schema."""

from __future__ import annotations

from typing import Any

import jsonschema

from policies import model
from webhooks import clusterview, decisions, resolve, review, schemas

Obj = dict[str, Any]


def _advice(spec: Obj, policy: model.Policy) -> list[str]:
    """Advisory findings that do not block: unknown engine, unusable defaults."""
    out = []
    engine = spec.get("engine")
    if isinstance(engine, str) and engine not in policy.engines:
        out.append(
            f"engine {engine!r} is not in the engine catalog; Operations using it are denied"
        )
    schema = spec.get("inputSchema")
    defaults = spec.get("defaults")
    if isinstance(schema, dict) and isinstance(defaults, dict) and defaults:
        try:
            checker = jsonschema.Draft202012Validator(schema, registry=schemas.REGISTRY)
            props = set((schema.get("properties") or {}).keys())
            bad = [k for k in defaults if props and k not in props]
            for key, value in defaults.items():
                sub = (schema.get("properties") or {}).get(key)
                if isinstance(sub, dict | bool) and not checker.evolve(schema=sub).is_valid(value):
                    bad.append(key)
        except Exception:  # advisory only; the schema itself was already checked
            bad = []
        if bad:
            out.append(f"defaults {', '.join(sorted(set(bad)))} do not match spec.inputSchema")
    return out


def validate_operation_template(
    request: review.AdmissionRequest, view: clusterview.ClusterView, policy: model.Policy
) -> decisions.Decision:
    """OperationTemplate CREATE/UPDATE: deny `InvalidInputSchema` unless the schema is valid."""
    del view
    if request.operation not in ("CREATE", "UPDATE") or request.sub_resource:
        return decisions.allowed()
    obj = request.object if isinstance(request.object, dict) else {}
    spec = resolve.mapping(obj.get("spec"))
    schema = spec.get("inputSchema")
    if schema is None:
        return decisions.allowed(warnings=_advice(spec, policy))
    if isinstance(schema, dict):
        causes = schemas.schema_causes(schema, "spec.inputSchema")
    else:
        causes = [decisions.Cause("spec.inputSchema", "Invalid value: must be an object")]
    mode = policy.mode("InvalidInputSchema")
    if not causes or mode == "off":
        return decisions.allowed(warnings=_advice(spec, policy))
    listed = "; ".join(f"{c.field}: {c.message}" for c in causes[:5])
    message = (
        f"InvalidInputSchema: spec.inputSchema is not a valid JSON Schema (2020-12): {listed}; "
        "fix the schema so Operations can be validated against it"
    )
    if mode == "warn":
        return decisions.allowed(warnings=[message])
    return decisions.denied("InvalidInputSchema", 422, message, causes=causes)
