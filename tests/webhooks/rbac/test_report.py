"""Printers and the severity decisions, as properties over arbitrary findings."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from webhooks.rbac import catalogue, findings, inputs, report, roles

CAT = catalogue.default()
refs = st.sampled_from(
    [
        roles.Ref("ClusterRole", "", "edit"),
        roles.Ref("Role", "team", "r"),
        roles.Ref("ClusterRole", "", "x"),
    ]
)
finding_st = st.builds(
    findings.Finding,
    id=st.sampled_from([r.id for r in CAT.rules]),
    severity=st.sampled_from(catalogue.SEVERITIES),
    subject=st.sampled_from(
        [None, ("ServiceAccount", "team", "ci"), ("User", "", "alice"), ("Group", "", "devs")]
    ),
    role=refs,
    scope=st.sampled_from(["cluster", "namespace:team"]),
    message=st.text(max_size=30),
    binding=st.none() | st.just(roles.Ref("RoleBinding", "team", "rb")),
)


@given(st.lists(finding_st, max_size=8))
def test_json_is_a_list_of_six_key_objects_in_order(found):
    out = json.loads(report.findings_json(found))
    assert [f.to_json() for f in found] == out
    assert all(list(o) == ["id", "severity", "subject", "role", "scope", "message"] for o in out)


@given(st.lists(finding_st, max_size=8), st.booleans())
def test_sarif_has_one_result_per_finding_with_the_mapped_level(found, located):
    where = (
        {roles.Ref("RoleBinding", "team", "rb"): inputs.Location("deploy/rb.yaml", 3)}
        if located
        else {}
    )
    run = json.loads(report.sarif(found, CAT, where))["runs"][0]
    assert len(run["results"]) == len(found)
    for finding, result in zip(found, run["results"], strict=True):
        assert result["ruleId"] == finding.id
        assert result["level"] == report.LEVELS[finding.severity]
        physical = result["locations"][0].get("physicalLocation")
        assert (physical is not None) == (located and finding.binding is not None)


@given(st.lists(finding_st, max_size=8), st.sampled_from(catalogue.SEVERITIES))
def test_fail_on_decision(found, threshold):
    failing = findings.at_least(found, threshold)
    expected = any(catalogue.rank(f.severity) >= catalogue.rank(threshold) for f in found)
    assert bool(failing) == expected
    top = findings.highest(found)
    assert top == (max((f.severity for f in found), key=catalogue.rank) if found else None)


def test_levels_cover_every_severity_and_keep_the_order():
    order = ["note", "warning", "error"]
    levels = [report.LEVELS[s] for s in catalogue.SEVERITIES]
    assert levels == sorted(levels, key=order.index)
    scores = [float(report.SECURITY_SEVERITY[s]) for s in catalogue.SEVERITIES]
    assert scores == sorted(scores)


def test_table_aligns_columns():
    text = report.table(("A", "LONGER", "LAST"), [("xxxx", "y", "tail text"), ("z", "w", "t")])
    lines = text.splitlines()
    assert [line.index("LONGER") for line in lines[:1]] == [lines[1].index("y")]
    assert report.table(("A",), []) == ""


def test_sarif_uris_are_relative_to_the_working_directory(tmp_path):
    inside = tmp_path / "deploy" / "rbac.yaml"
    assert report.artifact_uri(str(inside), str(tmp_path)) == "deploy/rbac.yaml"
    assert report.artifact_uri("deploy/rbac.yaml", str(tmp_path)) == "deploy/rbac.yaml"
    assert report.artifact_uri("/elsewhere/rbac.yaml", str(tmp_path)) == "/elsewhere/rbac.yaml"
