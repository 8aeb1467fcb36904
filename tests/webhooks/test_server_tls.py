"""Certificate rotation: a steady request stream sees no failure; new connections see the new
certificate; a bad pair is refused and the old certificate keeps serving."""

from __future__ import annotations

import asyncio
import http.client
import os
import sys
import threading
from pathlib import Path

import orjson
import pytest
from cryptography import x509

from certs import authority, files
from webhooks import manifests, tlsreload

sys.path.insert(0, str(Path(__file__).parent))  # helpers beside this file (no conftest)
import serverfixtures as sf

OP = manifests.load([sf.EXAMPLES / "operation.yaml"])[0]
BODY = orjson.dumps(sf.review_json(OP, uid="rot"))


def kubelet_layout(root: Path, bundle: authority.Bundle, version: str) -> None:
    """Write a Secret the way kubelet does: a timestamped dir, `..data` swapped atomically."""
    target = root / f"..{version}"
    target.mkdir()
    (target / "tls.crt").write_bytes(bundle.tls_crt)
    (target / "tls.key").write_bytes(bundle.tls_key)
    (target / "ca.crt").write_bytes(bundle.ca_crt)
    tmp = root / "..data_tmp"
    tmp.symlink_to(target.name)
    os.replace(tmp, root / "..data")
    for name in ("tls.crt", "tls.key", "ca.crt"):
        if not (root / name).is_symlink():
            (root / name).symlink_to(f"..data/{name}")


def serial_of(conn: http.client.HTTPSConnection) -> int:
    der = conn.sock.getpeercert(binary_form=True)  # type: ignore[union-attr]
    return x509.load_der_x509_certificate(der).serial_number


def renewed(first: authority.Bundle) -> authority.Bundle:
    from cryptography.hazmat.primitives import serialization

    ca_cert = x509.load_pem_x509_certificate(first.ca_crt)
    ca_key = serialization.load_pem_private_key(first.ca_key, password=None)
    names = authority.dns_names("opgate", "test", localhost=True)
    cert, key = authority.make_serving(ca_cert, ca_key, names, days=1, ips=["127.0.0.1"])  # type: ignore[arg-type]
    return authority.reissued(ca_cert, ca_key, cert, key)  # type: ignore[arg-type]


def test_rotation_under_a_steady_stream(tmp_path: Path) -> None:
    first = authority.generate("opgate", "test", days=1, localhost=True)
    kubelet_layout(tmp_path, first, "2026_01")
    old_serial = x509.load_pem_x509_certificate(first.tls_crt).serial_number
    with sf.Running(sf.make_state(), tmp_path) as srv:
        mets = srv.state.metrics
        reloader = tlsreload.Reloader(
            srv.ssl_context,
            tmp_path / "tls.crt",
            tmp_path / "tls.key",
            interval=0.05,
            on_reload=lambda ok: mets.cert_reloads.labels("ok" if ok else "error").inc(),
        )
        task = asyncio.run_coroutine_threadsafe(reloader.run(), srv.loop)
        ca = tmp_path / "ca.crt"
        ctx = sf.client_context(ca)
        failures: list[str] = []
        serials: list[int] = []
        stop = threading.Event()
        counts = {"keepalive": 0, "fresh": 0}

        def keepalive_stream() -> None:
            conn = http.client.HTTPSConnection("127.0.0.1", srv.port, context=ctx, timeout=10)
            try:
                while not stop.is_set() and counts["keepalive"] < 20000:
                    status, _, body = sf.post(srv.port, ca, "/validate/operations", BODY, conn=conn)
                    if status != 200 or orjson.loads(body)["response"]["allowed"] is not True:
                        failures.append(f"keepalive {status} {body[:200]!r}")
                    counts["keepalive"] += 1
            except Exception as exc:
                failures.append(f"keepalive raised {exc!r}")
            finally:
                conn.close()

        def fresh_stream() -> None:
            while not stop.is_set() and counts["fresh"] < 5000:
                conn = http.client.HTTPSConnection(
                    "127.0.0.1",
                    srv.port,
                    context=sf.client_context(tmp_path / "ca.crt"),
                    timeout=10,
                )
                try:
                    status, _, _ = sf.post(srv.port, ca, "/validate/operations", BODY, conn=conn)
                    serials.append(serial_of(conn))
                    if status != 200:
                        failures.append(f"fresh {status}")
                except Exception as exc:
                    failures.append(f"fresh raised {exc!r}")
                finally:
                    conn.close()
                counts["fresh"] += 1

        threads = [threading.Thread(target=keepalive_stream), threading.Thread(target=fresh_stream)]
        for t in threads:
            t.start()
        # Let the stream run on the first certificate, then rotate.
        for _ in range(2000):
            if counts["fresh"] >= 5 and counts["keepalive"] >= 5:
                break
            stop.wait(0.01)
        second = renewed(first)
        new_serial = x509.load_pem_x509_certificate(second.tls_crt).serial_number
        kubelet_layout(tmp_path, second, "2026_02")
        for _ in range(1000):  # bounded wait for a fresh connection to see the new certificate
            if new_serial in serials[-3:]:
                break
            stop.wait(0.01)
        seen_after = counts["fresh"]
        for _ in range(1000):
            if counts["fresh"] >= seen_after + 5:
                break
            stop.wait(0.01)
        stop.set()
        for t in threads:
            t.join(30)
        task.cancel()
        metrics_text = srv.health("/metrics")[1].decode()
    assert failures == []
    assert old_serial in serials and new_serial in serials
    first_new = serials.index(new_serial)
    assert set(serials[first_new:]) == {new_serial}  # once swapped, every new handshake
    assert counts["keepalive"] > 0
    assert reloader.reloads == 1
    assert 'opgate_cert_reloads_total{result="ok"} 1.0' in metrics_text


def test_bad_pair_is_refused_and_the_old_cert_kept(tmp_path: Path) -> None:
    first = authority.generate("opgate", "test", days=1, localhost=True)
    files.write(tmp_path, first)
    ctx = tlsreload.server_context(tmp_path / "tls.crt", tmp_path / "tls.key")
    results: list[bool] = []
    reloader = tlsreload.Reloader(
        ctx, tmp_path / "tls.crt", tmp_path / "tls.key", on_reload=results.append
    )
    assert reloader.check() is False  # unchanged
    other = authority.generate("other", "test", days=1)
    (tmp_path / "tls.crt").write_bytes(other.tls_crt)  # new cert, old key: half a rotation
    assert reloader.check() is False
    assert reloader.check() is False  # the same bad pair is reported once
    assert results == [False]
    (tmp_path / "tls.key").write_bytes(other.tls_key)  # the rotation completes
    assert reloader.check() is True
    assert results == [False, True]
    assert reloader.reloads == 1


def test_server_context_rejects_missing_files(tmp_path: Path) -> None:
    from certs import errors

    with pytest.raises(errors.BadMaterial, match="cannot read"):
        tlsreload.server_context(tmp_path / "tls.crt", tmp_path / "tls.key")
