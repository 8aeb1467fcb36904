"""JSON log lines: one object per line, extra fields on top, reserved names allowed."""

from __future__ import annotations

import io
import logging

import orjson

from webhooks import logs


def _line(record: logging.LogRecord) -> dict:
    return orjson.loads(logs.JsonFormatter().format(record))


def test_fields_and_extra_become_top_level_keys() -> None:
    logger = logging.getLogger("opgate.test-logs")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        logger.info("decision", extra=logs.fields(name="op-1", msg_id=3, allowed=False))
        logger.warning("cache", extra={"kind": "WorkflowTemplate", "backoff": 0.4})
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    lines = [orjson.loads(x) for x in stream.getvalue().splitlines()]
    assert lines[0]["msg"] == "decision" and lines[0]["name"] == "op-1"
    assert lines[0]["allowed"] is False and lines[0]["level"] == "info"
    assert lines[0]["logger"] == "opgate.test-logs"
    assert lines[1] == {**lines[1], "kind": "WorkflowTemplate", "backoff": 0.4, "level": "warning"}
    assert "ValueError: boom" in lines[2]["exception"]
    assert all(line["time"].endswith("+00:00") for line in lines)


def test_unserializable_values_are_stringified() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m %s", ("a",), None)
    record.obj = object()
    out = _line(record)
    assert out["msg"] == "m a"
    assert out["obj"].startswith("<object object")


def test_a_decision_admitted_with_warnings_logs_them() -> None:
    from webhooks import decisions, review, server

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    server.log.addHandler(handler)
    level = server.log.level
    server.log.setLevel(logging.INFO)
    try:
        request = review.AdmissionRequest(uid="u1", operation="CREATE", kind="Operation")
        warned = decisions.allowed(warnings=["TargetNotFound: spec.targetRef.name: Not found"])
        server._log_decision("/validate/operations", request, warned, 0.001)
        server._log_decision("/validate/operations", request, decisions.allowed(), 0.001)
    finally:
        server.log.removeHandler(handler)
        server.log.setLevel(level)
    first, second = (orjson.loads(x) for x in stream.getvalue().splitlines())
    assert first["warnings"] == ["TargetNotFound: spec.targetRef.name: Not found"]
    assert first["allowed"] is True and "warnings" not in second
