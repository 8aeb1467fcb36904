"""Argo `{{...}}` parameter substitution.

Simple tags only (`{{workflow.parameters.x}}`, `{{ tasks.a.outputs.result }}` - whitespace
inside the braces is trimmed, as Argo's template package does). A tag with no value is left as
written, except under a strict prefix (`tasks.`, `steps.`), where the caller is told
(`MissingVariable`): an argument that names a value which does not exist errors its task.
Expression tags (`{{=...}}`) are left as written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

# A tag: `{{`, anything but braces, `}}`; Argo's fasttemplate uses the same delimiters.
_TAG = re.compile(r"\{\{([^{}]*)\}\}")


class MissingVariable(Exception):
    """A strict tag (`tasks.*`, `steps.*`) has no value (Argo: `failed to resolve {{tag}}`)."""

    def __init__(self, tag: str) -> None:
        super().__init__(f"failed to resolve {{{{{tag}}}}}")
        self.tag = tag


def substitute(text: str, scope: Mapping[str, str], strict: Iterable[str] = ()) -> str:
    """`text` with every tag found in `scope` replaced by its value."""
    if "{{" not in text:
        return text
    strict_prefixes = tuple(f"{p}." for p in strict)

    def replace(match: re.Match[str]) -> str:
        tag = match.group(1).strip()
        if tag in scope:
            return scope[tag]
        if strict_prefixes and tag.startswith(strict_prefixes):
            raise MissingVariable(tag)
        return match.group(0)

    return _TAG.sub(replace, text)


def substitute_data(data: Any, scope: Mapping[str, str], strict: Iterable[str] = ()) -> Any:
    """A copy of JSON-like data with every string substituted."""
    if isinstance(data, str):
        return substitute(data, scope, strict)
    if isinstance(data, list):
        return [substitute_data(item, scope, strict) for item in data]
    if isinstance(data, dict):
        return {key: substitute_data(value, scope, strict) for key, value in data.items()}
    return data


def tags(text: str) -> list[str]:
    """The trimmed tags of a text, in order."""
    return [m.group(1).strip() for m in _TAG.finditer(text)]
