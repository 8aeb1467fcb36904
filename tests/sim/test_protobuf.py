"""Decoding the Kubernetes protobuf bodies kubectl sends for built-in kinds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim import errors, protobuf


def _varint(value: int) -> bytes:
    out = b""
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _string(number: int, text: str) -> bytes:
    return _field(number, text.encode())


def _envelope(raw: bytes, api_version: str, kind: str) -> bytes:
    type_meta = _string(1, api_version) + _string(2, kind)
    return protobuf.MAGIC + _field(1, type_meta) + _field(2, raw)


names = st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True)
texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)


@given(names, st.dictionaries(names, texts, max_size=4), st.lists(names, max_size=3))
def test_config_map_with_labels_and_finalizers_round_trips(
    name: str, data: dict[str, str], finalizers: list[str]
) -> None:
    meta = _string(1, name) + _string(3, "team")
    meta += b"".join(_field(11, _string(1, k) + _string(2, "v")) for k in sorted(data))
    meta += b"".join(_string(14, f) for f in finalizers)
    raw = _field(1, meta) + b"".join(
        _field(2, _string(1, k) + _string(2, v)) for k, v in data.items()
    )
    obj = protobuf.decode(_envelope(raw, "v1", "ConfigMap"), "", "ConfigMap")
    assert obj["apiVersion"] == "v1" and obj["kind"] == "ConfigMap"
    assert obj["metadata"]["name"] == name and obj["metadata"]["namespace"] == "team"
    assert obj.get("data", {}) == data
    assert obj["metadata"].get("labels", {}) == dict.fromkeys(data, "v")
    assert obj["metadata"].get("finalizers", []) == finalizers


@pytest.mark.parametrize(
    ("body", "kind", "code"),
    [
        (b"not protobuf", "ConfigMap", 400),
        (protobuf.MAGIC + b"\x0a\xff", "ConfigMap", 400),
        (protobuf.MAGIC, "Deployment", 415),
    ],
)
def test_bad_or_unsupported_bodies(body: bytes, kind: str, code: int) -> None:
    with pytest.raises(errors.ApiError) as info:
        protobuf.decode(body, "", kind)
    assert info.value.code == code
