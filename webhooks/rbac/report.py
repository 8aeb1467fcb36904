"""Printers: findings, who-can answers and effective rules as a table, JSON or SARIF 2.1.0."""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
from collections.abc import Sequence
from typing import Any

from webhooks.rbac import authorizer, catalogue, findings, inputs, roles, subjects

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_URI = "https://github.com/vworkspace/opgate"
# SARIF result level per severity: code scanning shows error/warning/note.
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
# GitHub code scanning's security-severity score bands (critical >= 9.0, high >= 7.0, ...).
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain text table with aligned columns (the last column is not padded)."""
    if not rows:
        return ""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers) - 1)]
    lines = []
    for row in [headers, *rows]:
        cells = [str(c).ljust(w) for c, w in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, str(row[-1])]).rstrip())
    return "\n".join(lines) + "\n"


def findings_table(found: Sequence[findings.Finding]) -> str:
    """Findings as a table, or a line saying there are none."""
    if not found:
        return "no findings\n"
    rows = [
        (
            f.severity.upper(),
            f.id,
            subjects.text(f.subject) if f.subject else "-",
            str(f.role),
            f.scope,
            f.message,
        )
        for f in found
    ]
    counts = ", ".join(
        f"{sum(1 for f in found if f.severity == s)} {s}"
        for s in reversed(catalogue.SEVERITIES)
        if any(f.severity == s for f in found)
    )
    headers = ("SEVERITY", "ID", "SUBJECT", "ROLE", "SCOPE", "MESSAGE")
    return table(headers, rows) + f"\n{len(found)} findings: {counts}\n"


def findings_json(found: Sequence[findings.Finding]) -> str:
    """Findings as a JSON list of {id, severity, subject, role, scope, message}."""
    return json.dumps([f.to_json() for f in found], indent=2) + "\n"


def artifact_uri(file: str, root: str | None = None) -> str:
    """A SARIF artifact URI: relative to `root` (default: the working directory, which code
    scanning runs from) when the file lies below it, else the path as given."""
    path = pathlib.Path(file)
    base = pathlib.Path(root or os.getcwd())
    if path.is_absolute():
        with contextlib.suppress(ValueError):
            path = path.relative_to(base)
    return path.as_posix()


def _location(where: inputs.Location) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": artifact_uri(where.file)}}
    if where.line:
        physical["region"] = {"startLine": where.line}
    return {"physicalLocation": physical}


def sarif(
    found: Sequence[findings.Finding],
    cat: catalogue.Catalogue,
    locations: dict[roles.Ref, inputs.Location],
) -> str:
    """Findings as a SARIF 2.1.0 log: one rule per catalogue id, one result per finding.

    A result points at the binding's manifest (else the role's) where the input was a file;
    findings from a live cluster carry logical locations only.
    """
    index = {rule.id: i for i, rule in enumerate(cat.rules)}
    rules = [
        {
            "id": rule.id,
            "name": "".join(c for c in rule.title.title() if c.isalnum()),
            "shortDescription": {"text": rule.title},
            "fullDescription": {"text": rule.help or rule.title},
            "help": {"text": rule.help or rule.title},
            "defaultConfiguration": {"level": LEVELS[rule.cluster_severity]},
            "properties": {
                "security-severity": SECURITY_SEVERITY[rule.cluster_severity],
                "tags": ["security", "rbac", "kubernetes"],
            },
        }
        for rule in cat.rules
    ]
    results = []
    for f in found:
        result: dict[str, Any] = {
            "ruleId": f.id,
            "ruleIndex": index[f.id],
            "level": LEVELS[f.severity],
            "message": {"text": f.message},
            "properties": {**f.to_json(), "security-severity": SECURITY_SEVERITY[f.severity]},
            "partialFingerprints": {
                "opgateFinding/v1": "|".join(
                    [f.id, subjects.text(f.subject) if f.subject else "-", str(f.role), f.scope]
                )
            },
        }
        primary = [r for r in (f.binding, f.role) if r is not None and r in locations]
        if primary:
            result["locations"] = [_location(locations[primary[0]])]
            related = [
                {**_location(locations[r]), "id": i, "message": {"text": str(r)}}
                for i, r in enumerate(primary[1:], start=1)
            ]
            if related:
                result["relatedLocations"] = related
        logical = [
            {"fullyQualifiedName": str(r), "kind": "resource"} for r in (f.binding, f.role) if r
        ]
        result.setdefault("locations", [{}])[0]["logicalLocations"] = logical
        results.append(result)
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "opgate-review-rbac",
                        "informationUri": TOOL_URI,
                        "version": "0.1.0",
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"


def _grant_json(grant: authorizer.Grant) -> dict[str, Any]:
    return {
        "subject": subjects.text(grant.subject) if grant.subject else None,
        "binding": str(grant.binding) if grant.binding else None,
        "role": str(grant.role),
        "scope": grant.scope,
        "rule": grant.rule.to_obj(),
    }


def who_can_table(access: Sequence[authorizer.Access]) -> str:
    """who-can answers as a table, or a line saying nobody may."""
    if not access:
        return "no subject in the input may do this\n"
    rows = [
        (subjects.text(a.subject), str(a.grant.binding), str(a.grant.role), a.grant.scope)
        for a in access
    ]
    return table(("SUBJECT", "BINDING", "ROLE", "SCOPE"), rows)


def who_can_json(access: Sequence[authorizer.Access]) -> str:
    """who-can answers as a JSON list of {subject, binding, role, scope, rule}."""
    return json.dumps([_grant_json(a.grant) for a in access], indent=2) + "\n"


def permissions_table(grants: Sequence[authorizer.Grant]) -> str:
    """Effective rules as a table: rule, role, binding, subject it reaches through, scope."""
    if not grants:
        return "no rules: nothing in the input binds this subject\n"
    rows = [
        (
            grant.scope,
            str(grant.rule),
            str(grant.role),
            str(grant.binding),
            subjects.text(grant.subject) if grant.subject else "-",
        )
        for grant in grants
    ]
    return table(("SCOPE", "RULE", "ROLE", "BINDING", "VIA"), rows)


def permissions_json(
    subject: authorizer.Subject,
    grants: Sequence[authorizer.Grant],
    found: Sequence[findings.Finding],
) -> str:
    """Effective rules and findings of one subject as a JSON object."""
    body = {
        "subject": subjects.text(subject),
        "rules": [_grant_json(g) for g in grants],
        "findings": [f.to_json() for f in found],
    }
    return json.dumps(body, indent=2) + "\n"
