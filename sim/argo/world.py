"""What the fake Argo controller asks of the world: step outcomes, templates and cluster objects.

The engine never reads a store directly. A `World` says what each pod step does (`Outcome`) and
reads/creates the objects resource templates touch; a `TemplateLookup` finds
(Cluster)WorkflowTemplates. `StaticWorld` is a plain in-memory implementation for tests and for
running a Workflow without a cluster.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from webhooks import kinds

Obj = dict[str, Any]

# Simulated seconds a pod step takes when the scenario does not say.
DEFAULT_DURATION = 10
# Exit code of a failing step when the scenario gives none (what `exit 1` gives).
DEFAULT_FAILURE_EXIT_CODE = 1


@dataclasses.dataclass(frozen=True, slots=True)
class StepRef:
    """The pod step being asked about."""

    workflow: str  # workflow name
    namespace: str
    node_name: str  # full Argo node name, e.g. `wf.verify(1)`
    task: str  # DAG task / step name (`verify`), or the workflow name for the entry node
    template: str  # template name
    attempt: int  # retry attempt (0 without retries)


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    """What one pod step does: final phase, message, exit code, stdout result, duration.

    `creates` are objects the step creates when it finishes successfully (what a script that
    runs kubectl would do); `parameters` are the values of its declared output parameters.
    """

    phase: str = "Succeeded"  # Succeeded | Failed | Error
    message: str = ""
    exit_code: int | None = None
    result: str = ""
    duration: int = DEFAULT_DURATION
    creates: tuple[Obj, ...] = ()
    parameters: tuple[tuple[str, str], ...] = ()  # output parameters by name

    @property
    def code(self) -> int:
        """The exit code: given, else 0 on success and 1 on failure."""
        if self.exit_code is not None:
            return self.exit_code
        return 0 if self.phase == "Succeeded" else DEFAULT_FAILURE_EXIT_CODE


SUCCEED = Outcome()


class World(Protocol):
    """The cluster and behaviour the fake Argo controller runs against."""

    def outcome(self, step: StepRef) -> Outcome:
        """What a pod step does."""
        ...

    def get_object(self, api_version: str, kind: str, namespace: str, name: str) -> Obj | None:
        """An object in the cluster, or None."""
        ...

    def create_object(self, manifest: Obj, *, action: str) -> str | None:
        """Create (action `create`) or create-or-update (`apply`) an object; an error or None."""
        ...


class TemplateLookup(Protocol):
    """Where `workflowTemplateRef` and `templateRef` are resolved."""

    def workflow_template(self, namespace: str, name: str) -> Obj | None:
        """A WorkflowTemplate in a namespace, or None."""
        ...

    def cluster_workflow_template(self, name: str) -> Obj | None:
        """A ClusterWorkflowTemplate, or None."""
        ...


def _key(obj: Obj) -> tuple[str, str, str, str]:
    meta = obj.get("metadata") or {}
    group, kind = kinds.key_of(obj)
    return (group, kind, str(meta.get("namespace") or ""), str(meta.get("name") or ""))


class StaticWorld:
    """An in-memory world: outcomes by task name (or `task(attempt)`), objects and templates."""

    def __init__(
        self,
        outcomes: Mapping[str, Outcome] | None = None,
        objects: Iterable[Obj] = (),
        default: Outcome = SUCCEED,
    ) -> None:
        self.outcomes = dict(outcomes or {})
        self.default = default
        self.objects: dict[tuple[str, str, str, str], Obj] = {_key(o): o for o in objects}
        self.created: list[Obj] = []

    def __repr__(self) -> str:  # what a failing property test prints
        return f"StaticWorld(outcomes={self.outcomes!r}, objects={len(self.objects)})"

    def outcome(self, step: StepRef) -> Outcome:
        """The outcome for `task(attempt)`, else `task`, else the template name, else default."""
        for key in (f"{step.task}({step.attempt})", step.task, step.template):
            if key in self.outcomes:
                return self.outcomes[key]
        return self.default

    def get_object(self, api_version: str, kind: str, namespace: str, name: str) -> Obj | None:
        """An object by apiVersion, kind, namespace and name."""
        return self.objects.get((kinds.group_of(api_version), kind, namespace, name))

    def create_object(self, manifest: Obj, *, action: str) -> str | None:
        """Store the manifest; `create` of an existing object is an AlreadyExists error."""
        key = _key(manifest)
        if action == "create" and key in self.objects:
            return f'Error from server (AlreadyExists): {manifest.get("kind")} "{key[3]}" already exists'
        self.objects[key] = manifest
        self.created.append(manifest)
        return None

    def workflow_template(self, namespace: str, name: str) -> Obj | None:
        """A stored WorkflowTemplate."""
        return self.objects.get(("argoproj.io", "WorkflowTemplate", namespace, name))

    def cluster_workflow_template(self, name: str) -> Obj | None:
        """A stored ClusterWorkflowTemplate."""
        return self.objects.get(("argoproj.io", "ClusterWorkflowTemplate", "", name))
