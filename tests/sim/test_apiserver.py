"""The REST facade, driven by the real `kubernetes` client and by kubectl."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config, watch

from sim import apiserver, store
from tests.sim.storebuilders import crd, widget
from webhooks import review

Served = tuple[store.Store, str, Path]


def _api(served: Served) -> client.ApiClient:
    return config.new_client_from_config(str(served[2]))


def _raw(
    url: str, method: str = "GET", body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    data = (
        None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    )
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_core_crud_with_the_kubernetes_client(served: Served) -> None:
    v1 = client.CoreV1Api(_api(served))
    assert {n.metadata.name for n in v1.list_namespace().items} >= {"default", "kube-system"}
    made = v1.create_namespaced_config_map(
        "default", {"metadata": {"name": "a"}, "data": {"k": "v"}}
    )
    assert made.metadata.uid and made.metadata.resource_version
    with pytest.raises(client.ApiException) as info:
        v1.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    assert info.value.status == 409
    assert json.loads(info.value.body)["reason"] == "AlreadyExists"
    made.data["k"] = "w"
    updated = v1.replace_namespaced_config_map("a", "default", made)
    with pytest.raises(client.ApiException) as info:
        v1.replace_namespaced_config_map("a", "default", made)
    assert info.value.status == 409
    patched = v1.patch_namespaced_config_map("a", "default", {"data": {"z": "1"}})
    assert patched.data == {"k": "w", "z": "1"}
    assert int(patched.metadata.resource_version) > int(updated.metadata.resource_version)
    v1.delete_namespaced_config_map("a", "default")
    with pytest.raises(client.ApiException) as info:
        v1.read_namespaced_config_map("a", "default")
    assert info.value.status == 404


def test_custom_objects_status_subresource_and_dry_run(served: Served) -> None:
    api = client.CustomObjectsApi(_api(served))
    args = ("example.io", "v1", "default", "widgets")
    made = api.create_namespaced_custom_object(*args, widget("a", size=1))
    made["status"] = {"phase": "Ready"}
    api.replace_namespaced_custom_object_status(*args, "a", made)
    got = api.get_namespaced_custom_object(*args, "a")
    assert got["status"] == {"phase": "Ready"} and got["metadata"]["generation"] == 1
    api.patch_namespaced_custom_object(*args, "a", {"spec": {"size": 2}})
    assert api.get_namespaced_custom_object(*args, "a")["metadata"]["generation"] == 2
    api.create_namespaced_custom_object(*args, widget("dry"), dry_run="All")
    listed = api.list_namespaced_custom_object(*args)
    assert [o["metadata"]["name"] for o in listed["items"]] == ["a"]
    with pytest.raises(client.ApiException) as info:
        api.list_namespaced_custom_object("example.io", "v1", "default", "nothings")
    assert info.value.status == 404


def test_rbac_lease_and_webhook_configuration_apis(served: Served) -> None:
    api = _api(served)
    rbac = client.RbacAuthorizationV1Api(api)
    rbac.create_cluster_role(
        {
            "metadata": {"name": "system:reader"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
        }
    )
    assert rbac.read_cluster_role("system:reader").rules[0].verbs == ["get"]
    leases = client.CoordinationV1Api(api)
    lease = leases.create_namespaced_lease(
        "default", {"metadata": {"name": "lock"}, "spec": {"holderIdentity": "me"}}
    )
    lease.spec.holder_identity = "you"
    assert leases.replace_namespaced_lease("lock", "default", lease).spec.holder_identity == "you"
    hooks = client.AdmissionregistrationV1Api(api)
    hooks.create_validating_webhook_configuration({"metadata": {"name": "v"}, "webhooks": []})
    assert [c.metadata.name for c in hooks.list_validating_webhook_configuration().items] == ["v"]


def test_watch_stream_resumes_and_reports_gone(served: Served) -> None:
    sim = served[0]
    v1 = client.CoreV1Api(_api(served))
    start = v1.list_namespaced_config_map("default").metadata.resource_version
    v1.create_namespaced_config_map("default", {"metadata": {"name": "a"}})
    v1.patch_namespaced_config_map("a", "default", {"data": {"x": "1"}})
    v1.delete_namespaced_config_map("a", "default")
    seen = [
        (e["type"], e["object"].metadata.name)
        for e in watch.Watch().stream(
            v1.list_namespaced_config_map, "default", resource_version=start, timeout_seconds=1
        )
    ]
    assert seen == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")]
    sim._history.compacted = sim.resource_version  # as if the history had been trimmed
    with pytest.raises(client.ApiException) as info:
        list(
            watch.Watch().stream(
                v1.list_namespaced_config_map, "default", resource_version=start, timeout_seconds=1
            )
        )
    assert info.value.status == 410


def test_watch_bookmarks_over_raw_http(served: Served) -> None:
    _, url, _ = served
    request = urllib.request.Request(
        f"{url}/api/v1/namespaces?watch=1&allowWatchBookmarks=true&timeoutSeconds=1"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        lines = [json.loads(line) for line in response.read().splitlines() if line.strip()]
    types = [line["type"] for line in lines]
    assert types[:4] == ["ADDED"] * 4
    assert "BOOKMARK" in types
    bookmark = next(line for line in lines if line["type"] == "BOOKMARK")
    assert bookmark["object"]["kind"] == "Namespace"


def test_discovery_documents(served: Served) -> None:
    _, url, _ = served
    assert _raw(f"{url}/api")[1]["versions"] == ["v1"]
    groups = {g["name"] for g in _raw(f"{url}/apis")[1]["groups"]}
    assert {"example.io", "apiextensions.k8s.io", "rbac.authorization.k8s.io"} <= groups
    resources = _raw(f"{url}/apis/example.io/v1")[1]["resources"]
    assert [r["name"] for r in resources] == ["widgets", "widgets/status"]
    assert _raw(f"{url}/apis/nothing.io/v1")[0] == 404


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "code"),
    [
        ("POST", "/api/v1/namespaces/default/configmaps", b"{not json", {}, 400),
        (
            "POST",
            "/api/v1/namespaces/default/configmaps",
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}},
            {},
            400,
        ),
        ("POST", "/api/v1/namespaces/default/configmaps", [1, 2], {}, 400),
        (
            "POST",
            "/api/v1/namespaces/default/configmaps?dryRun=Some",
            {"metadata": {"name": "x"}},
            {},
            400,
        ),
        ("PUT", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "x"}}, {}, 405),
        ("GET", "/api/v1/configmaps/x", None, {}, 404),
        ("GET", "/api/v1/namespaces?watch=1&timeoutSeconds=soon", None, {}, 400),
        ("GET", "/api/v1/namespaces?watch=1&resourceVersion=x1", None, {}, 400),
        ("GET", "/api/v1/namespaces?labelSelector=a%20in%20b", None, {}, 400),
        ("GET", "/api/v1/namespaces/default/configmaps/x/scale", None, {}, 404),
        (
            "PATCH",
            "/api/v1/namespaces/default/configmaps/x",
            {"data": {}},
            {"Content-Type": "application/merge-patch+json"},
            404,
        ),
    ],
)
def test_bad_requests_are_status_objects_and_change_nothing(
    served: Served, method: str, path: str, body: Any, headers: dict[str, str], code: int
) -> None:
    sim, url, _ = served
    rv = sim.resource_version
    status, answer = _raw(url + path, method, body, {"Content-Type": "application/json", **headers})
    assert status == code
    assert answer["kind"] == "Status" and answer["code"] == code
    assert sim.resource_version == rv


def test_list_pagination_and_table(served: Served) -> None:
    sim, url, _ = served
    for name in "abc":
        sim.create(widget(name))
    code, first = _raw(f"{url}/apis/example.io/v1/namespaces/default/widgets?limit=2")
    assert code == 200
    assert [o["metadata"]["name"] for o in first["items"]] == ["a", "b"]
    token = first["metadata"]["continue"]
    _, rest = _raw(f"{url}/apis/example.io/v1/namespaces/default/widgets?limit=2&continue={token}")
    assert [o["metadata"]["name"] for o in rest["items"]] == ["c"]
    _, table = _raw(
        f"{url}/apis/example.io/v1/widgets",
        headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"},
    )
    assert table["kind"] == "Table" and [r["cells"][0] for r in table["rows"]] == ["a", "b", "c"]


def test_impersonation_reaches_admission_as_the_user(served: Served) -> None:
    sim, url, _ = served
    seen: list[str] = []

    class Recorder:
        def mutate(self, view: Any, attrs: Any, obj: Any) -> tuple[Any, list[str]]:
            seen.append(attrs.user.username)
            return obj, []

        def validate(self, view: Any, attrs: Any, obj: Any) -> list[str]:
            return []

    sim.chain = Recorder()  # type: ignore[assignment]
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
    status, _ = _raw(
        f"{url}/api/v1/namespaces/default/configmaps",
        "POST",
        body,
        {"Content-Type": "application/json", "Impersonate-User": "system:serviceaccount:ns:sa"},
    )
    assert status == 201 and seen == ["system:serviceaccount:ns:sa"]


KUBECTL = shutil.which("kubectl")


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
def test_kubectl_apply_get_delete(served: Served) -> None:
    sim, _, kubeconfig = served

    def kubectl(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(KUBECTL), "--kubeconfig", str(kubeconfig), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    manifest = "apiVersion: example.io/v1\nkind: Widget\nmetadata: {name: w1}\nspec: {size: 1}\n"
    applied = kubectl("apply", "-f", "-", stdin=manifest)
    assert applied.returncode == 0, applied.stderr
    assert "widget.example.io/w1 created" in applied.stdout
    again = kubectl("apply", "-f", "-", stdin=manifest.replace("size: 1", "size: 2"))
    assert again.returncode == 0, again.stderr
    assert sim.get("example.io", "Widget", "default", "w1")["spec"] == {"size": 2}
    listed = kubectl("get", "widgets")
    assert listed.returncode == 0 and "w1" in listed.stdout
    cm = kubectl(
        "apply",
        "-f",
        "-",
        stdin="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: '1'}\n",
    )
    assert cm.returncode == 0, cm.stderr
    got = kubectl("get", "configmap", "c", "-o", "json")
    assert json.loads(got.stdout)["data"] == {"a": "1"}
    deleted = kubectl("delete", "widget", "w1")
    assert deleted.returncode == 0, deleted.stderr
    missing = kubectl("get", "widget", "w1")
    assert missing.returncode == 1 and "NotFound" in missing.stderr


def test_field_validation_and_warning_headers(served: Served) -> None:
    sim, url, _ = served
    schema = {
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}},
    }
    sim.create(crd("example.io", "Gizmo", "gizmos", schema=schema))
    body = {
        "apiVersion": "example.io/v1",
        "kind": "Gizmo",
        "metadata": {"name": "g"},
        "spec": {"size": 1, "extra": 2},
    }
    path = f"{url}/apis/example.io/v1/namespaces/default/gizmos"
    headers = {"Content-Type": "application/json"}
    code, status = _raw(f"{path}?fieldValidation=Strict", "POST", body, headers)
    assert (code, status["message"]) == (400, 'strict decoding error: unknown field "spec.extra"')
    request = urllib.request.Request(
        path, data=json.dumps(body).encode(), method="POST", headers=headers
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 201
        assert response.headers.get_all("Warning") == ['299 - "unknown field \\"spec.extra\\""']
        assert json.loads(response.read())["spec"] == {"size": 1}
    code, _ = _raw(
        f"{path}/g?fieldValidation=Ignore",
        "PATCH",
        {"spec": {"more": 1}},
        {"Content-Type": "application/merge-patch+json"},
    )
    assert code == 200 and sim.get("example.io", "Gizmo", "default", "g")["spec"] == {"size": 1}


def test_custom_object_watch_with_bookmarks(served: Served) -> None:
    sim, _, _ = served
    api = client.CustomObjectsApi(_api(served))
    args = ("example.io", "v1", "default", "widgets")
    start = api.list_namespaced_custom_object(*args)["metadata"]["resourceVersion"]
    sim.create(widget("a"))
    sim.patch("example.io", "Widget", "default", "a", {"spec": {"n": 1}})
    seen = []
    for event in watch.Watch().stream(
        api.list_namespaced_custom_object,
        *args,
        resource_version=start,
        allow_watch_bookmarks=True,
        timeout_seconds=1,
    ):
        seen.append((event["type"], event["object"]["metadata"].get("name")))
    assert seen[:2] == [("ADDED", "a"), ("MODIFIED", "a")]
    assert {t for t, _ in seen[2:]} <= {"BOOKMARK"}


def test_served_over_tls_with_a_ca_in_the_kubeconfig(cluster: store.Store, tmp_path: Path) -> None:
    import ssl

    from certs import authority, files

    files.write(tmp_path, authority.generate("kubernetes", "default", days=1, localhost=True))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "tls.crt", tmp_path / "tls.key")
    url, stop = apiserver.serve_in_thread(cluster, ssl_context=context)
    try:
        assert url.startswith("https://127.0.0.1:")
        kubeconfig = apiserver.write_kubeconfig(
            tmp_path / "kc", url, ca_file=tmp_path / "ca.crt", token="t"
        )
        api = config.new_client_from_config(str(kubeconfig))
        names = [n.metadata.name for n in client.CoreV1Api(api).list_namespace().items]
        assert "default" in names
    finally:
        stop()


def test_delete_collection_foreground_and_namespace_over_rest(served: Served) -> None:
    sim, url, _ = served
    sim.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    for name, tier in [("a", "web"), ("b", "web"), ("c", "db")]:
        obj = widget(name, namespace="team")
        obj["metadata"]["labels"] = {"tier": tier}
        sim.create(obj)
    code, out = _raw(
        f"{url}/apis/example.io/v1/namespaces/team/widgets?labelSelector=tier%3Dweb", "DELETE"
    )
    assert code == 200 and [o["metadata"]["name"] for o in out["items"]] == ["a", "b"]
    assert [o["metadata"]["name"] for o in sim.list("example.io", "Widget", "team")[0]] == ["c"]
    options = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Foreground"}
    code, out = _raw(
        f"{url}/apis/example.io/v1/namespaces/team/widgets/c",
        "DELETE",
        options,
        {"Content-Type": "application/json"},
    )
    assert code == 200 and out["metadata"]["name"] == "c"
    code, out = _raw(f"{url}/api/v1/namespaces/team?dryRun=All", "DELETE")
    assert code == 200 and sim.find("", "Namespace", "", "team") is not None
    code, out = _raw(f"{url}/api/v1/namespaces/team", "DELETE")
    assert code == 200 and out["status"]["phase"] == "Terminating"
    assert sim.find("", "Namespace", "", "team") is None


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
def test_kubectl_imperative_creates_send_protobuf_and_are_understood(served: Served) -> None:
    sim, _, kubeconfig = served
    commands = [
        ["create", "namespace", "team"],
        ["create", "configmap", "c", "--from-literal=a=b", "-n", "team"],
        ["create", "secret", "generic", "s", "--from-literal=p=q", "-n", "team"],
        ["create", "serviceaccount", "runner", "-n", "team"],
        ["create", "role", "r", "--verb=get,list", "--resource=pods", "-n", "team"],
        ["create", "rolebinding", "rb", "--role=r", "--serviceaccount=team:runner", "-n", "team"],
        ["create", "clusterrolebinding", "crb", "--clusterrole=view", "--group=devs"],
    ]
    for args in commands:
        done = subprocess.run(
            [str(KUBECTL), "--kubeconfig", str(kubeconfig), *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, (args, done.stderr)
    assert sim.get("", "ConfigMap", "team", "c")["data"] == {"a": "b"}
    secret = sim.get("", "Secret", "team", "s")
    assert (secret["data"], secret["type"]) == ({"p": "cQ=="}, "Opaque")
    binding = sim.get("rbac.authorization.k8s.io", "RoleBinding", "team", "rb")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "runner", "namespace": "team"}
    ]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "r",
    }
    role = sim.get("rbac.authorization.k8s.io", "Role", "team", "r")
    assert role["rules"] == [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}]
    crb = sim.get("rbac.authorization.k8s.io", "ClusterRoleBinding", "", "crb")
    assert crb["subjects"] == [
        {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "devs"}
    ]


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
def test_kubectl_get_watch_prints_rows_for_changes(served: Served) -> None:
    sim, _, kubeconfig = served
    sim.create(widget("first"))
    before = len(sim._watchers)
    proc = subprocess.Popen(
        [
            str(KUBECTL),
            "--kubeconfig",
            str(kubeconfig),
            "get",
            "widgets",
            "-w",
            "--request-timeout=3s",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(400):  # wait (bounded) until kubectl's watch is open
            if len(sim._watchers) > before or proc.poll() is not None:
                break
            time.sleep(0.025)
        sim.create(widget("second"))
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    rows = [line.split()[0] for line in out.splitlines()[1:] if line.strip()]
    assert rows[:2] == ["first", "second"], (out, err)


def test_tokens_and_impersonation_decide_the_user(cluster: store.Store, tmp_path: Path) -> None:
    operator = review.UserInfo(
        "system:serviceaccount:vworkspace-system:operator", ("system:serviceaccounts",)
    )
    url, stop = apiserver.serve_in_thread(cluster, tokens={"op-token": operator})
    seen: list[tuple[str, tuple[str, ...]]] = []

    class Recorder:
        def mutate(self, view: Any, attrs: Any, obj: Any) -> tuple[Any, list[str]]:
            seen.append((attrs.user.username, attrs.user.groups))
            return obj, []

        def validate(self, view: Any, attrs: Any, obj: Any) -> list[str]:
            return []

    cluster.chain = Recorder()  # type: ignore[assignment]
    path = f"{url}/api/v1/namespaces/default/configmaps"
    try:
        body = {"metadata": {"name": "a"}}
        headers = {"Content-Type": "application/json", "Authorization": "Bearer op-token"}
        assert _raw(path, "POST", body, headers)[0] == 201
        code, status = _raw(
            path, "POST", {"metadata": {"name": "b"}}, headers | {"Authorization": "Bearer nope"}
        )
        assert (code, status["reason"]) == (401, "Unauthorized")
        as_alice = headers | {"Impersonate-User": "alice", "Impersonate-Group": "devs"}
        assert _raw(path, "POST", {"metadata": {"name": "c"}}, as_alice)[0] == 201
    finally:
        stop()
    assert seen == [(operator.username, operator.groups), ("alice", ("devs",))]
    assert cluster.find("", "ConfigMap", "default", "b") is None


def _grant_alice_pod_reading(sim: store.Store) -> None:
    sim.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    rbac = "rbac.authorization.k8s.io"
    sim.create(
        {
            "apiVersion": f"{rbac}/v1",
            "kind": "Role",
            "metadata": {"name": "r", "namespace": "team"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}],
        }
    )
    sim.create(
        {
            "apiVersion": f"{rbac}/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "rb", "namespace": "team"},
            "roleRef": {"apiGroup": rbac, "kind": "Role", "name": "r"},
            "subjects": [{"kind": "User", "apiGroup": rbac, "name": "alice"}],
        }
    )


def test_access_reviews_answer_from_the_clusters_rbac(served: Served) -> None:
    sim, url, _ = served
    _grant_alice_pod_reading(sim)
    rv = sim.resource_version
    auth = client.AuthorizationV1Api(_api(served))

    def can(user: str, verb: str, namespace: str) -> bool:
        body = {
            "spec": {
                "user": user,
                "groups": ["system:authenticated"],
                "resourceAttributes": {"verb": verb, "resource": "pods", "namespace": namespace},
            }
        }
        return bool(auth.create_subject_access_review(body).status.allowed)

    assert can("alice", "list", "team")
    assert not can("alice", "delete", "team")
    assert not can("alice", "get", "default")
    assert not can("bob", "get", "team")
    mine = auth.create_self_subject_access_review(
        {"spec": {"resourceAttributes": {"verb": "delete", "resource": "nodes"}}}
    )
    assert mine.status.allowed  # the admin kubeconfig is in system:masters
    assert sim.resource_version == rv, "reviews are answered, never stored"
    assert _raw(f"{url}/apis/authorization.k8s.io/v1/subjectaccessreviews")[0] == 405
    code, status = _raw(
        f"{url}/apis/authorization.k8s.io/v1/subjectaccessreviews",
        "POST",
        {"spec": {"user": "alice"}},
        {"Content-Type": "application/json"},
    )
    assert (code, status["reason"]) == (422, "Invalid")


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
def test_kubectl_auth_can_i(served: Served) -> None:
    sim, _, kubeconfig = served
    _grant_alice_pod_reading(sim)

    def can_i(*args: str) -> str:
        done = subprocess.run(
            [str(KUBECTL), "--kubeconfig", str(kubeconfig), "auth", "can-i", *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return done.stdout.strip()

    assert can_i("get", "pods", "-n", "team", "--as", "alice") == "yes"
    assert can_i("delete", "pods", "-n", "team", "--as", "alice") == "no"
    assert can_i("create", "namespaces") == "yes"


@pytest.mark.parametrize(
    "options",
    ["x", [1], {"kind": "Pod", "apiVersion": "v1"}, {"gracePeriodSeconds": "x"},
     {"preconditions": "x"}, {"dryRun": "All"}],
)  # fmt: skip
def test_a_delete_with_bad_options_is_400_and_deletes_nothing(served: Served, options: Any) -> None:
    sim, url, _ = served
    sim.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "keep", "namespace": "default"},
        }
    )
    status, answer = _raw(
        url + "/api/v1/namespaces/default/configmaps/keep", "DELETE", options,
        {"Content-Type": "application/json"},
    )  # fmt: skip
    assert (status, answer["reason"]) == (400, "BadRequest")
    assert "DeleteOptions" in answer["message"]
    assert sim.find("", "ConfigMap", "default", "keep") is not None


def test_an_unknown_propagation_policy_is_invalid_and_deletes_nothing(served: Served) -> None:
    """As kube-apiserver's DeleteOptions validation: 422, in the body or in the query."""
    sim, url, _ = served
    sim.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "keep", "namespace": "default"},
        }
    )
    path = url + "/api/v1/namespaces/default/configmaps/keep"
    for where, body in ((path, {"propagationPolicy": "Sometimes"}),
                        (path + "?propagationPolicy=Sometimes", None)):  # fmt: skip
        status, answer = _raw(where, "DELETE", body, {"Content-Type": "application/json"})
        assert (status, answer["reason"]) == (422, "Invalid"), answer
        assert "propagationPolicy" in answer["message"]
    assert sim.find("", "ConfigMap", "default", "keep") is not None


