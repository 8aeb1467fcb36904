"""Write a CA bundle into Validating/MutatingWebhookConfigurations with the kubernetes client.

For clusters without cert-manager's CA injector: after `opgate certs generate`, the webhook
configurations must carry the CA that signed the serving certificate in each webhook's
`clientConfig.caBundle`, or kube-apiserver cannot verify the webhook's TLS certificate.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Sequence
from typing import Any

from cryptography import x509
from kubernetes import client

from certs import errors

# Both configuration kinds carry webhooks with a clientConfig.caBundle.
KINDS = ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")


@dataclasses.dataclass(frozen=True, slots=True)
class Patched:
    """One webhook configuration whose webhooks now carry the CA bundle."""

    kind: str
    name: str
    webhooks: tuple[str, ...]
    changed: bool


def ca_bundle(pem: bytes) -> str:
    """The base64 caBundle for PEM CA certificates; BadMaterial when it is not a certificate."""
    try:
        x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise errors.BadMaterial(f"the CA file holds no PEM certificate ({exc})") from None
    return base64.b64encode(pem).decode("ascii")


def patch_ops(webhooks: Sequence[Any], bundle: str) -> list[dict[str, Any]]:
    """JSONPatch ops setting caBundle on every webhook, each guarded by a test of its name."""
    ops: list[dict[str, Any]] = []
    for index, hook in enumerate(webhooks):
        if (hook.client_config.ca_bundle or "") == bundle:
            continue
        ops.append({"op": "test", "path": f"/webhooks/{index}/name", "value": hook.name})
        ops.append(
            {"op": "add", "path": f"/webhooks/{index}/clientConfig/caBundle", "value": bundle}
        )
    return ops


def _calls(api: client.AdmissionregistrationV1Api, kind: str) -> tuple[Any, Any]:
    if kind == "ValidatingWebhookConfiguration":
        return (
            api.read_validating_webhook_configuration,
            api.patch_validating_webhook_configuration,
        )
    return (api.read_mutating_webhook_configuration, api.patch_mutating_webhook_configuration)


def inject(api_client: client.ApiClient, names: Sequence[str], pem: bytes) -> list[Patched]:
    """Set the CA bundle on every webhook of the named configurations of both kinds.

    A name must exist as at least one of the two kinds; InjectError names the ones that do not.
    """
    bundle = ca_bundle(pem)
    api = client.AdmissionregistrationV1Api(api_client)
    done: list[Patched] = []
    missing = []
    for name in names:
        found = False
        for kind in KINDS:
            read, patch = _calls(api, kind)
            try:
                config = read(name)
            except client.ApiException as exc:
                if exc.status == 404:
                    continue
                raise errors.InjectError(
                    f"cannot read {kind} {name}: HTTP {exc.status} {exc.reason}"
                ) from None
            found = True
            hooks = list(config.webhooks or [])
            ops = patch_ops(hooks, bundle)
            if ops:
                try:
                    patch(name, ops)
                except client.ApiException as exc:
                    raise errors.InjectError(
                        f"cannot patch {kind} {name}: HTTP {exc.status} {exc.reason}"
                    ) from None
            done.append(Patched(kind, name, tuple(h.name for h in hooks), bool(ops)))
        if not found:
            missing.append(name)
    if missing:
        raise errors.InjectError(
            "no ValidatingWebhookConfiguration or MutatingWebhookConfiguration named "
            + ", ".join(missing)
            + "; apply deploy/ first or pass --name"
        )
    return done
