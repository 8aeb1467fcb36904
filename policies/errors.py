"""Errors raised while loading policy data."""

from __future__ import annotations


class PolicyError(Exception):
    """A policy file is unreadable or invalid: names the file, the path in it and the problem."""

    def __init__(self, file: str, path: str, problem: str) -> None:
        self.file = file
        self.path = path
        self.problem = problem
        where = f"{file}: {path}" if path else file
        super().__init__(f"{where}: {problem}")