def test_oversized_bodies_and_malformed_labels_are_4xx_not_500(served: Served) -> None:
    sim, url, _ = served
    rv = sim.resource_version
    huge = {"metadata": {"name": "big"}, "data": {"k": "x" * (4 * 1024 * 1024)}}
    status, answer = _raw(
        url + "/api/v1/namespaces/default/configmaps", "POST", huge,
        {"Content-Type": "application/json"},
    )  # fmt: skip
    assert (status, answer["reason"]) == (413, "RequestEntityTooLarge")
    status, answer = _raw(
        url + "/api/v1/namespaces", "POST",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "zz", "labels": ["a"]}},
        {"Content-Type": "application/json"},
    )  # fmt: skip
    assert status == 422 and "metadata.labels" in answer["message"]
    assert sim.resource_version == rv


def test_a_custom_resource_update_needs_a_resource_version(served: Served) -> None:
    api = client.CustomObjectsApi(_api(served))
    args = ("example.io", "v1", "default", "widgets")
    made = api.create_namespaced_custom_object(*args, widget("u", size=1))
    blind = {
        **made,
        "metadata": {k: v for k, v in made["metadata"].items() if k != "resourceVersion"},
    }
    with pytest.raises(client.ApiException) as info:
        api.replace_namespaced_custom_object(*args, "u", blind)
    assert info.value.status == 422
    assert "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update" in (
        info.value.body
    )
    made["spec"] = {"size": 2}
    assert api.replace_namespaced_custom_object(*args, "u", made)["spec"] == {"size": 2}
