"""A projection, not a product: `opgate serve` with jsonschema-rs deciding the common valid
case of the parameter check (jsonschema still lists the errors of an invalid instance), to
measure what the proposal would buy. The policy core is patched in this process only.
Usage: fast_validator_server.py OPGATE-SERVE-ARGS... (needs jsonschema_rs importable)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import jsonschema_rs

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from webhooks import cli, schemas

_reference = schemas.instance_causes
_compiled: dict[int, Any] = {}


def instance_causes(checker: Any, instance: Any, prefix: str) -> list[Any]:
    """No causes when jsonschema-rs says valid; else jsonschema's full list."""
    fast = _compiled.get(id(checker))
    if fast is None:
        fast = _compiled[id(checker)] = jsonschema_rs.validator_for(checker.schema)
    if fast.is_valid(instance):
        return []
    return _reference(checker, instance, prefix)


schemas.instance_causes = instance_causes

if __name__ == "__main__":
    sys.exit(cli.main(sys.argv[1:]))
