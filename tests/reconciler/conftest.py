"""Fixtures of the reconciler tests: hypothesis profiles, the reference data, the worked example."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, settings

from policies import loader, model

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "deep", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("OPGATE_HYPOTHESIS", "ci"))

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
