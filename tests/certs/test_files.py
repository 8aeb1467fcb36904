"""Writing and reading TLS material: modes, atomicity, pair checks."""

from __future__ import annotations

import stat

import pytest

from certs import authority, errors, files


@pytest.fixture(scope="module")
def bundle() -> authority.Bundle:
    return authority.generate("opgate", "ns", days=2, localhost=True)


def test_write_layout_and_modes(tmp_path, bundle: authority.Bundle) -> None:
    written = files.write(tmp_path / "out", bundle)
    assert sorted(p.name for p in written) == ["ca.crt", "tls.crt", "tls.key"]
    assert stat.S_IMODE((tmp_path / "out" / "tls.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "out" / "tls.crt").stat().st_mode) == 0o644
    assert not (tmp_path / "out" / "ca.key").exists()
    assert [p.name for p in (tmp_path / "out").iterdir() if p.name.startswith(".")] == []


def test_write_ca_key_on_request(tmp_path, bundle: authority.Bundle) -> None:
    files.write(tmp_path, bundle, ca_key=True)
    assert stat.S_IMODE((tmp_path / "ca.key").stat().st_mode) == 0o600
    cert, _key = files.read_ca(tmp_path)
    assert cert.subject.rfc4514_string().startswith("CN=opgate-ca")


def test_read_pair_matches(tmp_path, bundle: authority.Bundle) -> None:
    files.write(tmp_path, bundle)
    pair = files.read_pair(tmp_path / "tls.crt", tmp_path / "tls.key")
    assert len(pair.chain) == 1


def test_read_pair_mismatch(tmp_path, bundle: authority.Bundle) -> None:
    other = authority.generate("x", "y", days=1)
    files.write(tmp_path, bundle)
    (tmp_path / "tls.key").write_bytes(other.tls_key)
    with pytest.raises(errors.BadMaterial, match="is not the key of the certificate"):
        files.read_pair(tmp_path / "tls.crt", tmp_path / "tls.key")


@pytest.mark.parametrize(
    ("crt", "key", "message"),
    [
        (None, b"", "cannot read"),
        (b"garbage", b"", "not a PEM certificate"),
        ("cert", b"garbage", "not an unencrypted PEM private key"),
    ],
)
def test_read_pair_bad_files(tmp_path, bundle: authority.Bundle, crt, key, message) -> None:
    if crt is not None:
        (tmp_path / "tls.crt").write_bytes(bundle.tls_crt if crt == "cert" else crt)
    (tmp_path / "tls.key").write_bytes(key)
    with pytest.raises(errors.BadMaterial, match=message):
        files.read_pair(tmp_path / "tls.crt", tmp_path / "tls.key")


def test_read_ca_missing(tmp_path) -> None:
    with pytest.raises(errors.BadMaterial, match="cannot load the CA"):
        files.read_ca(tmp_path)
