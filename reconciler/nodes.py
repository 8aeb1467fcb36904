"""Argo node statuses, read as the status mapping needs them.

Definitions, on real Argo node statuses (`status.nodes`, a map of id -> NodeStatus):

- *Step nodes* are the nodes that do work: types Pod, Container, Suspend, HTTP and Plugin.
  Structural nodes (DAG, Steps, StepGroup, TaskGroup, Retry) and Skipped nodes never count.
- *Most recently started running node* (`active_node`): the step node in phase Running with the
  latest `startedAt` (ties broken by node id); when no step node is Running, the latest-started
  step node in phase Pending. Shown by its `displayName` (else `name`, else id). A step with a
  retryStrategy runs as attempts named `<task>(<n>)`, and the running attempt is what is shown.
- *First failing node* (`first_failure`): the step node in phase Failed or Error with the
  earliest `finishedAt` (else `startedAt`; nodes with neither come last; ties by id), ignoring
  failures that did not fail the run: the attempts of a Retry node that went on to succeed and
  everything that ran inside them, and step nodes inside (by `boundaryID`, the DAG or Steps
  node they ran in) a node that Succeeded, as with `continueOn`. Omitted and Skipped nodes never count.
  Shown as `<displayName>: <message>` (the node's phase when it has no message).
- *Suspended* (`is_suspended`) is Argo's IsWorkflowSuspended: `spec.suspend: true`, or any node
  of type Suspend in phase Running.

Every function takes any JSON (timestamps as RFC3339 text or datetimes) and never raises.
"""

from __future__ import annotations

import datetime
from typing import Any

Obj = dict[str, Any]

# Node phases the definitions use (argo-workflows NodePhase).
PENDING, RUNNING, SUCCEEDED, FAILED, ERROR = "Pending", "Running", "Succeeded", "Failed", "Error"
# Node types that do work (argo-workflows NodeType); everything else is structure.
STEP_NODE_TYPES = frozenset({"Pod", "Container", "Suspend", "HTTP", "Plugin"})


def _dict(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def parse_time(value: Any) -> datetime.datetime | None:
    """An Argo timestamp (RFC3339 text, or a datetime from a YAML loader) as aware UTC; else None."""
    if isinstance(value, datetime.datetime):
        moment = value
    elif isinstance(value, str) and value:
        try:
            moment = datetime.datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    try:
        return moment.astimezone(datetime.UTC)
    except (OverflowError, ValueError):
        return None


def items(workflow: Obj) -> list[tuple[str, Obj]]:
    """The (id, node) pairs of a Workflow's `status.nodes`, sorted by id (dict nodes only)."""
    nodes = _dict(_dict(workflow.get("status")).get("nodes"))
    pairs = ((str(k), v) for k, v in nodes.items() if isinstance(v, dict))
    return sorted(pairs, key=lambda pair: pair[0])


def node_name(node_id: str, node: Obj) -> str:
    """How a node is shown: its displayName, else its name, else its id."""
    return _text(node.get("displayName")) or _text(node.get("name")) or node_id


def _is_step(node: Obj) -> bool:
    type_ = node.get("type")
    return isinstance(type_, str) and type_ in STEP_NODE_TYPES


def active_node(workflow: Obj) -> str | None:
    """The displayName of the most recently started running step node (see module doc)."""
    for phase in (RUNNING, PENDING):
        found = [(i, n) for i, n in items(workflow) if _is_step(n) and n.get("phase") == phase]
        if found:
            node_id, node = max(
                found, key=lambda item: (_sort_time(item[1].get("startedAt"), early=True), item[0])
            )
            return node_name(node_id, node)
    return None


def _sort_time(value: Any, *, early: bool) -> tuple[int, float]:
    moment = parse_time(value)
    if moment is None:
        return (0, 0.0) if early else (1, 0.0)
    return (1, moment.timestamp()) if early else (0, moment.timestamp())


def _children(node: Obj) -> list[str]:
    children = node.get("children")
    return [c for c in children if isinstance(c, str)] if isinstance(children, list) else []


def _tolerated(workflow: Obj) -> set[str]:
    """Ids of nodes whose failure did not fail the run (see module doc).

    `children` links DAG tasks to their dependents, so containment is read from `boundaryID`:
    a node is inside every node up its boundary chain.
    """
    by_id = dict(items(workflow))
    retried = {
        c
        for node in by_id.values()
        if node.get("type") == "Retry" and node.get("phase") == SUCCEEDED
        for c in _children(node)
    }
    out: set[str] = set()
    for node_id in by_id:
        here, seen = node_id, set()
        while isinstance(here, str) and here in by_id and here not in seen:
            seen.add(here)
            if here in retried or (here != node_id and by_id[here].get("phase") == SUCCEEDED):
                out.add(node_id)
                break
            here = by_id[here].get("boundaryID")
    return out


def first_failure(workflow: Obj) -> str | None:
    """`<displayName>: <message>` of the first failing step node (see module doc), or None."""
    tolerated = _tolerated(workflow)
    found = [
        (i, n)
        for i, n in items(workflow)
        if _is_step(n) and n.get("phase") in (FAILED, ERROR) and i not in tolerated
    ]
    if not found:
        return None

    def when(item: tuple[str, Obj]) -> tuple[tuple[int, float], str]:
        node = item[1]
        stamp = node.get("finishedAt") if parse_time(node.get("finishedAt")) else None
        return (_sort_time(stamp or node.get("startedAt"), early=False), item[0])

    node_id, node = min(found, key=when)
    detail = _text(node.get("message")).strip() or _text(node.get("phase"))
    return f"{node_name(node_id, node)}: {detail}"


def is_suspended(workflow: Obj) -> bool:
    """Argo's IsWorkflowSuspended: `spec.suspend` is true or a Suspend node is Running."""
    if _dict(workflow.get("spec")).get("suspend") is True:
        return True
    return any(n.get("type") == "Suspend" and n.get("phase") == RUNNING for _, n in items(workflow))


def running_suspend_node(workflow: Obj) -> str | None:
    """The displayName of a Suspend node in phase Running (the first by id), or None."""
    for node_id, node in items(workflow):
        if node.get("type") == "Suspend" and node.get("phase") == RUNNING:
            return node_name(node_id, node)
    return None
