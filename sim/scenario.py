"""Simulation scenarios: a YAML file describing a cluster, what happens to it and what to expect.

Format (every path is relative to the scenario file; unknown keys are errors)::

    name: migration succeeds          # default: the file name
    description: free text
    seed: 7                           # uids and name suffixes (default 0; --seed overrides)
    policy: ../policy.yaml            # default: the embedded policy
    clusterState: [../../deploy/crds, ../../deploy/examples/cluster-state]   # files or dirs
    objects: [{apiVersion: v1, kind: Namespace, metadata: {name: x}}]        # inline objects
    steps:                            # what pod steps do, by DAG task / step name (or `task(n)`
      verify: {result: ok}            # for retry attempt n, or the template name); keys:
                                      # phase (Succeeded|Failed|Error), message, exitCode,
                                      # result, duration (seconds, default 10), creates: [objs],
                                      # parameters: {name: value} (output parameters)
    objectFields:                     # fields the cluster sets on objects as they are created
      - {kind: VolumeSnapshot, set: {status.readyToUse: true}}   # optional apiVersion, name
    timeline:                         # actions, in order; the controllers settle after each
      - create: {file: ../../deploy/examples/operation.yaml, user: alice,
                 expect: {allowed: true}}          # or {allowed: false, reason: X, code: 422,
      - apply|update|delete: {...}                 #     message: substring}; also object:,
      - set: {apiVersion: v1, kind: X, namespace: n, name: m,   # dryRun: true
              fields: {status.readyToUse: true}}
      - steps: {verify: {phase: Failed, message: postchecks failed}}
      - advance: 60                   # seconds, "5m", or "idle" (until nothing moves)
      - suspend: {namespace: n, name: wf}   # argo suspend / argo resume
      - resume: {namespace: n, name: wf}
      - restartController: argo       # argo | reconciler | all
      - expect: [...]                 # expectations checked at this point
    expect:                           # checked at the end, after running until idle
      - operation: {namespace: n, name: op, phase: Succeeded,
                    conditions: {Succeeded: {status: "True", reason: WorkflowSucceeded}}}
      - workflow: {namespace: n, name: wf, phase: Failed, message: substring,
                   nodes: {verify: Failed, unquiesce: Omitted}}
      - object: {apiVersion: v1, kind: X, namespace: n, name: m, exists: true,
                 fields: {status.phase: Ready}}

A bad scenario raises `ScenarioError` naming the file, the path in it and what is wrong.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

from sim.argo import pods as argo_pods
from sim.argo import world
from webhooks import errors as webhook_errors
from webhooks import manifests

Obj = dict[str, Any]
TOP_KEYS = frozenset(
    {"name", "description", "seed", "policy", "clusterState", "objects", "steps"}
    | {"objectFields", "timeline", "expect"}
)
WRITE_ACTIONS = ("create", "apply", "update", "delete")
ACTIONS = (*WRITE_ACTIONS, "set", "steps", "advance", "suspend", "resume")
ACTIONS += ("restartController", "expect")
OUTCOME_KEYS = frozenset(
    {"phase", "message", "exitCode", "result", "duration", "creates", "parameters"}
)
EXPECT_KINDS = ("operation", "workflow", "object")
# The keys each expectation takes (a misspelt one must not turn a check into a silent pass).
EXPECT_KEYS = {
    "operation": frozenset({"namespace", "name", "phase", "conditions"}),
    "workflow": frozenset({"namespace", "name", "phase", "message", "nodes"}),
    "object": frozenset({"apiVersion", "kind", "namespace", "name", "exists", "fields"}),
}
CONDITION_KEYS = frozenset({"status", "reason", "message"})
# The phases an expectation may name (Operation phases; Argo's Workflow phases).
PHASES = {
    "operation": ("Pending", "Running", "Succeeded", "Failed"),
    "workflow": ("Pending", "Running", "Succeeded", "Failed", "Error"),
}


class ScenarioError(webhook_errors.OpgateError):
    """A scenario that cannot be run: the file, the path in it and the problem."""

    def __init__(self, file: str, path: str, problem: str) -> None:
        self.file, self.path, self.problem = file, path, problem
        super().__init__(f"{file}: {path or '(top level)'}: {problem}")


@dataclasses.dataclass(frozen=True, slots=True)
class Action:
    """One timeline entry: its kind, its arguments and where it is in the file."""

    kind: str
    args: Any
    where: str


@dataclasses.dataclass(frozen=True, slots=True)
class Expectation:
    """One expectation: operation, workflow or object, its arguments, and its place."""

    kind: str
    args: Obj
    where: str


@dataclasses.dataclass(frozen=True, slots=True)
class Scenario:
    """A loaded scenario."""

    name: str
    file: str
    description: str
    seed: int | None
    policy: str | None
    objects: tuple[Obj, ...]
    steps: dict[str, world.Outcome]
    object_fields: tuple[Obj, ...]
    timeline: tuple[Action, ...]
    expect: tuple[Expectation, ...]


class _Reader:
    def __init__(self, file: Path) -> None:
        self.file = file
        self.base = file.parent

    def fail(self, path: str, problem: str) -> ScenarioError:
        return ScenarioError(str(self.file), path, problem)

    def mapping(self, value: Any, path: str, allowed: frozenset[str] | None = None) -> Obj:
        if not isinstance(value, dict):
            raise self.fail(path, f"expected a mapping, got {_type(value)}")
        if allowed is not None:
            for key in value:
                if key not in allowed:
                    raise self.fail(
                        f"{path}.{key}" if path else str(key),
                        f"unknown key; expected one of {', '.join(sorted(allowed))}",
                    )
        return value

    def listing(self, value: Any, path: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(path, f"expected a list, got {_type(value)}")
        return value

    def text(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(path, f"expected a non-empty string, got {_type(value)}")
        return value

    def manifests(self, ref: Any, path: str) -> list[Obj]:
        target = self.base / self.text(ref, path)
        try:
            return manifests.load([target])
        except webhook_errors.ManifestError as exc:
            raise self.fail(path, f"cannot load {ref}: {exc}") from None

    def outcome(self, value: Any, path: str) -> world.Outcome:
        data = self.mapping(value, path, OUTCOME_KEYS)
        phase = data.get("phase", "Succeeded")
        if phase not in ("Succeeded", "Failed", "Error"):
            raise self.fail(f"{path}.phase", f"must be Succeeded, Failed or Error, not {phase!r}")
        duration = argo_pods.parse_duration(data.get("duration", world.DEFAULT_DURATION))
        if duration is None or duration < 0:
            raise self.fail(f"{path}.duration", "must be seconds (30) or a duration (30s, 5m)")
        code = data.get("exitCode")
        if code is not None and (isinstance(code, bool) or not isinstance(code, int)):
            raise self.fail(f"{path}.exitCode", "must be an integer")
        creates = self.listing(data.get("creates", []), f"{path}.creates")
        for i, obj in enumerate(creates):
            self.mapping(obj, f"{path}.creates[{i}]")
        params = self.mapping(data.get("parameters", {}), f"{path}.parameters")
        return world.Outcome(
            parameters=tuple((str(k), str(v)) for k, v in params.items()),
            phase=phase,
            message=str(data.get("message", "")),
            exit_code=code,
            result=str(data.get("result", "")),
            duration=duration,
            creates=tuple(creates),
        )

    def steps(self, value: Any, path: str) -> dict[str, world.Outcome]:
        data = self.mapping(value, path)
        return {str(k): self.outcome(v, f"{path}.{k}") for k, v in data.items()}

    def action(self, value: Any, path: str) -> Action:
        data = self.mapping(value, path)
        if len(data) != 1:
            raise self.fail(
                path, f"each timeline entry has exactly one action of: {', '.join(ACTIONS)}"
            )
        kind, args = next(iter(data.items()))
        where = f"{path}.{kind}"
        if kind not in ACTIONS:
            raise self.fail(where, f"unknown action; expected one of {', '.join(ACTIONS)}")
        if kind in WRITE_ACTIONS:
            return Action(kind, self.write(args, where), where)
        if kind == "set":
            ref = self.mapping(
                args, where, frozenset({"apiVersion", "kind", "namespace", "name", "fields"})
            )
            for key in ("apiVersion", "kind", "name"):
                self.text(ref.get(key), f"{where}.{key}")
            self.mapping(ref.get("fields"), f"{where}.fields")
            return Action(kind, ref, where)
        if kind == "steps":
            return Action(kind, self.steps(args, where), where)
        if kind == "advance":
            if args == "idle":
                return Action(kind, None, where)
            seconds = argo_pods.parse_duration(args)
            if seconds is None or seconds < 0:
                raise self.fail(where, "must be seconds (60), a duration (5m) or idle")
            return Action(kind, seconds, where)
        if kind in ("suspend", "resume"):
            ref = self.mapping(args, where, frozenset({"namespace", "name"}))
            for key in ("namespace", "name"):
                self.text(ref.get(key), f"{where}.{key}")
            return Action(kind, ref, where)
        if kind == "restartController":
            if args not in ("argo", "reconciler", "all"):
                raise self.fail(where, "must be argo, reconciler or all")
            return Action(kind, args, where)
        return Action(kind, self.expectations(args, where), where)

    def write(self, value: Any, path: str) -> Obj:
        allowed = frozenset({"object", "file", "user", "groups", "dryRun", "expect"})
        data = dict(self.mapping(value, path, allowed))
        if ("object" in data) == ("file" in data):
            raise self.fail(path, "give exactly one of object (inline) or file (a path)")
        if "file" in data:
            objs = self.manifests(data["file"], f"{path}.file")
            if len(objs) != 1:
                raise self.fail(f"{path}.file", f"must hold exactly one object, found {len(objs)}")
            data["object"] = objs[0]
        else:
            obj = self.mapping(data["object"], f"{path}.object")
            try:
                manifests.checked(obj, str(self.file), 1)
            except webhook_errors.ManifestError as exc:
                raise self.fail(f"{path}.object", exc.problem) from None
        if "user" in data:
            self.text(data["user"], f"{path}.user")
        groups = self.listing(data.get("groups", []), f"{path}.groups")
        data["groups"] = [self.text(g, f"{path}.groups[{i}]") for i, g in enumerate(groups)]
        if "expect" in data:
            exp = self.mapping(
                data["expect"],
                f"{path}.expect",
                frozenset({"allowed", "reason", "code", "message", "warning"}),
            )
            if not isinstance(exp.get("allowed"), bool):
                raise self.fail(f"{path}.expect.allowed", "must be true or false")
        return data

    def expectations(self, value: Any, path: str) -> tuple[Expectation, ...]:
        out = []
        for i, item in enumerate(self.listing(value, path)):
            where = f"{path}[{i}]"
            data = self.mapping(item, where)
            if len(data) != 1 or next(iter(data)) not in EXPECT_KINDS:
                raise self.fail(where, f"each expectation is one of: {', '.join(EXPECT_KINDS)}")
            kind, args = next(iter(data.items()))
            args = self.mapping(args, f"{where}.{kind}", EXPECT_KEYS[kind])
            required = ("name", "apiVersion", "kind") if kind == "object" else ("namespace", "name")
            for key in required:
                self.text(args.get(key), f"{where}.{kind}.{key}")
            for key in ("conditions", "nodes", "fields"):
                if key in args:
                    self.mapping(args[key], f"{where}.{kind}.{key}")
            for type_, cond in (args.get("conditions") or {}).items():
                self.mapping(cond, f"{where}.{kind}.conditions.{type_}", CONDITION_KEYS)
            if "exists" in args and not isinstance(args["exists"], bool):
                raise self.fail(f"{where}.{kind}.exists", "must be true or false")
            phases = PHASES.get(kind, ())
            if "phase" in args and args["phase"] not in phases:
                raise self.fail(
                    f"{where}.{kind}.phase",
                    f"unsupported value {args['phase']!r}: use one of {', '.join(phases)}",
                )
            out.append(Expectation(kind, args, f"{where}.{kind}"))
        return tuple(out)


def _type(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


def load(path: str | Path) -> Scenario:
    """Read and check a scenario file."""
    file = Path(path)
    reader = _Reader(file)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise reader.fail("", f"cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise reader.fail(where, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
    data = reader.mapping(data, "", TOP_KEYS)
    objects: list[Obj] = []
    for i, ref in enumerate(reader.listing(data.get("clusterState", []), "clusterState")):
        objects.extend(reader.manifests(ref, f"clusterState[{i}]"))
    for i, obj in enumerate(reader.listing(data.get("objects", []), "objects")):
        try:
            objects.append(manifests.checked(reader.mapping(obj, f"objects[{i}]"), str(file), 1))
        except webhook_errors.ManifestError as exc:
            raise reader.fail(f"objects[{i}]", exc.problem) from None
    for key in ("name", "description"):
        if key in data and not isinstance(data[key], str):
            raise reader.fail(key, f"must be a string, got {_type(data[key])}")
    seed = data.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise reader.fail("seed", "must be an integer")
    policy = data.get("policy")
    if policy is not None:
        policy = str(file.parent / reader.text(policy, "policy"))
    fields = []
    for i, rule in enumerate(reader.listing(data.get("objectFields", []), "objectFields")):
        rule = reader.mapping(
            rule, f"objectFields[{i}]", frozenset({"apiVersion", "kind", "name", "set"})
        )
        reader.text(rule.get("kind"), f"objectFields[{i}].kind")
        reader.mapping(rule.get("set"), f"objectFields[{i}].set")
        fields.append(rule)
    timeline = tuple(
        reader.action(item, f"timeline[{i}]")
        for i, item in enumerate(reader.listing(data.get("timeline", []), "timeline"))
    )
    return Scenario(
        name=str(data.get("name") or file.stem),
        file=str(file),
        description=str(data.get("description") or ""),
        seed=seed,
        policy=policy,
        objects=tuple(objects),
        steps=reader.steps(data.get("steps", {}), "steps"),
        object_fields=tuple(fields),
        timeline=timeline,
        expect=reader.expectations(data.get("expect", []), "expect"),
    )


def discover(paths: list[str]) -> list[Path]:
    """Scenario files of the given paths: files as given, `*.yaml` directly inside directories."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            out.extend(sorted(p for p in path.glob("*.yaml") if p.is_file()))
        elif path.exists():
            out.append(path)
        else:
            raise ScenarioError(raw, "", "no such file or directory")
    return out
