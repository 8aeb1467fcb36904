"""In-process per-decision costs: the full request path against a small and a 10k-template
view, and the parameter validators for the common valid case."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import orjson
import payload

from policies import loader
from webhooks import clusterview, handler, review, schemas

# Repeats and loop size: enough to reach a stable median on a busy 2-core machine.
REPEATS = 7
LOOPS = 2000


def median_us(fn: Callable[[], Any], loops: int = LOOPS) -> float:
    """Median over REPEATS of the mean µs per call of `fn`."""
    samples = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(loops):
            fn()
        samples.append((time.perf_counter() - start) / loops * 1e6)
    return statistics.median(samples)


def per_decision_us() -> dict[str, float]:
    """µs per request (decode, parse, decide, encode) for the small and the large view."""
    policy = loader.load_policy()
    body = orjson.dumps(payload.review())
    out = {}
    for name, objects in (
        ("example state", payload.state_objects()),
        ("10,000 WorkflowTemplates / 1,000 namespaces", payload.big_state_objects()),
    ):
        view = clusterview.ClusterIndex(objects)

        def once(view: clusterview.ClusterIndex = view) -> bytes:
            req = review.parse_request(orjson.loads(body))
            decision = handler.handle("/validate/operations", req, view, policy)
            assert decision.allowed, decision
            return orjson.dumps(review.response(req.uid, decision))

        out[name] = median_us(once)
    return out


def validator_us() -> dict[str, float]:
    """µs to decide that the Operation's parameters are valid, per validator available."""
    template = next(o for o in payload.state_objects() if o["kind"] == "OperationTemplate")
    schema = template["spec"]["inputSchema"]
    params = payload.operation()["spec"]["parameters"]
    compiled = schemas.validator(schema)
    reference = compiled.reference
    out = {
        "jsonschema, cached validator, iter_errors": median_us(
            lambda: list(reference.iter_errors(params))
        ),
        "jsonschema, cached validator, is_valid": median_us(lambda: reference.is_valid(params)),
        "opgate (jsonschema-rs for the valid case)": median_us(
            lambda: list(compiled.iter_errors(params))
        ),
    }
    try:
        import fastjsonschema

        compiled = fastjsonschema.compile(schema)
        out["fastjsonschema (compiled)"] = median_us(lambda: compiled(params))
    except ImportError:
        out["fastjsonschema: not installed"] = float("nan")
    try:
        import jsonschema_rs

        rs = jsonschema_rs.validator_for(schema)
        out["jsonschema-rs"] = median_us(lambda: rs.is_valid(params))
    except ImportError:
        out["jsonschema-rs: not installed"] = float("nan")
    return out
