"""Argo node vocabulary: phases, types, ids, names, timestamps and progress, as Argo forms them.

Node ids are `<workflow>-<FNV-32a of the node name>` (argo-workflows `Workflow.NodeID`), except
the entry node whose id is the workflow name. Names are `<wf>` for the entry node,
`<parent>.<task>` inside a DAG and `<parent>[<group>].<step>` inside steps; retries are
`<name>(<attempt>)`.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

Node = dict[str, Any]
Nodes = dict[str, Node]

# Node phases (argo-workflows NodePhase).
PENDING = "Pending"
RUNNING = "Running"
SUCCEEDED = "Succeeded"
SKIPPED = "Skipped"
FAILED = "Failed"
ERROR = "Error"
OMITTED = "Omitted"

# Node types (argo-workflows NodeType).
POD = "Pod"
STEPS = "Steps"
STEP_GROUP = "StepGroup"
DAG = "DAG"
RETRY = "Retry"
SKIPPED_TYPE = "Skipped"
SUSPEND = "Suspend"

# Types whose progress is counted directly (workflow/progress `executable`).
# A tuple: membership of a malformed (maybe unhashable) node type must not raise.
EXECUTABLE = (POD, SUSPEND, "Container", "HTTP", "Plugin")

# FNV-1a 32-bit parameters (Go's hash/fnv New32a).
_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193


def fnv32a(text: str) -> int:
    """FNV-1a 32-bit hash of the UTF-8 bytes of `text`."""
    h = _FNV_OFFSET
    for byte in text.encode("utf-8"):
        h = ((h ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return h


@functools.lru_cache(maxsize=1 << 16)
def node_id(workflow_name: str, node_name: str) -> str:
    """The id Argo gives the node called `node_name` in workflow `workflow_name`."""
    if node_name == workflow_name:
        return workflow_name
    return f"{workflow_name}-{fnv32a(node_name)}"


def completed(phase: str) -> bool:
    """Succeeded, Failed or Error (Skipped is not 'completed' in Argo's vocabulary)."""
    return phase in (SUCCEEDED, FAILED, ERROR)


def fulfilled(phase: str) -> bool:
    """Completed, Skipped or Omitted: the node will not change any more."""
    return completed(phase) or phase in (SKIPPED, OMITTED)


def failed_or_error(phase: str) -> bool:
    """Failed or Error."""
    return phase in (FAILED, ERROR)


def is_active_suspend(node: Node) -> bool:
    """A Suspend node still waiting (argo-workflows `IsActiveSuspendNode`)."""
    return node.get("type") == SUSPEND and node.get("phase") == RUNNING


def timestamp(when: dt.datetime) -> str:
    """RFC 3339 in UTC with seconds, as Kubernetes metav1.Time serializes."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | None) -> dt.datetime | None:
    """The datetime of an RFC 3339 timestamp, or None."""
    if not text:
        return None
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def display_name(node_name: str, boundary_name: str | None) -> str:
    """The name shown for a node: its name with the boundary's prefix and separator removed."""
    if boundary_name is None or not node_name.startswith(boundary_name):
        return node_name
    rest = node_name[len(boundary_name) :]
    if rest.startswith("."):
        return rest[1:]
    if rest.startswith("["):
        close = rest.find("]")
        if close > 0 and rest[close + 1 : close + 2] == ".":
            return rest[close + 2 :]
    return rest


def progress(nodes: Nodes) -> str:
    """`done/total` over executable nodes, filling in each node's own progress (Argo's rules)."""
    done = total = 0
    for node in nodes.values():
        if node.get("type") not in EXECUTABLE:
            continue
        n_done = 1 if node.get("phase") in (SUCCEEDED, SKIPPED, OMITTED) else 0
        node["progress"] = f"{n_done}/1"
        done += n_done
        total += 1
    for node in nodes.values():
        if node.get("type") in EXECUTABLE:
            continue
        sub_done, sub_total = _sum_children(nodes, node, set())
        if sub_total > 0:  # Argo keeps only valid progress (M > 0)
            node["progress"] = f"{sub_done}/{sub_total}"
    return f"{done}/{total}"


def _sum_children(nodes: Nodes, node: Node, seen: set[str]) -> tuple[int, int]:
    done = total = 0
    for child_id in node.get("children") or ():
        if child_id in seen or child_id not in nodes:
            continue
        seen.add(child_id)
        child = nodes[child_id]
        d, t = _sum_children(nodes, child, seen)
        done, total = done + d, total + t
        if child.get("type") in EXECUTABLE:
            cd, _, ct = str(child.get("progress", "0/1")).partition("/")
            done, total = done + int(cd), total + int(ct)
    return done, total
