"""The CA and serving certificate: extensions, SANs, chain, and a real TLS handshake."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from hypothesis import given
from hypothesis import strategies as st

from certs import authority, errors

DNS_LABEL = st.from_regex(r"[a-z]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)


@pytest.fixture(scope="module")
def bundle() -> authority.Bundle:
    return authority.generate("opgate", "vworkspace-system", days=30, localhost=True)


def test_ca_is_a_ca_that_only_signs(bundle: authority.Bundle) -> None:
    ca = x509.load_pem_x509_certificate(bundle.ca_crt)
    bc = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca is True
    ku = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.key_cert_sign and ku.crl_sign
    assert isinstance(ca.public_key(), ec.EllipticCurvePublicKey)
    assert ca.public_key().curve.name == "secp256r1"
    assert ca.issuer == ca.subject


def test_serving_cert_usages_and_names(bundle: authority.Bundle) -> None:
    cert = x509.load_pem_x509_certificate(bundle.tls_crt)
    ca = x509.load_pem_x509_certificate(bundle.ca_crt)
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and not ku.key_cert_sign and not ku.crl_sign
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [
        "opgate",
        "opgate.vworkspace-system",
        "opgate.vworkspace-system.svc",
        "opgate.vworkspace-system.svc.cluster.local",
        "localhost",
    ]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    cert.verify_directly_issued_by(ca)
    assert cert.public_key().curve.name == "secp256r1"  # type: ignore[union-attr]
    assert cert.not_valid_after_utc <= ca.not_valid_after_utc


def test_without_localhost_no_localhost_names() -> None:
    b = authority.generate("svc", "ns", days=1)
    san = x509.load_pem_x509_certificate(b.tls_crt).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert "localhost" not in san.value.get_values_for_type(x509.DNSName)
    assert san.value.get_values_for_type(x509.IPAddress) == []


def test_days_must_be_positive() -> None:
    with pytest.raises(ValueError, match="days must be at least 1"):
        authority.generate("svc", "ns", days=0)


@given(service=DNS_LABEL, namespace=DNS_LABEL, localhost=st.booleans())
def test_dns_names_are_the_service_names(service: str, namespace: str, localhost: bool) -> None:
    names = authority.dns_names(service, namespace, localhost=localhost)
    assert names[:4] == [
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.cluster.local",
    ]
    assert ("localhost" in names) == localhost
    assert len(set(names)) == len(names) or service == "localhost"


def test_the_longest_valid_names_get_a_certificate() -> None:
    """63-character names are valid Kubernetes names; the CA's commonName stays within X.509's
    64 characters."""
    service, namespace = "s" + "e" * 62, "n" * 63
    b = authority.generate(service, namespace, days=1)
    ca = x509.load_pem_x509_certificate(b.ca_crt)
    assert all(len(a.value) <= authority.MAX_COMMON_NAME for a in ca.subject)
    leaf = x509.load_pem_x509_certificate(b.tls_crt)
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert f"{service}.{namespace}.svc" in san.get_values_for_type(x509.DNSName)


@pytest.mark.parametrize(
    ("service", "namespace", "problem"),
    [
        ("Bad_Name", "ns", "not a valid Service name"),
        ("1svc", "ns", "not a valid Service name"),
        ("s" * 64, "ns", "not a valid Service name"),
        ("svc", "", "not a valid namespace name"),
        ("svc", "a.b", "not a valid namespace name"),
    ],
)
def test_names_kubernetes_would_refuse_are_refused(service: str, namespace: str, problem: str):
    with pytest.raises(errors.CertError, match=problem):
        authority.generate(service, namespace, days=1)


def test_handshake_verifies_with_the_generated_ca(tmp_path, bundle: authority.Bundle) -> None:
    """A real TLS server with tls.crt/tls.key; a client trusting only ca.crt verifies it."""
    (tmp_path / "tls.crt").write_bytes(bundle.tls_crt)
    (tmp_path / "tls.key").write_bytes(bundle.tls_key)
    (tmp_path / "ca.crt").write_bytes(bundle.ca_crt)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(tmp_path / "tls.crt", tmp_path / "tls.key")

    async def scenario() -> tuple[str, bytes]:
        async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"hello")
            await writer.drain()
            writer.close()

        srv = await asyncio.start_server(on_client, "127.0.0.1", 0, ssl=server_ctx)
        port = srv.sockets[0].getsockname()[1]
        client_ctx = ssl.create_default_context(cafile=str(tmp_path / "ca.crt"))
        out = []
        for host in ("localhost", "127.0.0.1"):
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, ssl=client_ctx, server_hostname=host
            )
            out.append(await reader.read())
            writer.close()
        srv.close()
        await srv.wait_closed()
        return "ok", b"".join(out)

    assert asyncio.run(scenario()) == ("ok", b"hellohello")


def test_handshake_fails_for_a_name_not_in_the_cert(tmp_path, bundle: authority.Bundle) -> None:
    (tmp_path / "ca.crt").write_bytes(bundle.ca_crt)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    (tmp_path / "tls.crt").write_bytes(bundle.tls_crt)
    (tmp_path / "tls.key").write_bytes(bundle.tls_key)
    server_ctx.load_cert_chain(tmp_path / "tls.crt", tmp_path / "tls.key")

    async def scenario() -> None:
        srv = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0, ssl=server_ctx)
        port = srv.sockets[0].getsockname()[1]
        client_ctx = ssl.create_default_context(cafile=str(tmp_path / "ca.crt"))
        try:
            with pytest.raises(ssl.SSLCertVerificationError, match="match"):
                await asyncio.open_connection(
                    "127.0.0.1", port, ssl=client_ctx, server_hostname="evil.example"
                )
        finally:
            srv.close()
            await srv.wait_closed()

    asyncio.run(scenario())
