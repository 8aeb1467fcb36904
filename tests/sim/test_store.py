"""The fake cluster store: metadata, concurrency, subresources, patches, selectors, CRDs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from sim import errors, store
from tests.sim.storebuilders import crd, widget


def _fails(fn: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(errors.ApiError) as info:
        fn(*args, **kwargs)
    return info.value.status


def test_create_sets_server_fields_and_increasing_resource_versions(cluster: store.Store) -> None:
    first = cluster.create(widget("a", size=1))
    second = cluster.create(widget("b"))
    meta = first["metadata"]
    assert meta["uid"] and meta["uid"] != second["metadata"]["uid"]
    assert meta["creationTimestamp"] == "2026-01-01T00:00:00Z"
    assert meta["generation"] == 1
    assert int(second["metadata"]["resourceVersion"]) > int(meta["resourceVersion"])
    assert cluster.get("example.io", "Widget", "default", "a") == first


def test_same_seed_gives_same_uids() -> None:
    def run() -> list[str]:
        s = store.Store(seed=3)
        s.create(crd())
        return [s.create(widget(f"w{i}"))["metadata"]["uid"] for i in range(3)]

    assert run() == run()


def test_not_found_and_already_exists_are_status_objects(cluster: store.Store) -> None:
    status = _fails(cluster.get, "example.io", "Widget", "default", "nope")
    assert status == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'widgets.example.io "nope" not found',
        "reason": "NotFound",
        "code": 404,
        "details": {"name": "nope", "group": "example.io", "kind": "widgets"},
    }
    cluster.create(widget("a"))
    status = _fails(cluster.create, widget("a"))
    assert (status["code"], status["reason"]) == (409, "AlreadyExists")
    assert status["message"] == 'widgets.example.io "a" already exists'


def test_stale_resource_version_is_a_conflict_and_changes_nothing(cluster: store.Store) -> None:
    obj = cluster.create(widget("a", size=1))
    fresh = cluster.update({**obj, "spec": {"size": 2}})
    status = _fails(cluster.update, {**obj, "spec": {"size": 3}})
    assert (status["code"], status["reason"]) == (409, "Conflict")
    assert status["message"].endswith(
        "the object has been modified; please apply your changes to the latest version and try again"
    )
    assert cluster.get("example.io", "Widget", "default", "a") == fresh


def test_update_without_resource_version_is_unconditional_for_built_in_kinds_only(
    cluster: store.Store,
) -> None:
    """As kube-apiserver: a ConfigMap may be replaced blindly, a custom resource may not (its
    strategy refuses unconditional updates), on every path into the store."""
    cm = cluster.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}}
    )
    del cm["metadata"]["resourceVersion"]
    assert cluster.update({**cm, "data": {"k": "v"}})["data"] == {"k": "v"}
    obj = cluster.create(widget("a", size=1))
    del obj["metadata"]["resourceVersion"]
    status = _fails(cluster.update, {**obj, "spec": {"size": 5}})
    assert (status["code"], status["reason"]) == (422, "Invalid")
    assert "metadata.resourceVersion" in status["message"]
    assert cluster.get("example.io", "Widget", "default", "a")["spec"] == {"size": 1}


def test_generation_moves_on_spec_only(cluster: store.Store) -> None:
    obj = cluster.create(widget("a", size=1))
    obj["metadata"]["labels"] = {"x": "y"}
    obj = cluster.update(obj)
    assert obj["metadata"]["generation"] == 1
    obj["status"] = {"phase": "Done"}
    obj = cluster.update_status(obj)
    assert (obj["metadata"]["generation"], obj["status"]) == (1, {"phase": "Done"})
    obj["spec"] = {"size": 2}
    obj = cluster.update(obj)
    assert obj["metadata"]["generation"] == 2


def test_status_and_spec_endpoints_keep_each_others_part(cluster: store.Store) -> None:
    obj = cluster.create({**widget("a", size=1), "status": {"phase": "ignored on create"}})
    assert "status" not in obj
    obj["status"] = {"phase": "Running"}
    obj["spec"] = {"size": 99}
    after = cluster.update_status(obj)
    assert after["spec"] == {"size": 1} and after["status"] == {"phase": "Running"}
    after["spec"] = {"size": 2}
    after["status"] = {"phase": "changed through the main endpoint"}
    final = cluster.update(after)
    assert final["spec"] == {"size": 2} and final["status"] == {"phase": "Running"}


def test_no_op_update_writes_nothing(cluster: store.Store) -> None:
    obj = cluster.create(widget("a", size=1))
    rv = cluster.resource_version
    assert cluster.update(obj) == obj
    assert cluster.resource_version == rv


def test_kind_without_established_crd_is_not_served() -> None:
    s = store.Store()
    status = _fails(s.create, widget("a"))
    assert status["code"] == 404
    assert status["message"] == "the server could not find the requested resource"
    pending = crd()
    pending["status"] = {"conditions": [{"type": "Established", "status": "False"}]}
    s.load([pending])
    assert _fails(s.create, widget("a"))["code"] == 404
    stored = s.get("apiextensions.k8s.io", "CustomResourceDefinition", "", "widgets.example.io")
    stored["status"]["conditions"][0]["status"] = "True"
    s.update_status(stored)
    assert s.create(widget("a"))["metadata"]["name"] == "a"


def test_deleting_a_crd_deletes_its_objects(cluster: store.Store) -> None:
    cluster.create(widget("a"))
    cluster.delete("apiextensions.k8s.io", "CustomResourceDefinition", "", "widgets.example.io")
    assert _fails(cluster.create, widget("b"))["code"] == 404
    assert cluster.find("example.io", "Widget", "default", "a") is None


def test_merge_patch_and_json_patch(cluster: store.Store) -> None:
    cluster.create(widget("a", size=1, color="red"))
    out = cluster.patch("example.io", "Widget", "default", "a", {"spec": {"color": None, "n": 2}})
    assert out["spec"] == {"size": 1, "n": 2}
    ops = [
        {"op": "replace", "path": "/spec/size", "value": 3},
        {"op": "add", "path": "/metadata/labels", "value": {"example.io/tier": "x"}},
        {"op": "copy", "from": "/spec/size", "path": "/spec/copy"},
        {"op": "move", "from": "/spec/n", "path": "/spec/moved"},
    ]
    out = cluster.patch(
        "example.io", "Widget", "default", "a", ops, patch_type="application/json-patch+json"
    )
    assert out["spec"] == {"size": 3, "copy": 3, "moved": 2}
    assert out["metadata"]["labels"] == {"example.io/tier": "x"}
    assert out["metadata"]["generation"] == 3


@pytest.mark.parametrize(
    ("body", "patch_type", "code"),
    [
        # kube-apiserver: a body that is not an array of objects is 400, more than 10,000
        # operations 413, an operation that fails to apply 422 Invalid.
        ([{"op": "test", "path": "/spec/size", "value": 9}], "application/json-patch+json", 422),
        ([{"op": "remove", "path": "/spec/missing"}], "application/json-patch+json", 422),
        ([{"op": "bogus", "path": "/spec"}], "application/json-patch+json", 422),
        ([{"op": "add", "path": "/spec/size"}], "application/json-patch+json", 422),
        ([{"path": "/spec/size"}], "application/json-patch+json", 422),
        ({"op": "add"}, "application/json-patch+json", 400),
        (["not an object"], "application/json-patch+json", 400),
        (
            [{"op": "test", "path": "/spec/size", "value": 1}] * 10_001,
            "application/json-patch+json",
            413,
        ),
        (["not a dict"], "application/merge-patch+json", 400),
        ({"spec": {}}, "text/plain", 415),
        ({"metadata": {"resourceVersion": "1"}}, "application/merge-patch+json", 409),
    ],
)
def test_bad_patches_change_nothing(
    cluster: store.Store, body: Any, patch_type: str, code: int
) -> None:
    before = cluster.create(widget("a", size=1))
    status = _fails(
        cluster.patch, "example.io", "Widget", "default", "a", body, patch_type=patch_type
    )
    assert status["code"] == code
    assert cluster.get("example.io", "Widget", "default", "a") == before


@pytest.mark.parametrize(
    ("obj", "code", "field"),
    [
        (
            {"apiVersion": "example.io/v1", "kind": "Widget", "metadata": {"namespace": "default"}},
            422,
            "metadata.name",
        ),
        (widget("Bad_Name"), 422, "metadata.name"),
        ({**widget("a"), "metadata": {"name": "a"}}, 422, "metadata.namespace"),
        (
            {**widget("a"), "metadata": {"name": "a", "namespace": "default", "labels": {"x": 1}}},
            422,
            "metadata.labels",
        ),
        (
            {
                **widget("a"),
                "metadata": {
                    "name": "a",
                    "namespace": "default",
                    "ownerReferences": [{"kind": "X"}],
                },
            },
            422,
            "metadata.ownerReferences[0].apiVersion",
        ),
        (
            {
                **widget("a"),
                "metadata": {"name": "a", "namespace": "default", "resourceVersion": "3"},
            },
            400,
            None,
        ),
        ({"kind": "Widget", "metadata": {"name": "a"}}, 400, None),
        ({"apiVersion": "example.io/v1", "metadata": {"name": "a"}}, 400, None),
        ({"apiVersion": "example.io/v2", "kind": "Widget", "metadata": {"name": "a"}}, 404, None),
        ({**widget("a"), "metadata": "nope"}, 400, None),
        (widget("a", namespace="missing"), 404, None),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    cluster: store.Store, obj: dict[str, Any], code: int, field: str | None
) -> None:
    rv = cluster.resource_version
    status = _fails(cluster.create, obj)
    assert status["code"] == code
    if field:
        assert field in [c["field"] for c in status["details"]["causes"]]
    assert cluster.resource_version == rv


def test_non_json_input_is_a_bad_request(cluster: store.Store) -> None:
    assert _fails(cluster.create, "not an object")["code"] == 400
    assert _fails(cluster.create, {**widget("a"), "spec": {"x": object()}})["code"] == 400


def test_generate_name_and_dry_run(cluster: store.Store) -> None:
    rv = cluster.resource_version
    dry = cluster.create(
        {
            "apiVersion": "example.io/v1",
            "kind": "Widget",
            "metadata": {"generateName": "w-", "namespace": "default"},
        },
        dry_run=True,
    )
    assert dry["metadata"]["name"].startswith("w-") and len(dry["metadata"]["name"]) == 7
    assert cluster.resource_version == rv
    assert cluster.list("example.io", "Widget")[0] == []


def test_cluster_scoped_objects_drop_a_namespace() -> None:
    s = store.Store()
    s.create(crd("example.io", "Gadget", "gadgets", scope="Cluster"))
    obj = s.create(
        {
            "apiVersion": "example.io/v1",
            "kind": "Gadget",
            "metadata": {"name": "g", "namespace": "x"},
        }
    )
    assert "namespace" not in obj["metadata"]
    assert s.get("example.io", "Gadget", "", "g")["metadata"]["name"] == "g"


def test_label_and_field_selectors(cluster: store.Store) -> None:
    for name, labels in [("a", {"tier": "web", "env": "prod"}), ("b", {"tier": "db"}), ("c", {})]:
        obj = widget(name)
        obj["metadata"]["labels"] = labels
        cluster.create(obj)

    def names(labels: str = "", fields: str = "") -> list[str]:
        items, _ = cluster.list("example.io", "Widget", "default", labels=labels, fields=fields)
        return [o["metadata"]["name"] for o in items]

    assert names("tier=web") == ["a"]
    assert names("tier==web") == ["a"]
    assert names("tier!=web") == ["b", "c"]
    assert names("tier in (web, db)") == ["a", "b"]
    assert names("tier notin (web)") == ["b", "c"]
    assert names("tier") == ["a", "b"]
    assert names("!tier") == ["c"]
    assert names("tier,env=prod") == ["a"]
    assert names(fields="metadata.name=b") == ["b"]
    assert names(fields="metadata.name!=b") == ["a", "c"]
    assert _fails(names, "tier in web")["code"] == 400
    assert _fails(names, fields="spec.size=1")["message"] == "field label not supported: spec.size"


def test_schema_validation_lists_every_violation() -> None:
    s = store.Store()
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "required": ["type"],
                "properties": {
                    "type": {"type": "string", "enum": ["A", "B"]},
                    "size": {"type": "integer", "minimum": 1, "default": 1},
                    "label": {"type": "string", "nullable": True, "maxLength": 3},
                },
            }
        },
    }
    s.create(crd(schema=schema))
    status = _fails(s.create, widget("a", type="C", size="big", label="long", extra=1))
    assert status["code"] == 422 and status["reason"] == "Invalid"
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueTooLong",
            "message": "Too long: may not be more than 3 bytes",
            "field": "spec.label",
        },
        {
            "reason": "FieldValueTypeInvalid",
            "message": 'Invalid value: "string": spec.size in body must be of type integer: "string"',
            "field": "spec.size",
        },
        {
            "reason": "FieldValueNotSupported",
            "message": 'Unsupported value: "C": supported values: "A", "B"',
            "field": "spec.type",
        },
    ]
    assert status["message"].startswith('Widget.example.io "a" is invalid: [spec.label: Too long')
    missing = _fails(s.create, widget("a"))
    assert missing["message"] == 'Widget.example.io "a" is invalid: spec.type: Required value'
    warnings: list[str] = []
    ok = s.create(widget("a", type="A", label=None, extra=1), warnings=warnings)
    assert ok["spec"] == {"type": "A", "size": 1, "label": None}
    assert warnings == ['unknown field "spec.extra"']


def test_view_indexes_what_admission_reads_including_target_kinds(cluster: store.Store) -> None:
    cluster.create(widget("before"))
    assert cluster.view.list("example.io", "Widget") == []
    revision = cluster.view.revision
    cluster.create(
        crd("ops.vworkspace.io", "OperationTemplate", "operationtemplates", scope="Cluster")
    )
    template = {
        "apiVersion": "ops.vworkspace.io/v1",
        "kind": "OperationTemplate",
        "metadata": {"name": "t"},
        "spec": {
            "type": "X",
            "engine": "workflow",
            "targetKinds": [{"apiVersion": "example.io/v1", "kind": "Widget"}],
        },
    }
    cluster.create(template)
    assert cluster.view.revision > revision
    assert [o["metadata"]["name"] for o in cluster.view.list("example.io", "Widget")] == ["before"]
    cluster.create(widget("after"))
    assert len(cluster.view.list("example.io", "Widget")) == 2
    revision = cluster.view.revision
    cluster.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}}
    )
    assert cluster.view.revision == revision


def test_strategic_merge_patch_directives(cluster: store.Store) -> None:
    """Built-in kinds take strategic merge (directives honoured); custom resources answer 415
    as kube-apiserver does, listing the patch types they accept."""
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "default", "labels": {"x": "1", "y": "2"}},
        "data": {"keep": "1", "gone": "x"},
    }
    cluster.create(cm)
    body = {
        "$setElementOrder/items": [{"name": "a"}],
        "metadata": {"labels": {"$patch": "replace", "z": "3"}},
        "data": {"keep": "2", "gone": None},
    }
    strategic = "application/strategic-merge-patch+json"
    out = cluster.patch("", "ConfigMap", "default", "c", body, patch_type=strategic)
    assert out["metadata"]["labels"] == {"z": "3"}
    assert out["data"] == {"keep": "2"}
    assert not any(k.startswith("$") for k in out)
    cluster.create(widget("a", keep=1))
    with pytest.raises(errors.ApiError) as info:
        cluster.patch(
            "example.io", "Widget", "default", "a", {"spec": {"keep": 2}}, patch_type=strategic
        )
    assert info.value.status["code"] == 415
    assert "application/merge-patch+json" in info.value.status["message"]


def test_a_patch_cannot_change_kind_or_api_version(cluster: store.Store) -> None:
    cluster.create(widget("a", keep=1))
    rv = cluster.resource_version
    for op in (
        [{"op": "replace", "path": "/kind", "value": "Gadget"}],
        [{"op": "replace", "path": "/apiVersion", "value": "v1"}],
    ):
        with pytest.raises(errors.ApiError) as info:
            cluster.patch(
                "example.io", "Widget", "default", "a", op, patch_type="application/json-patch+json"
            )
        assert info.value.status["code"] == 422
        assert "must be" in info.value.status["message"]
    assert cluster.resource_version == rv
    assert cluster.find("example.io", "Widget", "default", "a")["kind"] == "Widget"


def test_schema_formats_are_checked_like_the_apiserver() -> None:
    s = store.Store()
    schema = {
        "type": "object",
        "properties": {
            "status": {
                "type": "object",
                "properties": {
                    "at": {"type": "string", "format": "date-time"},
                    "n": {"type": "integer", "format": "int32"},
                },
            }
        },
    }
    s.create(crd(schema=schema))
    obj = s.create(widget("a"))
    ok = s.update_status(obj | {"status": {"at": "2026-01-01T00:00:00Z", "n": 3}})
    with pytest.raises(errors.ApiError) as info:
        s.update_status(ok | {"status": {"at": "yesterday", "n": 2**40}})
    assert info.value.code == 422
    assert [c["field"] for c in info.value.status["details"]["causes"]] == ["status.at", "status.n"]
    assert info.value.status["details"]["causes"][0]["message"] == (
        'Invalid value: "yesterday": status.at in body must be of type date-time: "yesterday"'
    )


ARGO = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "argo"


@pytest.mark.skipif(not ARGO.is_dir(), reason="../shared/reference/argo is absent")
def test_full_argo_workflow_crd_validates_workflows() -> None:
    s = store.Store()
    text = (ARGO / "crds" / "full" / "argoproj.io_workflows.yaml").read_text(encoding="utf-8")
    s.load([yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))])  # 2.8 MB
    wf = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": "w", "namespace": "default"},
        "spec": {
            "entrypoint": "main",
            "activeDeadlineSeconds": 30,
            "workflowTemplateRef": {"name": "t", "clusterScope": True},
            "templates": [
                {"name": "main", "container": {"image": "x", "resources": {"limits": {"cpu": 1}}}}
            ],
        },
    }
    assert s.create(wf)["spec"]["templates"][0]["container"]["resources"] == {"limits": {"cpu": 1}}
    bad = wf | {
        "metadata": {"name": "bad", "namespace": "default"},
        "spec": {"entrypoint": 5, "activeDeadlineSeconds": "x"},
    }
    with pytest.raises(errors.ApiError) as info:
        s.create(bad)
    assert [c["field"] for c in info.value.status["details"]["causes"]] == [
        "spec.activeDeadlineSeconds",
        "spec.entrypoint",
    ]


def test_schema_values_are_not_mistaken_for_subschemas() -> None:
    s = store.Store()
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "nullable": {"type": "string", "enum": ["a"]},
                    "opts": {
                        "type": "object",
                        "default": {"nullable": True},
                        "x-kubernetes-preserve-unknown-fields": True,
                    },
                    "port": {
                        "x-kubernetes-int-or-string": True,
                        "anyOf": [{"type": "integer"}, {"type": "string"}],
                    },
                },
            }
        },
    }
    s.create(crd(schema=schema))
    obj = s.create(widget("a", nullable="a", port="http"))
    assert obj["spec"] == {"nullable": "a", "port": "http", "opts": {"nullable": True}}
    with pytest.raises(errors.ApiError):
        s.create(widget("b", nullable=None))


def test_load_keeps_an_exported_objects_identity_and_status(cluster: store.Store) -> None:
    exported = widget("a") | {"status": {"phase": "Done"}}
    exported["metadata"].update(
        uid="11111111-2222-4333-8444-555555555555",
        creationTimestamp="2025-06-01T10:00:00Z",
        resourceVersion="98765",
        managedFields=[{"manager": "kubectl"}],
    )
    child = widget("b")
    child["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "example.io/v1",
            "kind": "Widget",
            "name": "a",
            "uid": exported["metadata"]["uid"],
        }
    ]
    loaded = cluster.load([child, exported])
    by_name = {o["metadata"]["name"]: o for o in loaded}
    a = by_name["a"]["metadata"]
    assert (a["uid"], a["creationTimestamp"]) == (
        "11111111-2222-4333-8444-555555555555",
        "2025-06-01T10:00:00Z",
    )
    assert a["resourceVersion"] != "98765" and "managedFields" not in a
    assert by_name["a"]["status"] == {"phase": "Done"}
    cluster.delete("example.io", "Widget", "default", "a")
    assert cluster.find("example.io", "Widget", "default", "b") is None


@pytest.mark.parametrize(
    ("labels", "problem"),
    [
        (
            {"app": "x" * 64},
            'Invalid value: "' + "x" * 64 + '": must be no more than 63 characters',
        ),
        ({"app": "bad value"}, 'Invalid value: "bad value": a valid label must be an empty string'),
        ({"-app": "x"}, 'Invalid value: "-app": name part must consist of alphanumeric characters'),
        (
            {"Example.IO/app": "x"},
            'Invalid value: "Example.IO/app": prefix part a lowercase RFC 1123 subdomain',
        ),
        ({"a/b/c": "x"}, 'Invalid value: "a/b/c": a qualified name must consist of'),
    ],
)
def test_label_keys_and_values_are_validated(
    cluster: store.Store, labels: dict[str, str], problem: str
) -> None:
    obj = widget("a")
    obj["metadata"]["labels"] = labels
    cause = _fails(cluster.create, obj)["details"]["causes"][0]
    assert cause["field"] == "metadata.labels"
    assert cause["message"].startswith(problem)


def test_valid_labels_and_annotations_pass(cluster: store.Store) -> None:
    obj = widget("a")
    obj["metadata"]["labels"] = {
        "app.vworkspace.io/managed-by": "vworkspace-operator",
        "empty": "",
        "x_y.z": "A-1_b.2",
    }
    obj["metadata"]["annotations"] = {
        "kubectl.kubernetes.io/last-applied-configuration": "{ any text }"
    }
    assert cluster.create(obj)["metadata"]["labels"]["empty"] == ""


def test_secret_string_data_and_immutable_config(cluster: store.Store) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "default"},
        "data": {"a": "YQ=="},
        "stringData": {"b": "bee"},
    }
    made = cluster.create(secret)
    assert made["data"] == {"a": "YQ==", "b": "YmVl"} and "stringData" not in made
    assert made["type"] == "Opaque"
    cluster.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "default"},
            "data": {"k": "v"},
            "immutable": True,
        }
    )
    relabelled = cluster.patch(
        "", "ConfigMap", "default", "c", {"metadata": {"labels": {"x": "y"}}}
    )
    assert relabelled["metadata"]["labels"] == {"x": "y"}
    status = _fails(cluster.update, relabelled | {"data": {"k": "w"}})
    assert status["code"] == 422 and status["details"]["causes"][0]["field"] == "data"
    assert (
        _fails(cluster.patch, "", "ConfigMap", "default", "c", {"immutable": False})["code"] == 422
    )
