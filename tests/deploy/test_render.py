"""The kustomizations render, and every rendered object is valid for its schema."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import kubernetes_validate
import pytest

from tests.deploy import helpers as c

# The newest Kubernetes release kubernetes-validate ships schemas for.
K8S_VERSION = kubernetes_validate.latest_version()
ARGO_KINDS = {"Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow"}
# cert-manager ships no schema we can read offline; test_cert_manager_objects checks them.
CERT_MANAGER_KINDS = {"Certificate", "Issuer", "ClusterIssuer"}

BASE_KINDS = Counter(
    {
        "Namespace": 1,
        "CustomResourceDefinition": 2,
        "ServiceAccount": 2,
        "ClusterRole": 2,
        "ClusterRoleBinding": 2,
        "Role": 1,
        "RoleBinding": 1,
        "Deployment": 2,
        "Service": 1,
        "PodDisruptionBudget": 1,
        "MutatingWebhookConfiguration": 1,
        "ValidatingWebhookConfiguration": 1,
        "ClusterWorkflowTemplate": 3,
    }
)


def k8s_errors(obj: c.Obj) -> list[str]:
    """Errors of a built-in object against the Kubernetes OpenAPI schema (unknown fields fail)."""
    try:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [f"{'.'.join(map(str, exc.path))}: {exc.message}"]
    return []


def test_the_base_renders_everything_once(base: list[c.Obj]) -> None:
    assert Counter(o["kind"] for o in base) == BASE_KINDS
    keys = [(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in base]
    assert len(keys) == len(set(keys))


def test_the_base_holds_our_crds(base: list[c.Obj]) -> None:
    names = {o["metadata"]["name"] for o in c.find(base, "CustomResourceDefinition")}
    assert names == {"operations.ops.vworkspace.io", "operationtemplates.ops.vworkspace.io"}


@pytest.mark.parametrize("fixture", ["base", "cert_manager", "runner"])
def test_every_built_in_object_validates(fixture: str, request: pytest.FixtureRequest) -> None:
    objs: list[c.Obj] = request.getfixturevalue(fixture)
    checked = [o for o in objs if o["kind"] not in ARGO_KINDS | CERT_MANAGER_KINDS]
    assert checked
    problems = {f"{o['kind']}/{o['metadata']['name']}": k8s_errors(o) for o in checked}
    assert {k: v for k, v in problems.items() if v} == {}


def test_every_built_in_manifest_validates_as_written(manifests: list[c.Obj]) -> None:
    """The same check without kubectl: our files before kustomize touches them."""
    checked = [o for o in manifests if o["kind"] not in ARGO_KINDS | CERT_MANAGER_KINDS]
    assert len(checked) >= 15
    problems = {f"{o['kind']}/{o['metadata']['name']}": k8s_errors(o) for o in checked}
    assert {k: v for k, v in problems.items() if v} == {}


@pytest.mark.parametrize("fixture", ["base", "cert_manager"])
def test_every_argo_object_validates(
    fixture: str, request: pytest.FixtureRequest, argo_validator: Callable[[c.Obj], list[str]]
) -> None:
    objs: list[c.Obj] = request.getfixturevalue(fixture)
    checked = [o for o in objs if o["kind"] in ARGO_KINDS]
    assert len(checked) == 3
    problems = {f"{o['kind']}/{o['metadata']['name']}": argo_validator(o) for o in checked}
    assert {k: v for k, v in problems.items() if v} == {}


def test_kubernetes_validation_catches_a_typo() -> None:
    """Strict: an unknown field fails (a validator that accepts anything proves nothing)."""
    deployment = c.one(c.raw("webhook"), "Deployment", "opgate-webhook")
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContxt"] = {}
    assert k8s_errors(deployment)
    deployment["spec"]["replicas"] = "two"
    assert k8s_errors(deployment)


def test_argo_validation_catches_a_typo(argo_validator: Callable[[c.Obj], list[str]]) -> None:
    template = c.one(c.raw("workflows"), "ClusterWorkflowTemplate", "app-migration-with-snapshot")
    template["spec"]["templates"][1]["scrpt"] = {}
    assert argo_validator(template)


def test_namespaced_objects_live_in_vworkspace_system(base: list[c.Obj]) -> None:
    cluster_scoped = {
        "Namespace",
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleBinding",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "ClusterWorkflowTemplate",
    }
    for obj in base:
        namespace = obj["metadata"].get("namespace")
        expected = None if obj["kind"] in cluster_scoped else "vworkspace-system"
        assert namespace == expected, f"{obj['kind']}/{obj['metadata']['name']}"


def test_the_overlay_is_the_base_plus_cert_manager(
    base: list[c.Obj], cert_manager: list[c.Obj]
) -> None:
    def key(o: c.Obj) -> tuple[str, str]:
        return (o["kind"], o["metadata"]["name"])

    everything = {key(o) for o in base}
    added = {key(o) for o in cert_manager} - everything
    assert added == {
        ("Issuer", "opgate-selfsigned"),
        ("Issuer", "opgate-ca"),
        ("Certificate", "opgate-ca"),
        ("Certificate", "opgate-webhook"),
    }
    assert everything <= {key(o) for o in cert_manager}  # the CRDs included


def test_cert_manager_objects(cert_manager: list[c.Obj]) -> None:
    """The serving certificate is the Secret the Deployment mounts, for the Service's names."""
    cert = c.one(cert_manager, "Certificate", "opgate-webhook")
    deployment = c.one(cert_manager, "Deployment", "opgate-webhook")
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert cert["spec"]["secretName"] == volumes["tls"]["secret"]["secretName"]
    assert set(cert["spec"]["dnsNames"]) == {
        "opgate-webhook.vworkspace-system.svc",
        "opgate-webhook.vworkspace-system.svc.cluster.local",
    }
    issuer = cert["spec"]["issuerRef"]
    ca_issuer = c.one(cert_manager, issuer["kind"], issuer["name"])
    ca_cert = c.one(cert_manager, "Certificate", "opgate-ca")
    assert ca_issuer["spec"]["ca"]["secretName"] == ca_cert["spec"]["secretName"]
    assert ca_cert["spec"]["isCA"] is True
    for obj in c.find(cert_manager, "Certificate") + c.find(cert_manager, "Issuer"):
        assert obj["apiVersion"] == "cert-manager.io/v1"
        assert obj["metadata"]["namespace"] == "vworkspace-system"


@pytest.mark.parametrize("kind", ["ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"])
def test_the_overlay_injects_the_ca(
    cert_manager: list[c.Obj], base: list[c.Obj], kind: str
) -> None:
    annotations = c.one(cert_manager, kind, "opgate")["metadata"].get("annotations", {})
    assert annotations == {"cert-manager.io/inject-ca-from": "vworkspace-system/opgate-webhook"}
    assert "annotations" not in c.one(base, kind, "opgate")["metadata"]


def test_the_runner_renders_into_any_namespace(tmp_path: Path) -> None:
    """An overlay setting a namespace moves the runner and its binding's subject together."""
    # kustomize wants a relative path to another kustomization root.
    runner = os.path.relpath(c.DEPLOY / "runner", tmp_path)
    (tmp_path / "kustomization.yaml").write_text(f"namespace: org-myteam\nresources: [{runner}]\n")
    objs = c.kustomize(tmp_path)
    assert {o["metadata"]["namespace"] for o in objs} == {"org-myteam"}
    binding = c.one(objs, "RoleBinding", "vworkspace-operation-runner")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "vworkspace-operation-runner", "namespace": "org-myteam"}
    ]
