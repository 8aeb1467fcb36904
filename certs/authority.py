"""A CA and an ECDSA P-256 serving certificate for the webhook Service, as PEM bytes."""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import re
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certs import errors

# kube-apiserver and cert-manager default to one year for serving certificates.
DEFAULT_DAYS = 365
# The CA outlives the serving certificates it signs so that re-issuing one keeps the caBundle.
CA_DAYS_FACTOR = 10
# Clock skew between the signer and kube-apiserver nodes: certificates are valid from a bit ago.
BACKDATE = datetime.timedelta(minutes=5)


@dataclasses.dataclass(frozen=True, slots=True)
class Bundle:
    """PEM material in the layout of a `kubernetes.io/tls` Secret plus its CA."""

    ca_crt: bytes
    ca_key: bytes
    tls_crt: bytes
    tls_key: bytes


# A Service name is an RFC 1035 label, a namespace an RFC 1123 label (both at most 63).
_SERVICE = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# X.509 limits a commonName to 64 characters.
MAX_COMMON_NAME = 64


def dns_names(service: str, namespace: str, *, localhost: bool = False) -> list[str]:
    """The DNS names kube-apiserver may use to reach a Service (plus `localhost` when asked).

    Raises CertError for a service or namespace Kubernetes would not accept.
    """
    if not _SERVICE.match(service):
        raise errors.CertError(
            f"service {service!r} is not a valid Service name: at most 63 characters of lower "
            "case letters, digits and '-', starting with a letter and ending with a letter or digit"
        )
    if not _NAMESPACE.match(namespace):
        raise errors.CertError(
            f"namespace {namespace!r} is not a valid namespace name: at most 63 characters of "
            "lower case letters, digits and '-', starting and ending with a letter or digit"
        )
    names = [
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.cluster.local",
    ]
    return [*names, "localhost"] if localhost else names


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)


def make_ca(common_name: str, *, days: int) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A self-signed CA certificate (CA:true, keyCertSign, cRLSign) and its P-256 key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def make_serving(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    names: list[str],
    *,
    days: int,
    ips: Sequence[str] = (),
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A serving certificate (CA:false, digitalSignature, serverAuth) for DNS names and IPs."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(min(now + datetime.timedelta(days=days), ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def generate(
    service: str, namespace: str, *, days: int = DEFAULT_DAYS, localhost: bool = False
) -> Bundle:
    """A fresh CA and a serving certificate for `service.namespace` (and localhost/127.0.0.1)."""
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    names = dns_names(service, namespace, localhost=localhost)
    ca_name = f"opgate-ca ({service}.{namespace})"
    if len(ca_name) > MAX_COMMON_NAME:
        ca_name = "opgate-ca"
    ca_cert, ca_key = make_ca(ca_name, days=days * CA_DAYS_FACTOR)
    ips = ["127.0.0.1"] if localhost else []
    cert, key = make_serving(ca_cert, ca_key, names, days=days, ips=ips)
    return reissued(ca_cert, ca_key, cert, key)


def reissued(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    cert: x509.Certificate,
    key: ec.EllipticCurvePrivateKey,
) -> Bundle:
    """A Bundle of an existing CA and a serving certificate it signed."""
    return Bundle(
        ca_crt=ca_cert.public_bytes(serialization.Encoding.PEM),
        ca_key=_key_pem(ca_key),
        tls_crt=cert.public_bytes(serialization.Encoding.PEM),
        tls_key=_key_pem(key),
    )
