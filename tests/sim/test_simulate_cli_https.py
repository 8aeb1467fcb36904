"""`opgate simulate --webhook-url`: the same decisions over real HTTPS as in process.

The webhook server (the real `opgate serve` application on 127.0.0.1, TLS checked against the
CA given with --ca-file) decides against the scenario's cluster state.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from policies import loader
from sim import runner, scenario
from tests.sim import argofixtures as fx
from tests.sim.conftest import WebhookServer
from webhooks import clusterview, metrics, server

SCENARIOS = fx.REPO / "sim" / "scenarios"
DENIALS = ["schema-violations.yaml", "runner-bound-cluster-wide.yaml", "engine-not-installed.yaml"]


@pytest.fixture
def served_state(webhook_tls: Path) -> Iterator[str]:
    """The server application deciding against the shipped scenarios' cluster state."""
    scen = scenario.load(SCENARIOS / DENIALS[0])
    state = server.State(
        view=clusterview.ClusterIndex(scen.objects),
        policy=loader.load_policy(None),
        metrics=metrics.Metrics(),
    )
    running = WebhookServer(state, webhook_tls)
    try:
        yield running.url
    finally:
        running.stop()


def _decisions(result: runner.Result) -> list[tuple[object, ...]]:
    return [(d.kind, d.name, d.allowed, d.code, d.reason, d.message) for d in result.decisions]


@pytest.mark.parametrize("name", DENIALS)
def test_https_decisions_equal_in_process(name: str, served_state: str, webhook_tls: Path) -> None:
    scen = scenario.load(SCENARIOS / name)
    local = runner.run(scen)
    remote = runner.run(scen, webhook_url=served_state, ca_file=str(webhook_tls / "ca.crt"))
    assert remote.ok, [f.message for f in remote.failures]
    assert _decisions(remote) == _decisions(local)


def test_https_with_an_unknown_ca_fails_closed(served_state: str, tmp_path: Path) -> None:
    from certs import authority, files

    files.write(tmp_path, authority.generate("x", "y", days=1, localhost=True))
    other = tmp_path / "ca.crt"
    scen = scenario.load(SCENARIOS / "engine-not-installed.yaml")
    result = runner.run(scen, webhook_url=served_state, ca_file=str(other))
    assert not result.ok
    decision = result.decisions[0]
    assert (decision.allowed, decision.code) == (False, 500)
    assert "failed calling webhook" in decision.message
