"""The image: python slim, installs the project with pip, runs as a non-root numeric user."""

from __future__ import annotations

import re

from tests.deploy import helpers as c

DOCKERFILE = (c.REPO / "Dockerfile").read_text()
IGNORED = {
    line.strip()
    for line in (c.REPO / ".dockerignore").read_text().splitlines()
    if line.strip() and not line.startswith("#")
}


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_it_builds_from_python_slim_and_installs_with_pip() -> None:
    froms = [args for word, args in instructions() if word == "FROM"]
    assert froms and all(re.fullmatch(r"python:3\.11-slim( AS \w+)?", f) for f in froms)
    runs = " ".join(args for word, args in instructions() if word == "RUN")
    assert "pip install ." in runs


def test_it_runs_as_a_numeric_non_root_user_matching_the_pods() -> None:
    users = [args for word, args in instructions() if word == "USER"]
    assert users, "no USER instruction: the image would run as root"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) > 0 and (not gid or int(gid) > 0)
    pod = c.one(c.raw("webhook"), "Deployment", "opgate-webhook")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == int(uid)


def test_it_serves_the_opgate_cli_without_writing_bytecode() -> None:
    words = dict(instructions())
    assert words["ENTRYPOINT"] == '["opgate"]'
    assert "PYTHONDONTWRITEBYTECODE=1" in DOCKERFILE  # the root filesystem is read-only


def test_the_build_context_leaves_out_local_state() -> None:
    assert {".git", ".venv", "tests", "**/__pycache__"} <= IGNORED
    for needed in ("pyproject.toml", "webhooks", "policies", "certs", "reconciler", "sim"):
        assert needed not in IGNORED
