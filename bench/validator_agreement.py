"""Does a compiled validator agree with `jsonschema` on whether an instance is valid?

The precondition (issue 3) for letting jsonschema-rs or fastjsonschema decide the common valid
case while pure-Python `jsonschema` stays the reference and the source of the error list.
Generates (schema, instance) pairs from the keywords OperationTemplates use and checks that
every available fast validator gives jsonschema's answer. Not part of the test suite: the fast
validators are not dependencies. `pip install --target DIR jsonschema-rs fastjsonschema`, then
`PYTHONPATH=DIR .venv/bin/python bench/validator_agreement.py [--examples N]`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-1000, 1000)
    | st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)  # fmt: skip
TYPES = st.sampled_from(["string", "integer", "number", "boolean", "object", "array", "null"])
PATTERNS = st.sampled_from(
    ["^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "^[0-9]+\\.[0-9]+\\.[0-9]+$", "a", "^$"]
)
NAMES = st.sampled_from(["template", "targetChartVersion", "timeoutSeconds", "a", "b"])


def schemas() -> st.SearchStrategy[dict[str, Any]]:
    """Schemas built from the keywords an OperationTemplate's inputSchema uses."""
    leaf = st.fixed_dictionaries(
        {},
        optional={
            "type": TYPES | st.lists(TYPES, min_size=1, max_size=2, unique=True),
            "pattern": PATTERNS,
            "minLength": st.integers(0, 4),
            "maxLength": st.integers(0, 8),
            "minimum": st.integers(-10, 10),
            "maximum": st.integers(-10, 100),
            "exclusiveMinimum": st.integers(-10, 10),
            "enum": st.lists(SCALARS, min_size=1, max_size=3),
            "const": SCALARS,
            "multipleOf": st.integers(1, 5),
        },
    )
    return st.recursive(
        leaf,
        lambda inner: st.fixed_dictionaries(
            {},
            optional={
                "type": st.just("object"),
                "properties": st.dictionaries(NAMES, inner, max_size=3),
                "required": st.lists(NAMES, max_size=3, unique=True),
                "additionalProperties": st.booleans() | inner,
                "items": inner,
                "minItems": st.integers(0, 3),
                "maxItems": st.integers(0, 3),
                "uniqueItems": st.booleans(),
                "anyOf": st.lists(inner, min_size=1, max_size=2),
                "oneOf": st.lists(inner, min_size=1, max_size=2),
                "not": inner,
            },
        ),
        max_leaves=6,
    )


def fast_validators() -> dict[str, Any]:
    """name -> compile(schema) returning is_valid(instance), for what is importable."""
    found: dict[str, Any] = {}
    try:
        import jsonschema_rs

        found["jsonschema-rs"] = lambda schema: jsonschema_rs.validator_for(schema).is_valid
    except ImportError:
        pass
    try:
        import fastjsonschema

        def compile_fjs(schema: dict[str, Any]) -> Any:
            check = fastjsonschema.compile(schema)

            def is_valid(instance: Any) -> bool:
                try:
                    check(instance)
                except fastjsonschema.JsonSchemaException:
                    return False
                return True

            return is_valid

        found["fastjsonschema"] = compile_fjs
    except ImportError:
        pass
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=3000)
    args = parser.parse_args()
    fast = fast_validators()
    if not fast:
        print("no fast validator importable (jsonschema-rs, fastjsonschema)")
        return 2
    disagreements: dict[str, list[tuple[Any, Any, bool]]] = {name: [] for name in fast}

    @settings(max_examples=args.examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(schema=schemas(), instances=st.lists(JSON, min_size=1, max_size=4))
    def agree(schema: dict[str, Any], instances: list[Any]) -> None:
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
        reference = jsonschema.Draft202012Validator(schema)
        for name, compile_ in fast.items():
            try:
                is_valid = compile_(schema)
            except Exception as exc:  # a schema the fast validator cannot compile: it must defer
                disagreements[name].append((schema, f"compile error {exc!r}"[:120], True))
                continue
            for instance in instances:
                expected = reference.is_valid(instance)
                try:
                    got = is_valid(instance)
                except Exception as exc:
                    got = f"raised {exc!r}"[:80]
                if got != expected:
                    disagreements[name].append((schema, instance, expected))

    agree()
    for name, found in disagreements.items():
        print(f"{name}: {len(found)} disagreements with jsonschema over {args.examples} schemas")
        for schema, instance, expected in found[:3]:
            print(f"  schema={schema}\n  instance={instance!r} jsonschema says valid={expected}")
    return 0 if not any(disagreements.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
