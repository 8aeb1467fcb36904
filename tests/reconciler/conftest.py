"""Fixtures of the reconciler tests: hypothesis profiles, the reference data, the worked example."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from policies import loader, model

REPO = Path(__file__).resolve().parents[2]
ARGO_REFERENCE = REPO.parent / "shared" / "reference" / "argo"

# The source document's Operation (spec/engine-argo-workflows.txt, "The Operation"), with the
# uid and generation the apiserver would have given it.
OPERATION_YAML = """
apiVersion: ops.vworkspace.io/v1alpha1
kind: Operation
metadata:
  name: nextcloud-myteam-migrate-2026-05-28
  namespace: org-myteam
  uid: 9d33c0de-5f0e-4d8a-9a51-0a4a3c1f7e21
  generation: 1
spec:
  targetRef:
    apiVersion: apps.vworkspace.io/v1alpha1
    kind: ApplicationInstance
    name: nextcloud-myteam
  type: Migration
  engine: workflow
  parameters:
    template: app-migration-with-snapshot
    targetChartVersion: "7.0.0"
    snapshotClassName: csi-rbd
    timeoutSeconds: 1800
    failureAction: rollback
"""

# The source document's WorkflowTemplate as the library installs it (cluster-scoped, see
# DESIGN "Deviations"); only the parts materialization reads.
TEMPLATE_YAML = """
apiVersion: argoproj.io/v1alpha1
kind: ClusterWorkflowTemplate
metadata:
  name: app-migration-with-snapshot
spec:
  entrypoint: migrate
  arguments:
    parameters:
    - { name: targetName }
    - { name: targetNamespace }
    - { name: targetChartVersion }
    - { name: snapshotClassName }
    - { name: failureAction, value: rollback }
  templates:
  - name: migrate
    dag:
      tasks:
      - {name: prechecks, template: run-prechecks}
"""

OPTEMPLATE_YAML = """
apiVersion: ops.vworkspace.io/v1alpha1
kind: OperationTemplate
metadata:
  name: migration-workflow
spec:
  type: Migration
  engine: workflow
  targetKinds: [{apiVersion: apps.vworkspace.io/v1alpha1, kind: ApplicationInstance}]
  inputSchema: {type: object}
  defaults: {failureAction: rollback, timeoutSeconds: 1800}
  workflow:
    templateParameter: template
    allowedTemplateNamespaces: ["org-*"]
    allowClusterWorkflowTemplates: true
    serviceAccountName: vworkspace-operation-runner
"""


@pytest.fixture(scope="session")
def argo_reference() -> Path:
    """The Argo reference data folder; skips the test when it is absent."""
    if not ARGO_REFERENCE.is_dir():
        pytest.skip(f"Argo reference data not found at {ARGO_REFERENCE} (../shared/reference/argo)")
    return ARGO_REFERENCE


@pytest.fixture
def operation() -> dict[str, Any]:
    return yaml.safe_load(OPERATION_YAML)


@pytest.fixture
def cluster_template() -> dict[str, Any]:
    return yaml.safe_load(TEMPLATE_YAML)


@pytest.fixture(scope="session")
def optemplate() -> dict[str, Any]:
    return yaml.safe_load(OPTEMPLATE_YAML)


@pytest.fixture(scope="session")
def policy() -> model.Policy:
    return loader.load_policy(None)


# --- a fake cluster served over the Kubernetes REST API (sim), for the controller tests ------
STATE_PATHS = ("deploy/crds", "deploy/examples/cluster-state", "deploy/workflows")


@dataclasses.dataclass
class Cluster:
    """The simulator's store, its REST facade's kubeconfig, and a kubernetes-client Api."""

    store: Any
    kubeconfig: Path
    api: Any

    def new_api(self) -> Any:
        """Another client of the same cluster (one per controller, as separate processes)."""
        from reconciler import kube

        return kube.Api(kube.api_client(str(self.kubeconfig)))


def wait_for(what: str, predicate: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Poll until `predicate()` is truthy; fail naming `what` after a generous bound."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """The example cluster state (CRDs, library, OperationTemplate, target, runner SA) served
    on 127.0.0.1 with a free port."""
    apiserver = pytest.importorskip("sim.apiserver", reason="the simulator (sim/) is not present")
    from reconciler import kube
    from sim import store as sim_store
    from webhooks import manifests

    cluster_store = sim_store.Store(seed=7)
    cluster_store.load(manifests.load([REPO / p for p in STATE_PATHS]))
    url, stop = apiserver.serve_in_thread(cluster_store, bookmark_interval=0.2)
    kubeconfig = apiserver.write_kubeconfig(tmp_path / "kubeconfig", url)
    api = kube.Api(kube.api_client(str(kubeconfig)))
    try:
        yield Cluster(cluster_store, kubeconfig, api)
    finally:
        api.close()
        stop()


@pytest.fixture(scope="session")
def wait() -> Callable[..., Any]:
    """`wait(what, predicate, timeout=30)`: poll until truthy, else fail naming `what`."""
    return wait_for
