"""DAG task dependencies: `dependencies` and `depends`, resolved and evaluated as Argo does.

`dependencies: [A, B]` means `(A.Succeeded || A.Skipped || A.Daemoned) && (B....)`; a bare task
name inside `depends` expands the same way; `continueOn.failed`/`error` of the dependency add
`A.Failed`/`A.Errored`. A task whose dependencies are all fulfilled runs when the expression
holds and is Omitted otherwise.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

# Argo's taskNameRegex: `name.Result` or a bare `name` (ancestry.go).
_TASK_REF = re.compile(r"([a-zA-Z0-9][-a-zA-Z0-9]*?\.[A-Z][a-zA-Z]+)|([a-zA-Z0-9][-a-zA-Z0-9]*)")
RESULTS = ("Succeeded", "Failed", "Errored", "Skipped", "Omitted", "Daemoned")
RESULTS += ("AnySucceeded", "AllFailed")
# Words of the expression language that are operators, not task names.
_WORD_OPS = {"and": "&&", "or": "||", "not": "!"}


class DependsError(ValueError):
    """A `depends` expression that cannot be evaluated."""


def _expand(name: str, task: Mapping[str, Any] | None) -> str:
    results = ["Succeeded", "Skipped", "Daemoned"]
    cont = (task or {}).get("continueOn") or {}
    if isinstance(cont, dict):
        if cont.get("error"):
            results.append("Errored")
        if cont.get("failed"):
            results.append("Failed")
    return "(" + " || ".join(f"{name}.{r}" for r in results) + ")"


def logic(task: Mapping[str, Any], tasks: Mapping[str, Mapping[str, Any]]) -> str:
    """The resolved `depends` logic of a task ("" when it has no dependencies)."""
    depends = task.get("depends")
    if isinstance(depends, str) and depends.strip():
        out, last = [], 0
        for match in _TASK_REF.finditer(depends):
            if match.group(2) is None or match.group(2) in _WORD_OPS:
                continue
            out.append(depends[last : match.start()])
            out.append(_expand(match.group(2), tasks.get(match.group(2))))
            last = match.end()
        out.append(depends[last:])
        return "".join(out)
    deps = task.get("dependencies") or []
    return " && ".join(_expand(str(d), tasks.get(str(d))) for d in deps)


def dependencies(task: Mapping[str, Any]) -> list[str]:
    """The names of the tasks a task depends on, in first-mention order."""
    depends = task.get("depends")
    if isinstance(depends, str) and depends.strip():
        return list(_depends_names(depends))
    return [str(d) for d in task.get("dependencies") or []]


@functools.lru_cache(maxsize=4096)
def _depends_names(depends: str) -> tuple[str, ...]:
    names: list[str] = []
    for match in _TASK_REF.finditer(depends):
        name = match.group(1).split(".")[0] if match.group(1) else match.group(2)
        if name not in _WORD_OPS and name not in names:
            names.append(name)
    return tuple(names)


def _tokens(expression: str) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(expression):
        c = expression[i]
        if c.isspace():
            i += 1
        elif expression.startswith(("&&", "||"), i):
            out.append(expression[i : i + 2])
            i += 2
        elif c in "()!":
            out.append(c)
            i += 1
        else:
            match = re.compile(r"[A-Za-z0-9_][-A-Za-z0-9_]*(\.[A-Za-z]+)?").match(expression, i)
            if not match:
                raise DependsError(f"unexpected character {c!r}")
            word = match.group(0)
            out.append(_WORD_OPS.get(word, word))
            i = match.end()
    return out


def evaluate(expression: str, results: Mapping[str, Mapping[str, bool]]) -> bool:
    """Whether a resolved depends expression holds, given each task's result flags."""
    tokens = _tokens(expression)
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise DependsError("unexpected end of expression")
        pos += 1
        return tokens[pos - 1]

    def disjunction() -> bool:
        value = conjunction()
        while peek() == "||":
            take()
            right = conjunction()
            value = value or right
        return value

    def conjunction() -> bool:
        value = unary()
        while peek() == "&&":
            take()
            right = unary()
            value = value and right
        return value

    def unary() -> bool:
        tok = take()
        if tok == "!":
            return not unary()
        if tok == "(":
            value = disjunction()
            if take() != ")":
                raise DependsError("missing closing parenthesis")
            return value
        name, _, result = tok.partition(".")
        if not result:
            raise DependsError(f"unknown name {tok}")
        if result not in RESULTS:
            raise DependsError(f"task result '{result}' for task '{name}' is invalid")
        if name not in results:
            raise DependsError(f"unknown name {name}")
        return bool(results[name].get(result, False))

    value = disjunction()
    if pos != len(tokens):
        raise DependsError(f"unexpected token {tokens[pos]!r}")
    return value
