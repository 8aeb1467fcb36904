"""The peer: kopf's own admission webhook server (`kopf.WebhookServer`) with a
`@kopf.on.validate` handler doing the same parameter-schema check (a cached jsonschema
validator built from the example OperationTemplate), wired exactly as `kopf.run` wires it.
Usage: kopf_peer.py TLS_DIR PORT (prints `READY <port>`; POST to /params)."""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
from pathlib import Path
from typing import Any

import jsonschema
import kopf
from kopf._cogs.structs import ephemera, references
from kopf._core.engines import admission, indexing
from kopf._core.reactor import inventory

sys.path.insert(0, str(Path(__file__).resolve().parent))
import payload


def _validator() -> jsonschema.protocols.Validator:
    for obj in payload.state_objects():
        if obj["kind"] == "OperationTemplate" and obj["spec"].get("type") == "Migration":
            schema = obj["spec"]["inputSchema"]
            return jsonschema.Draft202012Validator(schema)
    raise SystemExit("no Migration OperationTemplate in the example state")


VALIDATOR = _validator()
registry = kopf.OperatorRegistry()


@kopf.on.validate("ops.vworkspace.io", "v1alpha1", "operations", id="params", registry=registry)
def check_parameters(spec: Any, **_: Any) -> None:
    """Deny when spec.parameters does not match the OperationTemplate's inputSchema."""
    errors = sorted(VALIDATOR.iter_errors(spec.get("parameters") or {}), key=lambda e: e.path)
    if errors:
        raise kopf.AdmissionError(
            "ParametersInvalid: " + "; ".join(e.message for e in errors), code=422
        )


async def main(tls: Path, port: int) -> None:
    logging.basicConfig(level=logging.WARNING)
    settings = kopf.OperatorSettings()
    server = kopf.WebhookServer(
        addr="127.0.0.1", port=port, certfile=str(tls / "tls.crt"), pkeyfile=str(tls / "tls.key")
    )
    insights = references.Insights()
    insights.webhook_resources.add(
        references.Resource(
            group="ops.vworkspace.io",
            version="v1alpha1",
            plural="operations",
            kind="Operation",
            namespaced=True,
            verbs=frozenset({"list", "watch", "patch"}),
        )
    )
    fn = functools.partial(
        admission.serve_admission_request,
        settings=settings,
        registry=registry,
        insights=insights,
        memories=inventory.ResourceMemories(),
        memobase=ephemera.AnyMemo(ephemera.Memo()),
        indices=indexing.OperatorIndexers().indices,
    )
    async for config in server(fn):
        print(f"READY {port} {config.get('url')}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2])))
