"""`opgate decide`: offline admission decisions for manifests against a cluster state.

Read (cluster state, policy, manifests) -> run (the same handlers the server uses) -> print.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import sys
from typing import Any

import orjson

from policies import loader, model
from sim import patches
from webhooks import clusterview, decisions, handler, kinds, manifests, review

Obj = dict[str, Any]
# Where kubectl puts a namespaced manifest that names no namespace.
DEFAULT_NAMESPACE = "default"
# The kinds `decide` judges, and the webhook path each goes through (mutating first).
PATHS: dict[tuple[str, str], tuple[str, ...]] = {
    kinds.OPERATION.key: ("/mutate/operations", "/validate/operations"),
    kinds.OPERATION_TEMPLATE.key: ("/validate/operationtemplates",),
    kinds.WORKFLOW.key: ("/validate/workflows",),
}


@dataclasses.dataclass(frozen=True, slots=True)
class Result:
    """One judged manifest: what it is and the decision."""

    kind: str
    namespace: str
    name: str
    operation: str
    decision: decisions.Decision

    def to_json(self) -> Obj:
        """The documented JSON keys: kind, namespace, name, allowed, reason, code, message, ..."""
        d = self.decision
        return {
            "kind": self.kind,
            "namespace": self.namespace or None,
            "name": self.name,
            "operation": self.operation,
            "allowed": d.allowed,
            "reason": d.reason or None,
            "code": d.code,
            "message": d.message or None,
            "warnings": list(d.warnings),
            "patch": [dict(op) for op in d.patch] or None,
            "causes": [c.to_json() for c in d.causes],
        }


def judge(
    obj: Obj, view: clusterview.ClusterIndex, policy: model.Policy, *, username: str = ""
) -> Result:
    """The admission decision for one manifest, as `kubectl apply` of it would get.

    An object already in the view is judged as an UPDATE of it, the manifest merged onto the
    stored object (so re-applying an unchanged manifest changes nothing). Mutating webhooks run
    first and the validating ones judge the patched object; an admitted object joins the view.
    """
    group, kind = kinds.key_of(obj)
    current = copy.deepcopy(obj)
    meta = current["metadata"]
    if kinds.is_namespaced(group, kind) and not meta.get("namespace"):
        meta["namespace"] = DEFAULT_NAMESPACE
    ns, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
    old = view.get(group, kind, ns, name)
    operation = "UPDATE" if old is not None else "CREATE"
    if old is not None:  # as `kubectl apply`: the manifest is merged onto the stored object
        current = patches.merge(copy.deepcopy(old), current)
    patch: list[Obj] = []
    warnings: list[str] = []
    decision = decisions.allowed()
    for path in PATHS[(group, kind)]:
        request = review.request_review(current, operation=operation, old=old, username=username)
        decision = handler.handle(path, request, view, policy)
        warnings.extend(decision.warnings)
        if not decision.allowed:
            break
        if decision.patch:
            patch.extend(decision.patch)
            current = patches.json_patch(current, list(decision.patch))
    decision = dataclasses.replace(
        decision, warnings=tuple(warnings), patch=tuple(patch) if decision.allowed else ()
    )
    if decision.allowed:
        view.upsert(current)
    return Result(kind, ns, name, operation, decision)


def render_table(results: list[Result]) -> str:
    """A readable table: one row per object, then its message, causes, warnings and patch."""
    rows = [("KIND", "NAMESPACE", "NAME", "OP", "DECISION", "REASON")]
    for r in results:
        verdict = "allowed" if r.decision.allowed else f"denied ({r.decision.code})"
        rows.append(
            (r.kind, r.namespace or "-", r.name, r.operation, verdict, r.decision.reason or "-")
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for i, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            continue
        d = results[i - 1].decision
        if d.message:
            lines.append(f"    message: {d.message}")
        for c in d.causes:
            lines.append(f"    cause:   {c.field}: {c.message}")
        for w in d.warnings:
            lines.append(f"    warning: {w}")
        for op in d.patch:
            value = orjson.dumps(op.get("value")).decode() if "value" in op else ""
            lines.append(f"    patch:   {op['op']} {op['path']} {value}".rstrip())
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Judge every Operation, OperationTemplate and Workflow in the manifests; print; exit 0/1/2."""
    policy = loader.load_policy(args.policy)
    view = clusterview.ClusterIndex(manifests.load(args.cluster_state))
    objects = manifests.load(args.manifests)
    judged = [o for o in objects if kinds.key_of(o) in PATHS]
    if not judged:
        print(
            "opgate decide: error: no Operation, OperationTemplate or Workflow in "
            + ", ".join(args.manifests),
            file=sys.stderr,
        )
        return 2
    results = [judge(o, view, policy, username=args.as_user) for o in judged]
    if args.output == "json":
        sys.stdout.write(
            orjson.dumps([r.to_json() for r in results], option=orjson.OPT_INDENT_2).decode() + "\n"
        )
    else:
        print(render_table(results))
        skipped = len(objects) - len(judged)
        if skipped:
            print(f"({skipped} object(s) of other kinds skipped)", file=sys.stderr)
    return 0 if all(r.decision.allowed for r in results) else 1


def register(subparsers: Any) -> None:
    """Add `opgate decide` to the CLI."""
    p = subparsers.add_parser(
        "decide",
        help="offline admission decisions for manifests against a cluster state",
        description=(
            "Judge each Operation, OperationTemplate and Workflow in MANIFEST as the admission "
            "webhooks would, against a cluster state read from manifests (no cluster needed). "
            "Objects already in the cluster state are judged as UPDATEs; admitted objects join "
            "the state for the manifests after them. Exit code: 0 all allowed, 1 any denied, "
            "2 usage or input error."
        ),
    )
    p.add_argument(
        "--cluster-state",
        action="append",
        required=True,
        metavar="PATH",
        help="manifest file or directory describing the cluster (repeatable)",
    )
    p.add_argument("--policy", metavar="FILE", help="policy file (default: the embedded policy)")
    p.add_argument(
        "--output", "-o", choices=("table", "json"), default="table", help="output format"
    )
    p.add_argument(
        "--as",
        dest="as_user",
        default="",
        metavar="USER",
        help="username to send in userInfo (matters for Workflows)",
    )
    p.add_argument(
        "manifests", nargs="+", metavar="MANIFEST", help="file, directory or - for stdin"
    )
    p.set_defaults(func=run)
