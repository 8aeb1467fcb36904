"""Shared helpers for the fake-Argo tests: workflows, templates, a clock and a runner loop."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sim.argo import engine, world

Obj = dict[str, Any]
T0 = dt.datetime(2026, 5, 28, 12, 0, 0, tzinfo=dt.UTC)
REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO.parent / "shared" / "reference" / "argo"


def script(name: str) -> Obj:
    """A script template that does nothing."""
    return {"name": name, "script": {"image": "alpine", "command": ["sh"], "source": "true"}}


def workflow(
    templates: list[Obj],
    entry: str = "main",
    *,
    name: str = "wf",
    params: dict[str, str] | None = None,
    deadline: int | None = None,
    suspend: bool = False,
) -> Obj:
    """An inline Workflow."""
    spec: Obj = {"entrypoint": entry, "templates": templates}
    if params:
        spec["arguments"] = {"parameters": [{"name": k, "value": v} for k, v in params.items()]}
    if deadline is not None:
        spec["activeDeadlineSeconds"] = deadline
    if suspend:
        spec["suspend"] = True
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": name, "namespace": "ns", "uid": "uid-1"},
        "spec": spec,
    }


def dag(tasks: list[Obj], name: str = "main", **extra: Any) -> Obj:
    """A DAG template."""
    return {"name": name, "dag": {"tasks": tasks, **extra}}


def run(
    wf: Obj,
    the_world: world.StaticWorld | None = None,
    *,
    until: int = 3600,
    step: int = 3600,
) -> Obj:
    """Advance a workflow from T0 in steps until terminal or `until` seconds; returns it."""
    w = the_world or world.StaticWorld()
    t = 0
    wf["status"] = engine.advance(wf, w, w, T0)
    while not engine.is_terminal(wf) and t < until:
        t = min(until, t + step)
        wf["status"] = engine.advance(wf, w, w, T0 + dt.timedelta(seconds=t))
    return wf


def by_display(wf: Obj) -> dict[str, Obj]:
    """Nodes keyed by displayName."""
    return {n["displayName"]: n for n in wf["status"]["nodes"].values()}
