"""Our own `deploy/`, rendered by `kubectl kustomize`, holds no high or critical RBAC finding."""

from __future__ import annotations

import functools
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from webhooks import cli, clusterview, kinds, manifests
from webhooks.rbac import authorizer, findings, inputs, subjects

REPO = Path(__file__).resolve().parents[3]
KUBECTL = shutil.which("kubectl")
# Kustomizations to render: the base, the cert-manager overlay and the runner template.
TARGETS = ["deploy", "deploy/overlays/cert-manager", "deploy/runner"]


def render(target: str) -> str:
    """`kubectl kustomize` of a target, or a skip saying why it cannot be rendered here."""
    if KUBECTL is None:
        pytest.skip("kubectl is not on PATH (kubectl 1.32 with kustomize v5 renders deploy/)")
    if not (REPO / target / "kustomization.yaml").exists():
        pytest.skip(f"{target}/kustomization.yaml is not in this checkout")
    return _kustomize(target)


@functools.cache
def _kustomize(target: str) -> str:
    done = subprocess.run(
        [str(KUBECTL), "kustomize", str(REPO / target)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("target", TARGETS)
def test_rendered_deploy_has_no_high_or_critical_finding(target):
    objs = [inputs.with_namespace(o) for o in manifests.parse_documents(render(target), target)]
    view = clusterview.ClusterIndex(objs)
    found = findings.review(view)
    assert findings.at_least(found, "high") == [], [f.to_json() for f in found]
    accounts = view.list(kinds.SERVICE_ACCOUNT.group, kinds.SERVICE_ACCOUNT.kind)
    for sa in accounts:
        ns = sa["metadata"].get("namespace") or inputs.DEFAULT_NAMESPACE
        subject = subjects.service_account(ns, sa["metadata"]["name"])
        held = findings.for_subject(view, subject)
        assert findings.at_least(held, "high") == [], (subject, [f.to_json() for f in held])


def test_runner_template_grants_exactly_its_role():
    objs = [
        inputs.with_namespace(o)
        for o in manifests.parse_documents(render("deploy/runner"), "runner")
    ]
    view = clusterview.ClusterIndex(objs)
    runner = subjects.service_account("default", "vworkspace-operation-runner")
    grants = authorizer.effective_rules(view, runner)
    assert grants and {str(g.role) for g in grants} == {"Role/default/vworkspace-operation-runner"}
    assert findings.for_subject(view, runner) == []


def test_cli_over_stdin_passes_fail_on_high(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(render("deploy")))
    code = cli.main(["review-rbac", "-", "--fail-on", "high", "-o", "json"])
    out, _ = capsys.readouterr()
    assert code == 0
    assert all(f["severity"] in ("low", "medium") for f in json.loads(out))
