"""The shipped rule catalogue matches the issue's table; bad catalogues fail precisely."""

from __future__ import annotations

import pytest
import yaml

from policies import errors as policy_errors
from webhooks.rbac import catalogue

# (id, cluster severity, namespace severity) as the issue's rule catalogue states them.
EXPECTED = [
    ("RBAC001", "critical", "high"),
    ("RBAC002", "medium", "low"),
    ("RBAC003", "critical", "high"),
    ("RBAC004", "medium", "low"),
    ("RBAC005", "high", "medium"),
    ("RBAC006", "high", "medium"),
    ("RBAC007", "critical", "high"),
    ("RBAC008", "critical", "high"),
    ("RBAC009", "medium", "low"),
    ("RBAC010", "critical", "high"),
    ("RBAC011", "critical", "high"),
    ("RBAC012", "critical", "critical"),
    ("RBAC013", "critical", "critical"),
    ("RBAC014", "critical", "critical"),
    ("RBAC015", "high", "high"),
    ("RBAC016", "high", "medium"),
    ("RBAC017", "medium", "medium"),
    ("RBAC018", "critical", "critical"),
    ("RBAC019", "high", "high"),
    ("RBAC020", "medium", "medium"),
    ("RBAC021", "high", "high"),
    ("RBAC022", "high", "high"),
    ("RBAC023", "low", "low"),
]


def test_shipped_catalogue_matches_the_issue(cat):
    got = [(r.id, r.cluster_severity, r.namespace_severity) for r in cat.rules]
    assert got == EXPECTED


def test_shipped_subsumption(cat):
    assert set(cat.rule("RBAC001").subsumes) >= {f"RBAC{i:03d}" for i in range(2, 18)}
    assert cat.rule("RBAC001").subsumes_per == "grant"
    assert cat.rule("RBAC003").subsumes == ("RBAC004",)
    assert cat.rule("RBAC007").subsumes == ("RBAC009",) == cat.rule("RBAC008").subsumes


def _text(mutate) -> str:
    data = yaml.safe_load(
        catalogue.resources.files("policies").joinpath("rbac-rules.yaml").read_text()
    )
    mutate(data)
    return yaml.safe_dump(data)


@pytest.mark.parametrize(
    ("mutate", "path", "problem"),
    [
        (lambda d: d["rules"][1].update(severity="severe"), "rules[1].severity", "is not valid"),
        (lambda d: d["rules"][2].update(id="RBAC001"), "rules[0].id", "listed twice"),
        (
            lambda d: d["rules"][2].update(subsumes={"per": "subject", "ids": ["RBAC999"]}),
            "rules[2]",
            "RBAC999",
        ),
        (lambda d: d["rules"][3]["match"].update(bogus=True), "rules[3].match", "bogus"),
        (lambda d: d.update(kind="Policy"), "kind", "RbacRules"),
    ],
)
def test_bad_catalogues_name_the_path(mutate, path, problem):
    with pytest.raises(policy_errors.PolicyError) as info:
        catalogue.parse("custom.yaml", _text(mutate))
    assert info.value.file == "custom.yaml"
    assert info.value.path == path
    assert problem in info.value.problem


def test_load_reads_a_file_and_reports_a_missing_one(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(_text(lambda d: d["rules"].__setitem__(slice(0, 22), [])))
    assert [r.id for r in catalogue.load(path).rules] == ["RBAC023"]
    with pytest.raises(policy_errors.PolicyError, match="cannot read"):
        catalogue.load(tmp_path / "absent.yaml")
    assert catalogue.load(None) is catalogue.default()


def test_resource_table(cat):
    assert cat.scope_of("", "nodes") == "cluster"
    assert cat.scope_of("", "namespaces") == "namespaced"  # reachable from a RoleBinding
    assert cat.scope_of("apps", "deployments") == "namespaced"
    assert cat.scope_of("example.com", "widgets") is None
    assert cat.closed_group("apps") and not cat.closed_group("argoproj.io")
    assert not cat.closed_group("example.com")
