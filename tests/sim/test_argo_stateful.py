"""Stateful test of the fake Argo controller: time moves, humans suspend and resume, outcomes
change, the controller restarts (nothing is kept between `advance` calls) - and finished nodes
never change, terminal workflows stay terminal, time never runs backwards, the node graph stays
whole."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from sim.argo import engine, nodes, world
from tests.sim import argofixtures as fx

TASKS = [
    {"name": "a", "template": "s"},
    {"name": "b", "template": "r", "dependencies": ["a"]},
    {"name": "gate", "template": "g", "dependencies": ["a"]},
    {"name": "c", "template": "s", "depends": "b.Succeeded || b.Failed"},
    {
        "name": "d",
        "template": "s",
        "dependencies": ["gate", "c"],
        "when": "{{tasks.c.outputs.result}} != no",
    },
]
TEMPLATES = [
    fx.dag(TASKS),
    fx.script("s"),
    fx.script("r") | {"retryStrategy": {"limit": 2}},
    {"name": "g", "suspend": {}},
]
OUTCOMES = st.builds(
    world.Outcome,
    phase=st.sampled_from(["Succeeded", "Failed", "Error"]),
    result=st.sampled_from(["yes", "no"]),
    duration=st.integers(0, 90),
)


class ArgoMachine(RuleBasedStateMachine):
    """One workflow driven by random actions."""

    def __init__(self) -> None:
        super().__init__()
        self.wf: dict[str, Any] = fx.workflow(copy.deepcopy(TEMPLATES), deadline=600)
        self.world = world.StaticWorld()
        self.t = 0
        self.finished: dict[str, tuple[str, str]] = {}
        self.terminal: str | None = None
        self._advance()

    def _now(self) -> dt.datetime:
        return fx.T0 + dt.timedelta(seconds=self.t)

    def _advance(self) -> None:
        self.wf["status"] = engine.advance(self.wf, self.world, self.world, self._now())

    @rule(seconds=st.integers(0, 200))
    def time_passes(self, seconds: int) -> None:
        self.t += seconds
        self._advance()

    @rule(task=st.sampled_from(["a", "b", "b(0)", "b(1)", "c", "d"]), outcome=OUTCOMES)
    def outcome_changes(self, task: str, outcome: world.Outcome) -> None:
        self.world.outcomes[task] = outcome

    @rule()
    def suspend(self) -> None:
        self.wf = engine.suspend(self.wf)
        self._advance()

    @rule()
    def resume(self) -> None:
        self.wf = engine.resume(self.wf, self._now())
        self._advance()

    @rule()
    def restart(self) -> None:
        # A restarted controller only has what the store has: a copy of the Workflow.
        self.wf = copy.deepcopy(self.wf)
        self._advance()

    @invariant()
    def finished_nodes_never_change(self) -> None:
        for node_id, node in self.wf["status"].get("nodes", {}).items():
            if node_id in self.finished:
                assert (node["phase"], node.get("finishedAt")) == self.finished[node_id], node
            elif nodes.fulfilled(node["phase"]):
                self.finished[node_id] = (node["phase"], node.get("finishedAt"))

    @invariant()
    def terminal_is_absorbing(self) -> None:
        phase = self.wf["status"].get("phase")
        if self.terminal is not None:
            assert phase == self.terminal
        elif engine.is_terminal(self.wf):
            self.terminal = phase

    @invariant()
    def time_and_graph_are_consistent(self) -> None:
        now = nodes.timestamp(self._now())
        all_nodes = self.wf["status"].get("nodes", {})
        for node in all_nodes.values():
            assert node["startedAt"] <= now
            if node.get("finishedAt"):
                assert node["startedAt"] <= node["finishedAt"] <= now
            for child in node.get("children", []):
                assert child in all_nodes, (node["name"], child)
        done, _, total = str(self.wf["status"].get("progress", "0/0")).partition("/")
        assert 0 <= int(done) <= int(total)


TestArgoMachine = ArgoMachine.TestCase
