"""Run a scenario: fake cluster + admission + reconciler + fake Argo controller on one clock.

`Simulation(scenario).run()` seeds a store with the scenario's cluster state, then plays the
timeline. After every action the controllers settle at the current instant (the reconciler's
pure core `reconciler.plan` decides per Operation - materialize the Workflow, map its status
back, record Events - and the runner carries that out in the store; the Argo controller runs
Workflows); `advance` moves the clock event by event so every node transition is seen at
its own time. The result is plain data - admission decisions, a timeline of events, failed
expectations and the final objects - for `sim.printers` to show.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import dataclasses
import datetime as dt
import fnmatch
import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from policies import loader, model
from reconciler import plan, status
from sim import admission, callers, scenario, store, watches
from sim import errors as sim_errors
from sim.argo import controller as argo_controller
from sim.argo import engine, nodes, world
from webhooks import errors as webhook_errors
from webhooks import handler, kinds, manifests, resolve, review

Obj = dict[str, Any]
# Bounds that keep a run finite whatever the scenario says.
MAX_SETTLE = 50
MAX_EVENTS = 20_000
IDLE_HORIZON = dt.timedelta(days=30)
WEBHOOK_CONFIG_KEYS = frozenset(
    {
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
    }
)
OPERATION_KEY = kinds.OPERATION.key
WORKFLOW_KEY = kinds.WORKFLOW.key


@dataclasses.dataclass(frozen=True, slots=True)
class Decision:
    """One admission decision of a write, and whether it matched the scenario's expectation."""

    time: str
    where: str
    action: str
    user: str
    kind: str
    namespace: str
    name: str
    allowed: bool
    code: int
    reason: str
    message: str
    warnings: tuple[str, ...]
    expected: bool | None = None  # None: the scenario expected nothing

    def to_json(self) -> Obj:
        """Plain data for JSON output."""
        return dataclasses.asdict(self) | {"warnings": list(self.warnings)}


@dataclasses.dataclass(frozen=True, slots=True)
class Event:
    """One line of the timeline: when, what kind (action, admission, node, workflow,
    operation, expect) and a readable text."""

    time: str
    kind: str
    text: str


@dataclasses.dataclass(frozen=True, slots=True)
class Failure:
    """An expectation that did not hold: where it is in the scenario and what was found."""

    where: str
    message: str


@dataclasses.dataclass(frozen=True, slots=True)
class Result:
    """What a scenario run produced."""

    name: str
    file: str
    decisions: tuple[Decision, ...]
    events: tuple[Event, ...]
    failures: tuple[Failure, ...]
    objects: tuple[Obj, ...]

    @property
    def ok(self) -> bool:
        """Whether every expectation held."""
        return not self.failures


def user_info(name: str | None, groups: list[str] | None = None) -> review.UserInfo:
    """The identity of a scenario write: admin by default, service accounts with their groups."""
    if not name or name == "admin":
        return store.ADMIN
    extra = tuple(groups or ())
    if name.startswith("system:serviceaccount:"):
        ns = name.split(":")[2]
        sa_groups = ("system:serviceaccounts", f"system:serviceaccounts:{ns}")
        return review.UserInfo(name, (*sa_groups, "system:authenticated", *extra))
    return review.UserInfo(name, ("system:authenticated", *extra))


def _ca_bundle(ca_file: str | None) -> str | None:
    """The base64 caBundle of a PEM file (None: keep the configurations' own)."""
    if ca_file is None:
        return None
    try:
        return base64.b64encode(Path(ca_file).read_bytes()).decode("ascii")
    except OSError as exc:
        raise webhook_errors.UsageError(
            f"cannot read --ca-file {ca_file}: {exc.strerror}"
        ) from None


def get_path(obj: Any, path: str) -> tuple[bool, Any]:
    """(found, value) of a dotted path (`status.conditions.0.type`) in an object."""
    current = obj
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return False, None
    return True, current


