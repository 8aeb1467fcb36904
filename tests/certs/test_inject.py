"""caBundle injection through the real kubernetes client against a real HTTP API server."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certs import authority, errors, inject
from webhooks import cli

VWC = "ValidatingWebhookConfiguration"
MWC = "MutatingWebhookConfiguration"


@pytest.fixture(scope="module")
def pem() -> bytes:
    return authority.generate("opgate", "ns", days=1).ca_crt


def test_inject_sets_every_webhook(admission_api, make_webhook_config, pem) -> None:
    fake, api = admission_api
    fake.objects[(VWC, "opgate")] = make_webhook_config(VWC, "opgate", ["a.ops", "b.ops"])
    fake.objects[(MWC, "opgate")] = make_webhook_config(MWC, "opgate", ["m.ops"])
    done = inject.inject(api, ["opgate"], pem)
    assert [(d.kind, d.name, d.webhooks, d.changed) for d in done] == [
        (VWC, "opgate", ("a.ops", "b.ops"), True),
        (MWC, "opgate", ("m.ops",), True),
    ]
    bundle = base64.b64encode(pem).decode()
    for key in ((VWC, "opgate"), (MWC, "opgate")):
        for hook in fake.objects[key]["webhooks"]:
            assert hook["clientConfig"]["caBundle"] == bundle
            assert base64.b64decode(hook["clientConfig"]["caBundle"]) == pem
    assert {p[2] for p in fake.patches} == {"application/json-patch+json"}


def test_inject_is_idempotent(admission_api, make_webhook_config, pem) -> None:
    fake, api = admission_api
    fake.objects[(VWC, "opgate")] = make_webhook_config(VWC, "opgate", ["a.ops"])
    inject.inject(api, ["opgate"], pem)
    patches = len(fake.patches)
    again = inject.inject(api, ["opgate"], pem)
    assert [d.changed for d in again] == [False]
    assert len(fake.patches) == patches


def test_inject_missing_configuration(admission_api, pem) -> None:
    _fake, api = admission_api
    with pytest.raises(errors.InjectError, match=r"no ValidatingWebhookConfiguration.* named nope"):
        inject.inject(api, ["nope"], pem)


def test_inject_rejects_non_certificate(admission_api) -> None:
    _fake, api = admission_api
    with pytest.raises(errors.BadMaterial, match="holds no PEM certificate"):
        inject.inject(api, ["opgate"], b"not a cert")


def test_cli_inject_ca(tmp_path, admission_api, make_webhook_config, pem, capsys) -> None:
    fake, api = admission_api
    fake.objects[(VWC, "opgate-x")] = make_webhook_config(VWC, "opgate-x", ["a.ops"])
    host = api.configuration.host
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: t\n"
        f"clusters: [{{name: t, cluster: {{server: '{host}'}}}}]\n"
        "users: [{name: t, user: {token: abc}}]\n"
        "contexts: [{name: t, context: {cluster: t, user: t}}]\n"
    )
    (tmp_path / "ca.crt").write_bytes(pem)
    code = cli.main(
        ["certs", "inject-ca", "--ca-file", str(tmp_path / "ca.crt"),
         "--kubeconfig", str(kubeconfig), "--name", "opgate-x"]
    )  # fmt: skip
    assert code == 0
    assert capsys.readouterr().out == f"{VWC}/opgate-x: patched (1 webhooks)\n"
    hook = fake.objects[(VWC, "opgate-x")]["webhooks"][0]
    assert base64.b64decode(hook["clientConfig"]["caBundle"]) == pem
    code = cli.main(
        ["certs", "inject-ca", "--ca-file", str(tmp_path / "ca.crt"),
         "--kubeconfig", str(kubeconfig), "--name", "missing"]
    )  # fmt: skip
    assert code == 1
    assert "no ValidatingWebhookConfiguration" in capsys.readouterr().err


def test_cli_inject_unreadable_ca_file(tmp_path, capsys) -> None:
    code = cli.main(["certs", "inject-ca", "--ca-file", str(tmp_path / "nope.crt")])
    assert code == 2
    assert "cannot read --ca-file" in capsys.readouterr().err


@given(
    current=st.lists(st.sampled_from([None, "", "b2xk", "bmV3"]), max_size=6),
)
def test_patch_ops_set_every_bundle_and_only_where_needed(current: list[str | None]) -> None:
    import types

    import jsonpatch

    bundle = "bmV3"
    doc = {"webhooks": []}
    hooks = []
    for i, value in enumerate(current):
        client_config = {} if value is None else {"caBundle": value}
        doc["webhooks"].append({"name": f"h{i}", "clientConfig": client_config})
        hooks.append(
            types.SimpleNamespace(
                name=f"h{i}", client_config=types.SimpleNamespace(ca_bundle=value)
            )
        )
    ops = inject.patch_ops(hooks, bundle)
    assert len(ops) == 2 * sum(1 for v in current if v != bundle)
    patched = jsonpatch.apply_patch(doc, ops)
    assert all(h["clientConfig"]["caBundle"] == bundle for h in patched["webhooks"])
    assert [h["name"] for h in patched["webhooks"]] == [f"h{i}" for i in range(len(current))]
