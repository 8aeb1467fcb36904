"""Manifest reading: multi-document YAML, Lists, directories, and precise errors."""

from __future__ import annotations

import pytest

from webhooks import errors, manifests


def test_multi_document_lists_and_directories(tmp_path):
    (tmp_path / "a.yaml").write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n---\n"
        "apiVersion: v1\nkind: List\nitems:\n"
        "- {apiVersion: v1, kind: ServiceAccount, metadata: {name: s, namespace: a}}\n"
    )
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "b.json").write_text(
        '{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "b"}}'
    )
    (sub / "kustomization.yaml").write_text("resources: [b.json]\n")
    (sub / "notes.txt").write_text("ignored")
    objs = manifests.load([tmp_path])
    assert [(o["kind"], o["metadata"]["name"]) for o in objs] == [
        ("Namespace", "a"),
        ("ServiceAccount", "s"),
        ("Namespace", "b"),
    ]


@pytest.mark.parametrize(
    ("text", "problem", "document"),
    [
        ("kind: [\n", "not valid YAML at line 2", None),
        ("- 1\n", "expected a mapping, got list", 1),
        ("apiVersion: v1\nmetadata: {name: x}\n", "missing or empty kind", 1),
        ("apiVersion: v1\nkind: Namespace\n", "Namespace has no metadata.name", 1),
        (
            "apiVersion: v1\nkind: A\nmetadata: {name: a}\n---\nkind: B\n",
            "missing or empty apiVersion",
            2,
        ),
    ],
)
def test_bad_manifests_name_file_document_and_problem(tmp_path, text, problem, document):
    file = tmp_path / "bad.yaml"
    file.write_text(text)
    with pytest.raises(errors.ManifestError) as info:
        manifests.load([file])
    assert problem in info.value.problem
    assert info.value.file == str(file)
    assert info.value.document == document


def test_missing_path_is_reported(tmp_path):
    with pytest.raises(errors.ManifestError, match="no such file or directory"):
        manifests.load([tmp_path / "nope"])


def test_json_files_and_flow_style_yaml_both_load(tmp_path):
    (tmp_path / "a.json").write_text(
        '{"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "j"}}]}'
    )
    (tmp_path / "b.yaml").write_text("{apiVersion: v1, kind: Namespace, metadata: {name: y}}\n")
    assert [o["metadata"]["name"] for o in manifests.load([tmp_path])] == ["j", "y"]


def test_linked_directories_are_read_once_and_repeats_dropped_on_request(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    state = tmp_path / "state"
    state.mkdir()
    (state / "library").symlink_to(lib, target_is_directory=True)
    (state / "loop").symlink_to(state, target_is_directory=True)  # a cycle is read once
    loaded = manifests.load([state])
    assert [o["metadata"]["name"] for o in loaded] == ["a"]
    both = manifests.load([state, lib])
    assert len(both) == 2  # load keeps what it is given ...
    assert manifests.without_repeats(both) == loaded  # ... a cluster state keeps one
    changed = [*both, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "x": 1}]
    assert len(manifests.without_repeats(changed)) == 2  # only exact repeats are dropped


def test_the_example_cluster_state_holds_the_library():
    from tests.webhooks.builders import REPO

    state = manifests.load([REPO / "deploy/examples/cluster-state"])
    names = {o["metadata"]["name"] for o in state if o["kind"] == "ClusterWorkflowTemplate"}
    assert names == {"app-migration-with-snapshot", "pg-dump-export", "tenant-prewarm"}