def nested(fields: Obj) -> Obj:
    """`{"status.ready": true}` as `{"status": {"ready": true}}` (a merge patch)."""
    out: Obj = {}
    for path, value in fields.items():
        parts = str(path).split(".")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


# Collector thresholds while a simulation runs (CPython's defaults: 700, 10, 10).
RUN_GC_THRESHOLDS = (50_000, 50, 100)


@contextlib.contextmanager
def rare_collections() -> Iterator[None]:
    """Cyclic garbage collection made rare for the duration of a run, then restored.

    A run allocates millions of short-lived JSON-shaped dicts, which hold no reference cycles
    and are freed by reference counting; at the default thresholds the collector would walk
    the whole store over and over, a cost per Operation that grows with the store.
    """
    before = gc.get_threshold()
    gc.set_threshold(*RUN_GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)


class Simulation:
    """One run of one scenario.

    `seed` overrides the scenario's; `webhook_url`/`ca_file` send admission to a running server
    over HTTPS instead of the in-process policy core; `record=False` keeps no timeline and no
    final object dump (for benchmarks).
    """

    def __init__(
        self,
        scen: scenario.Scenario,
        *,
        seed: int | None = None,
        webhook_url: str | None = None,
        ca_file: str | None = None,
        policy: model.Policy | None = None,
        record: bool = True,
    ) -> None:
        self.scenario = scen
        self.policy = policy or loader.load_policy(scen.policy)
        seed = seed if seed is not None else (scen.seed or 0)
        caller: Any = (
            callers.InProcess(self.policy) if webhook_url is None else callers.Https(webhook_url)
        )
        self.store = store.Store(seed, chain=admission.Chain(caller, seed=seed))
        objects = list(scen.objects)
        if not any(kinds.key_of(o) in WEBHOOK_CONFIG_KEYS for o in objects):
            objects.extend(admission.load_configurations(ca_bundle=_ca_bundle(ca_file)))
        self._load(objects)
        if webhook_url is None:  # what the first in-process decision would otherwise pay for
            handler.warm(self.store.view, self.policy)
        self.steps: dict[str, world.Outcome] = dict(scen.steps)
        self.argo = argo_controller.Controller(
            self.store, self.outcome, on_create=self._created_by_workflow
        )
        self.operator = user_info(self.policy.operator_sa.username)
        self.decisions: list[Decision] = []
        self.events: list[Event] = []
        self.failures: list[Failure] = []
        self._seen_nodes: dict[tuple[str, str], dict[str, str]] = {}
        self._seen_workflows: dict[tuple[str, str], str] = {}
        self._seen_operations: dict[tuple[str, str], tuple[Any, ...]] = {}
        self.record = record
        # Watches of every kind (a CRD may be installed later) from now on, filtered by kind on
        # reading; the Operations already stored are reconciled once at the start.
        rv = self.store.resource_version
        self._op_watch = self.store.watch(resource_version=rv)
        self._wf_watch = self.store.watch(resource_version=rv)
        self._seen_op_watch = self.store.watch(resource_version=rv)
        self._seen_wf_watch = self.store.watch(resource_version=rv)
        self._pending: set[tuple[str, str]] = self._stored_operations()
        self._refused: set[tuple[str, str]] = set()  # Operations whose Workflow was refused

    def _load(self, objects: list[Obj]) -> None:
        """Seed the store; an object it refuses is a bad scenario (named, with why)."""
        # Loaded one by one (to name the refused one), so Store.load cannot see the repeats.
        objects = manifests.without_repeats(list(objects))
        first = [o for o in objects if kinds.key_of(o) in (kinds.CRD.key, kinds.NAMESPACE.key)]
        rest = [o for o in objects if kinds.key_of(o) not in (kinds.CRD.key, kinds.NAMESPACE.key)]
        for obj in first + rest:
            try:
                self.store.load([obj])
            except sim_errors.ApiError as exc:
                meta = obj.get("metadata") or {}
                where = f"{meta.get('namespace', '')}/{meta.get('name')}".lstrip("/")
                raise scenario.ScenarioError(
                    self.scenario.file,
                    "clusterState/objects",
                    f"{obj.get('kind')} {where} cannot be stored: {exc} "
                    "(is its CustomResourceDefinition in the cluster state?)",
                ) from None

    # --- world ----------------------------------------------------------------------------
    def outcome(self, step: world.StepRef) -> world.Outcome:
        """The scenario's outcome for a step (by `task(attempt)`, task, then template)."""
        for key in (f"{step.task}({step.attempt})", step.task, step.template):
            if key in self.steps:
                return self.steps[key]
        return world.SUCCEED

    def _created_by_workflow(self, obj: Obj) -> None:
        group, kind = kinds.key_of(obj)
        meta = obj.get("metadata") or {}
        for rule in self.scenario.object_fields:
            if rule.get("kind") != kind:
                continue
            if "apiVersion" in rule and rule["apiVersion"] != obj.get("apiVersion"):
                continue
            if "name" in rule and not fnmatch.fnmatchcase(str(meta.get("name")), rule["name"]):
                continue
            self._set_fields(
                group, kind, str(meta.get("namespace") or ""), meta["name"], rule["set"]
            )

    def _set_fields(self, group: str, kind: str, namespace: str, name: str, fields: Obj) -> None:
        res = self.store.resource(group, kind)
        status_only = res.status and all(str(k).startswith("status.") for k in fields)
        self.store.patch(
            group,
            kind,
            namespace,
            name,
            nested(fields),
            subresource="status" if status_only else "",
        )

    # --- time -----------------------------------------------------------------------------
    def now(self) -> dt.datetime:
        """The simulated instant."""
        return self.store.clock.now()

    def ts(self) -> str:
        """The simulated instant as RFC 3339."""
        return self.store.clock.timestamp()

    def settle(self) -> None:
        """Run the reconciler and the Argo controller at the current instant until quiet."""
        for _ in range(MAX_SETTLE):
            changed = self.reconcile()
            changed = bool(self.argo.sync(self.now())) or changed
            for refusal in self.argo.refused:
                self._event("workflow", f"Argo's status write refused: {refusal}")
            self.argo.refused.clear()
            self._observe()
            if not changed:
                return

    def advance(self, seconds: int | None) -> None:
        """Move the clock (through every event on the way); None: until nothing moves."""
        target = self.now() + (IDLE_HORIZON if seconds is None else dt.timedelta(seconds=seconds))
        for _ in range(MAX_EVENTS):
            nxt = self.argo.next_event()
            if nxt is None or nxt > target:
                break
            if nxt > self.now():
                self.store.clock.advance((nxt - self.now()).total_seconds())
            self.settle()
        if seconds is not None and target > self.now():
            self.store.clock.advance((target - self.now()).total_seconds())
            self.settle()

    # --- reconciler -----------------------------------------------------------------------
    def _changed(
        self, watcher: Any, key: tuple[str, str]
    ) -> dict[tuple[str, str], tuple[str, Obj]]:
        """The latest event per (namespace, name) of one kind a watcher has queued."""
        out: dict[tuple[str, str], tuple[str, Obj]] = {}
        for event in watcher.drain():
            if (event.group, event.kind) != key:
                continue
            meta = event.object.get("metadata") or {}
            out[(str(meta.get("namespace") or ""), str(meta.get("name") or ""))] = (
                event.type,
                event.object,
            )
        return out

    def restart_reconciler(self) -> None:
        """Forget what the reconciler watched and look at every Operation again."""
        for watcher in (self._op_watch, self._wf_watch):
            watcher.close()
        rv = self.store.resource_version
        self._op_watch = self.store.watch(resource_version=rv)
        self._wf_watch = self.store.watch(resource_version=rv)
        self._pending = self._stored_operations()

    def _stored_operations(self) -> set[tuple[str, str]]:
        try:
            ops, _ = self.store.list(*OPERATION_KEY)
        except sim_errors.ApiError:  # the Operation CRD is not installed
            return set()
        return {(str(o["metadata"].get("namespace") or ""), o["metadata"]["name"]) for o in ops}

    def reconcile(self) -> bool:
        """One pass of the operator over the Operations whose Operation or Workflow changed;
        whether it wrote anything."""
        changed = False
        keys = set(self._changed(self._op_watch, OPERATION_KEY)) | self._pending
        keys |= set(self._changed(self._wf_watch, WORKFLOW_KEY))
        self._pending = set()
        for key in sorted(keys):
            found = self.store.find(*OPERATION_KEY, *key)
            if found is not None:
                changed = self._reconcile_one(watches.copy_obj(found)) or changed
        return changed

    def _templates(self, op: Obj) -> plan.Templates:
        """What the operator's template resolution finds for an Operation now."""
        spec, meta = op.get("spec") or {}, op.get("metadata") or {}
        view = self.store.view
        optemplate = resolve.operation_template(view, str(spec.get("type")), plan.ENGINE)
        if optemplate is None:
            return plan.Templates(None, None)
        name = plan.template_name(op, optemplate)
        found = resolve.workflow_template(view, optemplate, str(meta.get("namespace")), name)
        return plan.Templates(optemplate, found)

    def _reconcile_one(self, op: Obj) -> bool:
        """The operator's plan for one Operation (`reconciler.plan`), carried out in the store."""
        meta = op["metadata"]
        wf = self.store.find(*WORKFLOW_KEY, str(meta.get("namespace") or ""), meta["name"])
        todo = plan.plan(op, wf, policy=self.policy, now=self.now())
        if todo.needs_templates:
            todo = plan.plan(
                op, wf, policy=self.policy, now=self.now(), templates=self._templates(op)
            )
        changed = False
        if todo.create is not None:
            created = self._write("create", todo.create, self.operator, "reconciler", None)
            key = (str(meta.get("namespace") or ""), str(meta["name"]))
            if created is None:  # as reconciler.controller: one Warning, Pending meanwhile
                if key not in self._refused:
                    self._refused.add(key)
                    self._event(
                        "operation",
                        f"Event Warning WorkflowCreateFailed: creating Workflow {meta['name']} "
                        "was refused (its admission decision is above)",
                    )
                if op.get("status"):
                    return False
                todo = plan.Plan(status=status.operation_status(op, None, self.now()))
            else:
                self._refused.discard(key)  # a later refusal warns again, as the controller
                changed = True
                for event in todo.events:
                    self._event("operation", f"Event {event.type} {event.reason}: {event.message}")
                todo = plan.plan(op, created, policy=self.policy, now=self.now())
        for event in todo.events:
            self._event("operation", f"Event {event.type} {event.reason}: {event.message}")
        if todo.status is not None and todo.status != op.get("status"):
            op["status"] = todo.status
            try:
                self.store.update_status(op, user=self.operator)
                changed = True
            except sim_errors.ApiError as exc:
                self._event("operation", f"status write refused: {exc}")
        return changed

    # --- writes ---------------------------------------------------------------------------
    def _write(
        self, action: str, obj: Obj, user: review.UserInfo, where: str, expect: Obj | None,
        dry_run: bool = False,
    ) -> Obj | None:  # fmt: skip
        """Send one write through the API; records the admission decision."""
        warnings: list[str] = []
        meta = obj.get("metadata") or {}
        group, kind = kinds.key_of(obj)
        result: Obj | None = None
        try:
            if action == "create":
                result = self.store.create(obj, user=user, dry_run=dry_run, warnings=warnings)
            elif action == "apply":
                result = self.store.apply(obj, user=user, dry_run=dry_run, warnings=warnings)
            elif action == "update":
                # A scenario's update replaces what is stored now (custom resources need a
                # resourceVersion: it is the stored one).
                fresh = copy.deepcopy(obj)
                stored = self.store.find(group, kind, str(meta.get("namespace") or ""),
                                         str(meta.get("name")))  # fmt: skip
                if stored is not None:
                    fresh.setdefault("metadata", {})["resourceVersion"] = stored["metadata"][
                        "resourceVersion"
                    ]
                result = self.store.update(fresh, user=user, dry_run=dry_run, warnings=warnings)
            else:
                self.store.delete(
                    group, kind, str(meta.get("namespace") or ""), str(meta.get("name")),
                    user=user, dry_run=dry_run,
                )  # fmt: skip
                result = obj
            allowed, code, reason, message = True, 200, "", ""
        except sim_errors.ApiError as exc:
            allowed, code, reason, message = False, exc.code, exc.reason, str(exc)
        expected = (
            None
            if expect is None
            else self._admission_matches(expect, allowed, code, reason, message, warnings, where)
        )
        self.decisions.append(
            Decision(
                self.ts(),
                where,
                action,
                user.username,
                kind,
                str(meta.get("namespace") or ""),
                str(meta.get("name") or ""),
                allowed,
                code,
                reason,
                message,
                tuple(warnings),
                expected,
            )
        )
        verdict = "allowed" if allowed else f"denied {code} {reason}: {message}"
        extra = f" (warnings: {'; '.join(warnings)})" if warnings else ""
        self._event(
            "admission",
            f"{action} {kind} {meta.get('namespace', '')}/{meta.get('name')} as {user.username}: {verdict}{extra}",
        )
        return result

    def _admission_matches(
        self, expect: Obj, allowed: bool, code: int, reason: str, message: str,
        warnings: list[str], where: str,
    ) -> bool:  # fmt: skip
        problems = []
        if expect.get("allowed") != allowed:
            problems.append(
                f"expected allowed={expect.get('allowed')}, got allowed={allowed} ({reason or 'no reason'}: {message})"
            )
        if "reason" in expect and expect["reason"] != reason:
            problems.append(f"expected reason {expect['reason']!r}, got {reason!r}")
        if "code" in expect and expect["code"] != code:
            problems.append(f"expected code {expect['code']}, got {code}")
        if "message" in expect and str(expect["message"]) not in message:
            problems.append(f"expected message containing {expect['message']!r}, got {message!r}")
        if "warning" in expect and not any(str(expect["warning"]) in w for w in warnings):
            problems.append(f"expected a warning containing {expect['warning']!r}, got {warnings}")
        for problem in problems:
            self._fail(f"{where}.expect", problem)
        return not problems

    # --- timeline -------------------------------------------------------------------------
    def run(self) -> Result:
        """Play the timeline, settle until idle, check the final expectations."""
        with rare_collections():
            return self._run()

    def _run(self) -> Result:
        self._event(
            "action", f"scenario {self.scenario.name}: {len(self.scenario.objects)} objects loaded"
        )
        self.settle()
        for action in self.scenario.timeline:
            self._do(action)
            self.settle()
        self.advance(None)
        self._check(self.scenario.expect)
        return Result(
            self.scenario.name, self.scenario.file, tuple(self.decisions), tuple(self.events),
            tuple(self.failures), tuple(self.store.objects()) if self.record else (),
        )  # fmt: skip

    def _do(self, action: scenario.Action) -> None:
        args = action.args
        if action.kind in scenario.WRITE_ACTIONS:
            user = user_info(args.get("user"), args.get("groups"))
            self._write(
                action.kind,
                args["object"],
                user,
                action.where,
                args.get("expect"),
                bool(args.get("dryRun")),
            )
        elif action.kind == "set":
            group = kinds.group_of(args["apiVersion"])
            try:
                self._set_fields(
                    group,
                    args["kind"],
                    str(args.get("namespace") or ""),
                    args["name"],
                    args["fields"],
                )
                self._event(
                    "action",
                    f"set {args['kind']} {args.get('namespace', '')}/{args['name']}: {args['fields']}",
                )
            except sim_errors.ApiError as exc:
                self._fail(action.where, f"cannot set fields: {exc}")
        elif action.kind == "steps":
            self.steps.update(args)
            self._event("action", f"step outcomes set for {', '.join(sorted(args))}")
        elif action.kind == "advance":
            self._event("action", "advance until idle" if args is None else f"advance {args}s")
            self.advance(args)
        elif action.kind in ("suspend", "resume"):
            self._control(action)
        elif action.kind == "restartController":
            if args in ("argo", "all"):
                self.argo.restart()
            if args in ("reconciler", "all"):
                self.restart_reconciler()
            self._event("action", f"restarted {args} controller")
        else:
            self._check(args)

    def _control(self, action: scenario.Action) -> None:
        ns, name = action.args["namespace"], action.args["name"]
        wf = self.store.find(*WORKFLOW_KEY, ns, name)
        if wf is None:
            self._fail(action.where, f"no Workflow {ns}/{name} to {action.kind}")
            return
        changed = engine.suspend(wf) if action.kind == "suspend" else engine.resume(wf, self.now())
        self._event("action", f"argo {action.kind} {ns}/{name}")
        self._write("update", changed, store.ADMIN, action.where, None)

    # --- observation ----------------------------------------------------------------------
    def _event(self, kind: str, text: str) -> None:
        self.events.append(Event(self.ts(), kind, text))

    def _fail(self, where: str, message: str) -> None:
        self.failures.append(Failure(where, message))
        self._event("expect", f"FAILED {where}: {message}")

    def _observe(self) -> None:
        if not self.record:
            return
        wfs = [
            obj
            for kind, obj in self._changed(self._seen_wf_watch, WORKFLOW_KEY).values()
            if kind != "DELETED"
        ]
        for wf in wfs:
            key = (wf["metadata"].get("namespace", ""), wf["metadata"]["name"])
            seen = self._seen_nodes.setdefault(key, {})
            for node in sorted(
                (wf.get("status") or {}).get("nodes", {}).values(),
                key=lambda n: (n.get("finishedAt") or n.get("startedAt") or "", n["name"]),
            ):
                if node.get("type") in (nodes.DAG, nodes.STEPS, nodes.STEP_GROUP):
                    continue
                if seen.get(node["id"]) != node["phase"]:
                    seen[node["id"]] = node["phase"]
                    msg = f" - {node['message']}" if node.get("message") else ""
                    self._event(
                        "node", f"{key[0]}/{key[1]} {node['displayName']}: {node['phase']}{msg}"
                    )
            phase = str((wf.get("status") or {}).get("phase") or "")
            suspended = " (suspended)" if phase == "Running" and engine.is_suspended(wf) else ""
            if self._seen_workflows.get(key) != phase + suspended:
                self._seen_workflows[key] = phase + suspended
                msg = (wf.get("status") or {}).get("message")
                self._event(
                    "workflow",
                    f"Workflow {key[0]}/{key[1]}: {phase or 'created'}{suspended}{' - ' + msg if msg else ''}",
                )
        ops = [
            obj
            for kind, obj in self._changed(self._seen_op_watch, OPERATION_KEY).values()
            if kind != "DELETED"
        ]
        for op in ops:
            key = (op["metadata"].get("namespace", ""), op["metadata"]["name"])
            st = op.get("status") or {}
            conds = tuple(
                (c.get("type"), c.get("status"), c.get("reason"), c.get("message"))
                for c in st.get("conditions") or []
            )
            snapshot = (st.get("phase"), conds)
            if self._seen_operations.get(key) != snapshot and st:
                self._seen_operations[key] = snapshot
                shown = ", ".join(
                    f"{t}={s}/{r}" + (f" ({m})" if m else "")
                    for t, s, r, m in conds
                    if s == "True" or t == "Running"
                )
                self._event(
                    "operation",
                    f"Operation {key[0]}/{key[1]}: {st.get('phase')}"
                    + (f" [{shown}]" if shown else ""),
                )

    # --- expectations ---------------------------------------------------------------------
    def _check(self, expectations: tuple[scenario.Expectation, ...]) -> None:
        before = len(self.failures)
        for exp in expectations:
            {
                "operation": self._check_operation,
                "workflow": self._check_workflow,
                "object": self._check_object,
            }[exp.kind](exp)
        if len(self.failures) == before and expectations:
            self._event("expect", f"{len(expectations)} expectation(s) hold")

    def _lookup(self, exp: scenario.Expectation, group: str, kind: str) -> Obj | None:
        ns = str(exp.args.get("namespace") or "") if kinds.is_namespaced(group, kind) else ""
        return self.store.find(group, kind, ns, str(exp.args["name"]))

    def _check_operation(self, exp: scenario.Expectation) -> None:
        op = self._lookup(exp, *OPERATION_KEY)
        if op is None:
            self._fail(exp.where, f"no Operation {exp.args.get('namespace')}/{exp.args['name']}")
            return
        st = op.get("status") or {}
        if "phase" in exp.args and st.get("phase") != exp.args["phase"]:
            self._fail(exp.where, f"phase is {st.get('phase')!r}, expected {exp.args['phase']!r}")
        conds = {c.get("type"): c for c in st.get("conditions") or []}
        for ctype, want in (exp.args.get("conditions") or {}).items():
            have = conds.get(ctype)
            want = want if isinstance(want, dict) else {"status": str(want)}
            if have is None:
                self._fail(f"{exp.where}.conditions.{ctype}", "condition absent")
                continue
            for key, value in want.items():
                got = str(have.get(key, ""))
                if (key == "message" and str(value) not in got) or (
                    key != "message" and got != str(value)
                ):
                    self._fail(
                        f"{exp.where}.conditions.{ctype}.{key}", f"is {got!r}, expected {value!r}"
                    )

    def _check_workflow(self, exp: scenario.Expectation) -> None:
        wf = self._lookup(exp, *WORKFLOW_KEY)
        if wf is None:
            self._fail(exp.where, f"no Workflow {exp.args.get('namespace')}/{exp.args['name']}")
            return
        st = wf.get("status") or {}
        if "phase" in exp.args and st.get("phase") != exp.args["phase"]:
            self._fail(exp.where, f"phase is {st.get('phase')!r}, expected {exp.args['phase']!r}")
        if "message" in exp.args and str(exp.args["message"]) not in str(st.get("message") or ""):
            self._fail(
                exp.where,
                f"message is {st.get('message')!r}, expected it to contain {exp.args['message']!r}",
            )
        by_name = {n.get("displayName"): n for n in (st.get("nodes") or {}).values()}
        for name, want in (exp.args.get("nodes") or {}).items():
            node = by_name.get(name)
            got = None if node is None else node.get("phase")
            if got != want:
                self._fail(f"{exp.where}.nodes.{name}", f"phase is {got!r}, expected {want!r}")

    def _check_object(self, exp: scenario.Expectation) -> None:
        group = kinds.group_of(str(exp.args["apiVersion"]))
        obj = self._lookup(exp, group, str(exp.args["kind"]))
        if obj is None or not exp.args.get("exists", True):
            if (obj is None) == bool(exp.args.get("exists", True)):
                state = "absent" if obj is None else "present"
                self._fail(exp.where, f"object is {state}")
            return
        for path, want in (exp.args.get("fields") or {}).items():
            found, got = get_path(obj, str(path))
            if not found or got != want:
                self._fail(f"{exp.where}.fields.{path}", f"is {got!r}, expected {want!r}")


def run(scen: scenario.Scenario, **kwargs: Any) -> Result:
    """Run one scenario."""
    return Simulation(scen, **kwargs).run()
