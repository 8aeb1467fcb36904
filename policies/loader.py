"""Load and validate policy files against the JSON Schemas shipped beside them."""

from __future__ import annotations

import functools
import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from policies import errors, model

DEFAULT_POLICY = "default.yaml"


@functools.cache
def schema(name: str) -> dict[str, Any]:
    """The JSON Schema shipped in `policies/schemas/<name>`."""
    text = resources.files("policies").joinpath("schemas", name).read_text(encoding="utf-8")
    return json.loads(text)


def json_path(parts: Any) -> str:
    """A JSON-path-like string (`engines.workflow.crds[0]`) for a sequence of keys and indices."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def read_data(file: str, text: str, schema_name: str) -> dict[str, Any]:
    """Parse YAML text and validate it against a shipped schema; PolicyError names the first error."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise errors.PolicyError(file, where, f"not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise errors.PolicyError(file, "", "expected a mapping at the top level")
    validator = jsonschema.Draft202012Validator(schema(schema_name))
    found = sorted(validator.iter_errors(data), key=lambda e: (list(e.absolute_path), e.message))
    if found:
        first = found[0]
        raise errors.PolicyError(
            file, json_path(first.absolute_path) or "(top level)", first.message
        )
    return data


def load_policy(path: str | Path | None = None) -> model.Policy:
    """Load a policy file, or the embedded default when `path` is None."""
    if path is None:
        file = f"<embedded>/{DEFAULT_POLICY}"
        text = resources.files("policies").joinpath(DEFAULT_POLICY).read_text(encoding="utf-8")
    else:
        file = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise errors.PolicyError(file, "", f"cannot read: {exc.strerror or exc}") from None
    data = read_data(file, text, "policy.schema.json")
    op = data["operator"]
    engines = {
        name: model.Engine(name, tuple(spec.get("crds", ())), bool(spec.get("builtin", False)))
        for name, spec in data["engines"].items()
    }
    return model.Policy(
        cluster_id=data["clusterId"],
        operator_sa=model.ServiceAccountRef(**op["serviceAccount"]),
        managed_by=op.get("managedByLabel", "vworkspace-operator"),
        runner_sa_name=data["runner"]["serviceAccountName"],
        engines=engines,
        enforcement=dict(data.get("enforcement", {})),
        source=file,
    )
