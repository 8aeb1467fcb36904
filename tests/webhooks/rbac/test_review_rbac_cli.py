"""`opgate review-rbac` end to end: the three forms, the printers, exit codes, stdin, and a live
cluster read by the real `kubernetes` client from a local HTTP server."""

from __future__ import annotations

import http.server
import io
import json
import socket
import threading
from pathlib import Path

import pytest
import yaml

from tests.webhooks.rbac import rbacbuilders as b
from webhooks import cli

OBJECTS = [
    b.role("reader", b.rule(["get", "list"], ["secrets"])),
    b.binding("readers", "reader", b.sa("ci", "team"), b.group("auditors")),
    b.role("runner", b.rule(["get"], ["configmaps"]), ns="team"),
    b.binding("runner", "runner", b.sa("runner"), ns="team", role_kind="Role"),
    b.role("unbound", b.rule(["create"], ["pods"]), ns="team"),
]


@pytest.fixture()
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "rbac.yaml"
    path.write_text(yaml.safe_dump_all(OBJECTS, sort_keys=False))
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(["review-rbac", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_findings_json(capsys, manifest):
    code, out, _ = run(capsys, str(manifest), "--output", "json")
    assert code == 0
    found = json.loads(out)
    assert all(set(f) == {"id", "severity", "subject", "role", "scope", "message"} for f in found)
    got = {(f["id"], f["severity"], f["subject"], f["role"], f["scope"]) for f in found}
    assert got == {
        ("RBAC003", "critical", "ServiceAccount/team/ci", "ClusterRole/reader", "cluster"),
        ("RBAC003", "critical", "Group/auditors", "ClusterRole/reader", "cluster"),
        ("RBAC005", "medium", None, "Role/team/unbound", "namespace:team"),
    }
    assert found[0]["severity"] == "critical"  # most severe first


@pytest.mark.parametrize(("fail_on", "code"), [(None, 0), ("critical", 1), ("high", 1), ("low", 1)])
def test_fail_on_sets_the_exit_code(capsys, manifest, fail_on, code):
    argv = [str(manifest)] + (["--fail-on", fail_on] if fail_on else [])
    assert run(capsys, *argv)[0] == code


def test_fail_on_below_threshold_is_zero(capsys, tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text(yaml.safe_dump_all(OBJECTS[2:4]))
    code, out, _ = run(capsys, "--fail-on", "low", str(path))
    assert (code, out) == (0, "no findings\n")


def test_table_output(capsys, manifest):
    code, out, _ = run(capsys, str(manifest))
    assert code == 0
    assert out.splitlines()[0].split() == ["SEVERITY", "ID", "SUBJECT", "ROLE", "SCOPE", "MESSAGE"]
    assert "CRITICAL  RBAC003" in out
    assert out.rstrip().endswith("3 findings: 2 critical, 1 medium")


def test_stdin_and_directories(capsys, manifest, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(manifest.read_text()))
    code, out, _ = run(capsys, "-", "-o", "json")
    assert code == 0 and len(json.loads(out)) == 3
    code, out, _ = run(capsys, "-o", "json", str(manifest.parent))
    assert len(json.loads(out)) == 3


def test_sarif(capsys, manifest):
    code, out, _ = run(capsys, str(manifest), "-o", "sarif")
    assert code == 0
    log = json.loads(out)
    assert log["version"] == "2.1.0" and "sarif-2.1.0" in log["$schema"]
    (run_,) = log["runs"]
    rules = run_["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [f"RBAC{i:03d}" for i in range(1, 24)]
    levels = {(r["ruleId"], r["properties"]["subject"]): r["level"] for r in run_["results"]}
    assert levels[("RBAC003", "Group/auditors")] == "error"
    assert levels[("RBAC005", None)] == "warning"
    for result in run_["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    ci = next(r for r in run_["results"] if r["properties"]["subject"] == "ServiceAccount/team/ci")
    physical = ci["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"]["uri"] == str(manifest)
    line = physical["region"]["startLine"]
    assert (
        manifest.read_text().splitlines()[line - 1 : line + 2].count("kind: ClusterRoleBinding")
        == 1
    )
    assert ci["relatedLocations"][0]["message"]["text"] == "ClusterRole/reader"


def test_who_can(capsys, manifest):
    code, out, _ = run(capsys, "who-can", "list", "secrets", str(manifest), "-o", "json")
    assert code == 0
    assert {a["subject"] for a in json.loads(out)} == {"ServiceAccount/team/ci", "Group/auditors"}
    code, out, _ = run(capsys, "who-can", "get", "configmaps", "-n", "team", str(manifest))
    assert "ServiceAccount/team/runner" in out and "RoleBinding/team/runner" in out
    code, out, _ = run(capsys, "who-can", "get", "configmaps", str(manifest))
    assert out == "no subject in the input may do this\n"
    code, out, _ = run(
        capsys, "who-can", "create", "deployments/scale", "--api-group", "apps", str(manifest)
    )
    assert code == 0 and "no subject" in out


def test_permissions(capsys, manifest):
    code, out, _ = run(capsys, "permissions", "ServiceAccount/team/ci", str(manifest), "-o", "json")
    assert code == 0
    body = json.loads(out)
    assert body["subject"] == "ServiceAccount/team/ci"
    assert body["rules"] == [
        {
            "subject": "ServiceAccount/team/ci",
            "binding": "ClusterRoleBinding/readers",
            "role": "ClusterRole/reader",
            "scope": "cluster",
            "rule": {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]},
        }
    ]
    assert [f["id"] for f in body["findings"]] == ["RBAC003"]
    code, out, _ = run(
        capsys, "permissions", "ServiceAccount/team/runner", str(manifest), "--fail-on", "low"
    )
    assert code == 0 and "RoleBinding/team/runner" in out and "no findings" in out
    code, _, _ = run(capsys, "permissions", "Group/auditors", str(manifest), "--fail-on", "high")
    assert code == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ((), "nothing to review"),
        (("who-can", "get"), "who-can needs VERB and RESOURCE"),
        (("permissions",), "permissions needs SUBJECT"),
        (("permissions", "sa/x"), "ServiceAccount/<namespace>/<name>"),
        (("who-can", "get", "pods", "-o", "sarif", "x.yaml"), "only for findings"),
        (("/no/such/dir",), "no such file or directory"),
        (("--kubeconfig", "k", "x.yaml"), "not both"),
    ],
)
def test_usage_errors_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert message in err


def test_bad_manifest_exits_2(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Role\napiVersion: rbac.authorization.k8s.io/v1\nmetadata: {}\n")
    code, _, err = run(capsys, str(bad))
    assert code == 2 and "metadata.name" in err


def test_diagnostics_go_to_stderr(capsys, tmp_path):
    path = tmp_path / "crb.yaml"
    path.write_text(yaml.safe_dump(b.binding("crb", "view", b.sa("nons"))))
    code, out, err = run(capsys, str(path))
    assert code == 0 and out == "no findings\n"
    assert "warning: ClusterRoleBinding/crb: ServiceAccount subject 'nons' has no namespace" in err


# --- a live cluster -------------------------------------------------------------------------------
class _Api(http.server.BaseHTTPRequestHandler):
    lists: dict[str, list[dict]] = {}

    def do_GET(self) -> None:
        plural = self.path.split("?")[0].rsplit("/", 1)[-1]
        items = [
            {k: v for k, v in o.items() if k not in ("kind", "apiVersion")}
            for o in self.lists.get(plural, [])
        ]
        body = json.dumps({"kind": "List", "items": items}).encode()
        if plural not in self.lists:
            body = json.dumps({"kind": "Status", "code": 403, "message": "forbidden here"}).encode()
        self.send_response(200 if plural in self.lists else 403)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _kubeconfig(tmp_path: Path, port: int) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture()
def apiserver():
    plural = {
        "ClusterRole": "clusterroles",
        "ClusterRoleBinding": "clusterrolebindings",
        "Role": "roles",
        "RoleBinding": "rolebindings",
    }
    lists: dict[str, list[dict]] = {p: [] for p in plural.values()}
    for obj in OBJECTS:
        lists[plural[obj["kind"]]].append(obj)
    handler = type("Api", (_Api,), {"lists": lists})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_live_cluster(capsys, tmp_path, apiserver):
    kubeconfig = _kubeconfig(tmp_path, apiserver)
    code, out, _ = run(
        capsys, "--kubeconfig", str(kubeconfig), "-o", "json", "--fail-on", "critical"
    )
    assert code == 1
    assert {(f["id"], f["subject"]) for f in json.loads(out)} == {
        ("RBAC003", "ServiceAccount/team/ci"),
        ("RBAC003", "Group/auditors"),
        ("RBAC005", None),
    }


def test_forbidden_list_exits_2(capsys, tmp_path):
    # serves the cluster-scoped lists, answers 403 for roles and rolebindings
    handler_lists = {"clusterroles": [], "clusterrolebindings": []}
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), type("Forbidding", (_Api,), {"lists": handler_lists})
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        kubeconfig = _kubeconfig(tmp_path, server.server_address[1])
        code, out, err = run(capsys, "--kubeconfig", str(kubeconfig))
    finally:
        server.shutdown()
        server.server_close()
    assert code == 2 and out == ""
    assert "GET /apis/rbac.authorization.k8s.io/v1/roles failed: HTTP 403 forbidden here" in err


def test_unreachable_cluster_exits_2(capsys, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, _, err = run(capsys, "--kubeconfig", str(_kubeconfig(tmp_path, port)))
    assert code == 2 and "GET /apis/rbac.authorization.k8s.io/v1/clusterroles failed" in err
    code, _, err = run(capsys, "--kubeconfig", str(tmp_path / "absent"))
    assert code == 2 and "cannot load kubeconfig" in err


def test_namespace_less_templates_are_reviewed_in_default(capsys, tmp_path):
    path = tmp_path / "template.yaml"
    template = [
        b.role("reader", b.rule(["get"], ["secrets"]), ns="x"),
        b.binding("reader", "reader", b.sa("app"), ns="x", role_kind="Role"),
    ]
    for obj in template:
        del obj["metadata"]["namespace"]
    path.write_text(yaml.safe_dump_all(template))
    code, out, _ = run(capsys, str(path), "-o", "sarif")
    assert code == 0
    (result,) = json.loads(out)["runs"][0]["results"]
    assert result["properties"]["subject"] == "ServiceAccount/default/app"
    assert result["properties"]["scope"] == "namespace:default"
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] > 1


def test_help_documents_the_three_forms(capsys):
    code, out, _ = run(capsys, "who-can", "--help")
    assert code == 0
    for form in ("who-can VERB RESOURCE[/SUBRESOURCE]", "permissions SUBJECT", "[findings]"):
        assert form in out


def test_unknown_option_exits_2(capsys, manifest):
    with pytest.raises(SystemExit) as info:
        cli.main(["review-rbac", "who-can", "get", "pods", "--bogus", str(manifest)])
    assert info.value.code == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err


def test_options_anywhere_between_words(capsys, manifest):
    code, out, _ = run(
        capsys, "-o", "json", "who-can", "get", "-n", "team", "configmaps", str(manifest)
    )
    assert code == 0
    assert [a["subject"] for a in json.loads(out)] == ["ServiceAccount/team/runner"]


def test_custom_rules_file(capsys, manifest, tmp_path):
    from webhooks.rbac import catalogue

    data = yaml.safe_load(
        catalogue.resources.files("policies").joinpath("rbac-rules.yaml").read_text()
    )
    for rule in data["rules"]:
        if rule["id"] == "RBAC003":
            rule["severity"] = "low"
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump(data))
    code, out, _ = run(
        capsys, str(manifest), "--rules", str(rules), "-o", "json", "--fail-on", "high"
    )
    assert code == 0
    assert {f["severity"] for f in json.loads(out) if f["id"] == "RBAC003"} == {"low"}
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: policy.opgate.vworkspace.io/v1alpha1\nkind: RbacRules\nrules: []\n")
    code, _, err = run(capsys, str(manifest), "--rules", str(bad))
    assert code == 2 and "rules" in err


def test_include_defaults(capsys, tmp_path):
    defaults = {"kubernetes.io/bootstrapping": "rbac-defaults"}
    path = tmp_path / "defaults.yaml"
    path.write_text(
        yaml.safe_dump(
            b.binding("cluster-admin", "cluster-admin", b.group("system:masters"), labels=defaults)
        )
    )
    assert run(capsys, str(path), "-o", "json")[1] == "[]\n"
    _, out, _ = run(capsys, str(path), "-o", "json", "--include-defaults")
    assert {f["id"] for f in json.loads(out)} == {"RBAC001", "RBAC021"}


def test_live_cluster_sarif_has_logical_locations_only(capsys, tmp_path, apiserver):
    kubeconfig = _kubeconfig(tmp_path, apiserver)
    code, out, _ = run(capsys, "--kubeconfig", str(kubeconfig), "-o", "sarif")
    assert code == 0
    for result in json.loads(out)["runs"][0]["results"]:
        (location,) = result["locations"]
        assert "physicalLocation" not in location
        assert (
            location["logicalLocations"][-1]["fullyQualifiedName"] == result["properties"]["role"]
        )


def test_who_can_on_a_cluster_scoped_resource_ignores_the_namespace(capsys, tmp_path):
    """A RoleBinding cannot grant nodes/proxy: a request for it has no namespace."""
    path = tmp_path / "nodes.yaml"
    objs = [
        b.role("proxy", b.rule(["get"], ["nodes/proxy"])),
        b.binding("in-app", "proxy", b.user("mallory"), ns="app"),
        b.binding("everywhere", "proxy", b.user("root")),
    ]
    path.write_text(yaml.safe_dump_all(objs, sort_keys=False))
    code, out, err = run(capsys, "who-can", "get", "nodes/proxy", "-n", "app", str(path))
    assert code == 0
    assert "root" in out and "mallory" not in out
    assert "cluster-scoped; -n app ignored" in err


def test_input_without_rbac_objects_is_a_usage_error(capsys, tmp_path, monkeypatch):
    """An empty pipe or the wrong file must not pass a CI gate as 'no findings'."""
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code, _, err = run(capsys, "-", "--fail-on", "low")
    assert code == 2 and "no Role, ClusterRole, RoleBinding or ClusterRoleBinding" in err
    other = tmp_path / "cm.yaml"
    other.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: d}\n")
    assert run(capsys, str(other))[0] == 2
