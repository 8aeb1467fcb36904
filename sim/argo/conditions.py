"""Resource-template `successCondition` / `failureCondition`, evaluated as Argo's executor does.

A condition is a Kubernetes label selector (`status.readyToUse == true`, `status.phase in
(Failed,Error)`, `!status.error`, `status.replicas > 2`, comma = and) whose keys are gjson paths
into the object; a value is the path's string form (`true`, `3`, `Ready`). Every failure
requirement is checked first (any match fails the node); the node succeeds when every success
requirement matches.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

# kubernetes labels selector operators, longest first so `==` wins over `=`.
_OPS = ("==", "!=", "=", ">", "<")
_SET_OP = re.compile(r"^\s*(\S+)\s+(in|notin)\s*\((.*)\)\s*$")


class ConditionError(ValueError):
    """A condition that does not parse as a label selector."""


@dataclasses.dataclass(frozen=True, slots=True)
class Requirement:
    """One selector requirement: key, operator and values."""

    key: str
    op: str  # "=", "==", "!=", "in", "notin", "exists", "!", ">", "<"
    values: tuple[str, ...] = ()

    def __str__(self) -> str:
        if self.op == "exists":
            return self.key
        if self.op == "!":
            return f"!{self.key}"
        if self.op in ("in", "notin"):
            return f"{self.key} {self.op} ({','.join(sorted(self.values))})"
        return f"{self.key}{self.op}{self.values[0]}"

    def matches(self, obj: dict[str, Any]) -> bool:
        """Whether the object satisfies this requirement (labels.Requirement.Matches)."""
        found, value = lookup(obj, self.key)
        if self.op == "exists":
            return found
        if self.op == "!":
            return not found
        if self.op in ("=", "==", "in"):
            return found and value in self.values
        if self.op in ("!=", "notin"):
            return not found or value not in self.values
        if not found:
            return False
        try:
            have, want = int(value), int(self.values[0])
        except ValueError:
            return False
        return have > want if self.op == ">" else have < want


def _split(text: str) -> list[str]:
    parts, depth, current = [], 0, []
    for c in text:
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        if c == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(c)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def parse(selector: str) -> list[Requirement]:
    """The requirements of a selector; raises ConditionError naming what is wrong."""
    out: list[Requirement] = []
    for part in _split(selector):
        match = _SET_OP.match(part)
        if match:
            values = tuple(v.strip() for v in match.group(3).split(",") if v.strip())
            out.append(Requirement(match.group(1), match.group(2), values))
            continue
        for op in _OPS:
            key, sep, value = part.partition(op)
            if sep:
                key, value = key.strip(), value.strip()
                if not key or " " in key or " " in value:
                    raise ConditionError(f"unable to parse requirement: {part!r}")
                out.append(Requirement(key, op, (value,)))
                break
        else:
            if part.startswith("!"):
                out.append(Requirement(part[1:].strip(), "!"))
            elif " " in part:
                raise ConditionError(f"unable to parse requirement: {part!r}")
            else:
                out.append(Requirement(part, "exists"))
    return out


def lookup(obj: Any, path: str) -> tuple[bool, str]:
    """(exists, gjson string form) of a dotted path in an object."""
    current = obj
    for key in path.split("."):
        if isinstance(current, dict) and key in current:
            current = current[key]
        elif isinstance(current, list) and key.isdigit() and int(key) < len(current):
            current = current[int(key)]
        else:
            return False, ""
    if isinstance(current, bool):
        return True, "true" if current else "false"
    if isinstance(current, str):
        return True, current
    if current is None:
        return True, ""
    if isinstance(current, float) and current.is_integer():
        return True, str(int(current))
    if isinstance(current, (int, float)):
        return True, str(current)
    return True, json.dumps(current, separators=(",", ":"))


def check(obj: dict[str, Any], success: str, failure: str) -> tuple[str, str]:
    """("Succeeded"|"Failed"|"Running", message) for an object against its conditions."""
    for req in parse(failure) if failure else []:
        if req.matches(obj):
            return "Failed", f"failure condition '{req}' evaluated true"
    success_reqs = parse(success) if success else []
    if all(req.matches(obj) for req in success_reqs):
        return "Succeeded", ""
    return "Running", ""
