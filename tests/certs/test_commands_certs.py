"""`opgate certs generate`: files written, chain verifies, CA reuse for rotation."""

from __future__ import annotations

import ssl
import stat

from cryptography import x509

from webhooks import cli


def test_generate_writes_a_verifying_chain(tmp_path, capsys) -> None:
    out = tmp_path / "tls"
    code = cli.main(
        ["certs", "generate", "--out", str(out), "--service", "hook", "--namespace", "ns",
         "--days", "3", "--localhost"]
    )  # fmt: skip
    assert code == 0
    assert capsys.readouterr().out.split() == [
        str(out / n) for n in ("ca.crt", "tls.key", "tls.crt")
    ]
    assert stat.S_IMODE((out / "tls.key").stat().st_mode) == 0o600
    ctx = ssl.create_default_context(cafile=str(out / "ca.crt"))
    assert len(ctx.get_ca_certs()) == 1
    cert = x509.load_pem_x509_certificate((out / "tls.crt").read_bytes())
    ca = x509.load_pem_x509_certificate((out / "ca.crt").read_bytes())
    cert.verify_directly_issued_by(ca)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "hook.ns.svc" in names.get_values_for_type(x509.DNSName)


def test_reuse_ca_keeps_the_ca(tmp_path) -> None:
    out = tmp_path / "tls"
    assert cli.main(["certs", "generate", "--out", str(out), "--ca-key"]) == 0
    ca_before = (out / "ca.crt").read_bytes()
    crt_before = (out / "tls.crt").read_bytes()
    assert cli.main(["certs", "generate", "--out", str(out), "--reuse-ca", "--localhost"]) == 0
    assert (out / "ca.crt").read_bytes() == ca_before
    assert (out / "tls.crt").read_bytes() != crt_before
    cert = x509.load_pem_x509_certificate((out / "tls.crt").read_bytes())
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ca_before))


def test_reuse_ca_without_ca_key(tmp_path, capsys) -> None:
    assert cli.main(["certs", "generate", "--out", str(tmp_path), "--reuse-ca"]) == 2
    assert "cannot load the CA" in capsys.readouterr().err


def test_bad_days(tmp_path, capsys) -> None:
    assert cli.main(["certs", "generate", "--out", str(tmp_path), "--days", "0"]) == 2
    assert "--days must be at least 1" in capsys.readouterr().err


def test_a_new_ca_removes_the_key_of_the_one_it_replaces(tmp_path, capsys) -> None:
    """Otherwise --reuse-ca would sign with a key that does not match ca.crt."""
    out = tmp_path / "tls"
    assert cli.main(["certs", "generate", "--out", str(out), "--ca-key"]) == 0
    assert (out / "ca.key").exists()
    assert cli.main(["certs", "generate", "--out", str(out)]) == 0
    assert not (out / "ca.key").exists()
    assert "removed" in capsys.readouterr().err
    assert cli.main(["certs", "generate", "--out", str(out), "--reuse-ca"]) == 2
