"""The Deployments: hardened pods, probes, resources, TLS mount and arguments."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy import helpers as c

DEPLOYMENTS = [("webhook", "opgate-webhook"), ("reconciler", "vworkspace-operator")]
IMAGE = "ghcr.io/vworkspace-io/opgate:0.1.0"


def pod_of(directory: str, name: str) -> dict[str, Any]:
    return c.one(c.raw(directory), "Deployment", name)["spec"]["template"]["spec"]


@pytest.mark.parametrize(("directory", "name"), DEPLOYMENTS)
def test_pods_are_hardened(directory: str, name: str) -> None:
    pod = pod_of(directory, name)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] > 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        assert not pod.get(key)
    for container in pod["containers"]:
        sc = container["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["runAsNonRoot"] is True
        assert sc["capabilities"] == {"drop": ["ALL"]}
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
        assert not sc.get("privileged")
        resources = container["resources"]
        assert set(resources["requests"]) == {"cpu", "memory"}
        assert set(resources["limits"]) == {"cpu", "memory"}
        assert container["image"] == IMAGE


def test_the_webhook_serves_tls_from_its_secret_with_probes() -> None:
    pod = pod_of("webhook", "opgate-webhook")
    (container,) = pod["containers"]
    args = container["args"]
    assert args[0] == "serve"
    flags = dict(zip(args[1::2], args[2::2], strict=True))
    assert flags == {"--tls-dir": "/etc/opgate/tls", "--port": "8443", "--health-port": "8080"}
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["tls"]["mountPath"] == flags["--tls-dir"]
    assert mounts["tls"]["readOnly"] is True
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["tls"]["secret"]["secretName"] == "opgate-webhook-tls"
    # The non-root process can read the files: world-readable, or group-readable via fsGroup.
    mode = volumes["tls"]["secret"].get("defaultMode", 0o644)
    group_reads = mode & 0o040 and pod["securityContext"].get("fsGroup") is not None
    assert mode & 0o004 or group_reads
    assert not mode & 0o002  # nobody writes them
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"https": 8443, "http-health": 8080}
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        get = container[probe]["httpGet"]
        assert get["path"] == path
        assert ports[get["port"]] == 8080


def test_the_webhook_survives_one_pod_going_away() -> None:
    objs = c.raw("webhook")
    deployment = c.one(objs, "Deployment", "opgate-webhook")
    spec = deployment["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    (term,) = spec["template"]["spec"]["affinity"]["podAntiAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"
    ]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    labels = spec["template"]["metadata"]["labels"]
    assert term["podAffinityTerm"]["labelSelector"]["matchLabels"].items() <= labels.items()
    pdb = c.one(objs, "PodDisruptionBudget", "opgate-webhook")
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_the_reconciler_runs_as_the_operator_policy_names() -> None:
    from policies import loader

    policy = loader.load_policy(None)
    objs = c.raw("reconciler")
    deployment = c.one(objs, "Deployment", "vworkspace-operator")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == policy.operator_sa.name
    assert deployment["metadata"]["namespace"] == policy.operator_sa.namespace
    assert pod["containers"][0]["args"][0] == "reconcile"


def test_the_namespace_enforces_the_restricted_pod_security_standard() -> None:
    namespace = c.one(c.raw("base"), "Namespace", "vworkspace-system")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_the_reconciler_is_probed_on_the_port_it_serves_health_on() -> None:
    (container,) = pod_of("reconciler", "vworkspace-operator")["containers"]
    args = container["args"]
    port = int(args[args.index("--health-port") + 1])
    (declared,) = container["ports"]
    assert (declared["name"], declared["containerPort"]) == ("health", port)
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        assert container[probe]["httpGet"] == {"path": path, "port": "health"}
