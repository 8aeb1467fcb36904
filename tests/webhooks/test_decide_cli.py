"""`opgate decide` end to end as a process: the example, the bad examples, JSON, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

from policies import model

from .conftest import EXAMPLES, STATE_PATHS


def opgate(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    state = [a for p in STATE_PATHS for a in ("--cluster-state", str(p))]
    cmd = [sys.executable, "-m", "webhooks.cli", "decide", *state, *args]
    return subprocess.run(cmd, capture_output=True, text=True, input=stdin, timeout=60, check=False)


def test_source_document_operation_is_admitted():
    out = opgate(str(EXAMPLES / "operation.yaml"))
    assert out.returncode == 0, out.stderr
    assert "nextcloud-myteam-migrate-2026-05-28" in out.stdout
    assert "allowed" in out.stdout


def test_bad_examples_json_has_one_denial_per_reason():
    out = opgate("--output", "json", str(EXAMPLES / "bad"))
    assert out.returncode == 1, out.stderr
    results = json.loads(out.stdout)
    assert {tuple(sorted(r)) for r in results} == {
        (
            "allowed",
            "causes",
            "code",
            "kind",
            "message",
            "name",
            "namespace",
            "operation",
            "patch",
            "reason",
            "warnings",
        )
    }
    # one denial per reason, in the order of the examples (DESIGN's table, then UPDATE, templates)
    assert [r["reason"] for r in results] == [c for c in model.CHECKS if c != "WorkflowNotAllowed"]
    assert all(r["allowed"] is False and r["message"].startswith(r["reason"]) for r in results)


def test_stdin_and_patch_in_json():
    text = (EXAMPLES / "operation.yaml").read_text().replace("    timeoutSeconds: 1800\n", "")
    out = opgate("-o", "json", "-", stdin=text)
    assert out.returncode == 0, out.stderr
    (result,) = json.loads(out.stdout)
    assert result["patch"] == [
        {"op": "add", "path": "/spec/parameters/timeoutSeconds", "value": 1800}
    ]


def test_input_errors_exit_2_with_a_clear_message(tmp_path):
    missing = opgate(str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2
    assert "nope.yaml: no such file or directory" in missing.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: [\n")
    out = opgate(str(bad))
    assert out.returncode == 2 and "not valid YAML" in out.stderr
    empty = tmp_path / "ns.yaml"
    empty.write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n")
    out = opgate(str(empty))
    assert out.returncode == 2 and "no Operation" in out.stderr
    assert "Traceback" not in out.stderr + missing.stderr


def test_reapplying_an_unchanged_manifest_is_an_allowed_update_and_namespace_defaults(tmp_path):
    text = (EXAMPLES / "operation.yaml").read_text().replace("    timeoutSeconds: 1800\n", "")
    twice = tmp_path / "twice.yaml"
    twice.write_text(text + "---\n" + text)
    out = opgate("-o", "json", str(twice))
    assert out.returncode == 0, out.stdout + out.stderr
    first, second = json.loads(out.stdout)
    assert (first["operation"], second["operation"]) == ("CREATE", "UPDATE")
    assert second["allowed"] and second["patch"] is None
    nameless = tmp_path / "nons.yaml"
    nameless.write_text(text.replace("  namespace: org-myteam\n", ""))
    (result,) = json.loads(opgate("-o", "json", str(nameless)).stdout)
    assert result["namespace"] == "default"
    assert result["reason"] == "TargetNotFound"
    assert "in namespace default" in result["message"]
