"""Read and write TLS material in the layout of a `kubernetes.io/tls` Secret mount."""

from __future__ import annotations

import dataclasses
import os
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certs import authority, errors

CA_CRT = "ca.crt"
TLS_CRT = "tls.crt"
TLS_KEY = "tls.key"
# Private keys are readable by their owner only, as kubelet mounts Secrets with defaultMode 0600.
KEY_MODE = 0o600
CERT_MODE = 0o644


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write a file atomically (temp file + rename) so a reader never sees half of it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write(out: Path, bundle: authority.Bundle, *, ca_key: bool = False) -> list[Path]:
    """Write ca.crt, tls.crt, tls.key (0600) and, when asked, ca.key (0600) into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    plan = [
        (CA_CRT, bundle.ca_crt, CERT_MODE),
        (TLS_KEY, bundle.tls_key, KEY_MODE),
        (TLS_CRT, bundle.tls_crt, CERT_MODE),
    ]
    if ca_key:
        plan.append(("ca.key", bundle.ca_key, KEY_MODE))
    written = []
    for name, data, mode in plan:
        _write(out / name, data, mode)
        written.append(out / name)
    return written


@dataclasses.dataclass(frozen=True, slots=True)
class Pair:
    """A serving certificate chain and its key, as read from disk, checked to match."""

    cert_path: Path
    key_path: Path
    chain: tuple[x509.Certificate, ...]


def read_pair(cert_path: Path, key_path: Path) -> Pair:
    """The certificate chain and key at two paths; BadMaterial says what is wrong."""
    try:
        cert_pem = cert_path.read_bytes()
        key_pem = key_path.read_bytes()
    except OSError as exc:
        raise errors.BadMaterial(f"cannot read {exc.filename}: {exc.strerror}") from None
    try:
        chain = tuple(x509.load_pem_x509_certificates(cert_pem))
    except ValueError as exc:
        raise errors.BadMaterial(f"{cert_path}: not a PEM certificate ({exc})") from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise errors.BadMaterial(
            f"{key_path}: not an unencrypted PEM private key ({exc})"
        ) from None
    if chain[0].public_key().public_numbers() != key.public_key().public_numbers():  # type: ignore[union-attr]
        raise errors.BadMaterial(f"{key_path} is not the key of the certificate in {cert_path}")
    return Pair(cert_path, key_path, chain)


def read_ca(path: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The CA certificate in `path/ca.crt` and its key in `path/ca.key` (to re-issue)."""
    try:
        cert = x509.load_pem_x509_certificate((path / CA_CRT).read_bytes())
        key = serialization.load_pem_private_key((path / "ca.key").read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise errors.BadMaterial(f"cannot load the CA from {path}: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise errors.BadMaterial(f"{path / 'ca.key'} is not an ECDSA key")
    return cert, key
