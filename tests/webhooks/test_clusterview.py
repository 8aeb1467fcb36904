"""The cluster index: lookups agree with a plain scan of the stored objects."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from webhooks import clusterview


def optemplate(name: str, type_: str, engine: str) -> dict:
    return {
        "apiVersion": "ops.vworkspace.io/v1alpha1",
        "kind": "OperationTemplate",
        "metadata": {"name": name},
        "spec": {"type": type_, "engine": engine},
    }


def binding(kind: str, ns: str, name: str, subjects: list[dict]) -> dict:
    meta = {"name": name} | ({"namespace": ns} if kind == "RoleBinding" else {})
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": meta,
        "roleRef": {"kind": "ClusterRole", "name": "view"},
        "subjects": subjects,
    }


def test_rolebinding_sa_subject_without_namespace_defaults_to_the_binding_namespace():
    rb = binding("RoleBinding", "team", "rb", [{"kind": "ServiceAccount", "name": "runner"}])
    index = clusterview.ClusterIndex([rb])
    assert index.bindings_for_subject(("ServiceAccount", "team", "runner")) == [rb]
    index.delete(rb)
    assert index.bindings_for_subject(("ServiceAccount", "team", "runner")) == []


def test_workflow_template_namespaces_and_replace_kind():
    def wft(ns: str) -> dict:
        return {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "WorkflowTemplate",
            "metadata": {"name": "t", "namespace": ns},
        }

    index = clusterview.ClusterIndex([wft("b"), wft("a")])
    assert index.workflow_template_namespaces("t") == ["a", "b"]
    index.replace_kind("argoproj.io", "WorkflowTemplate", [wft("c")])
    assert index.workflow_template_namespaces("t") == ["c"]
    assert index.list("argoproj.io", "WorkflowTemplate") == [wft("c")]


ops = st.lists(
    st.tuples(
        st.booleans(),
        st.sampled_from(["t1", "t2", "t3"]),
        st.sampled_from(["Migration", "Runbook"]),
        st.sampled_from(["workflow", "job"]),
    ),
    max_size=30,
)


@given(ops)
def test_template_index_agrees_with_a_scan(steps):
    index = clusterview.ClusterIndex()
    model: dict[str, dict] = {}
    for add, name, type_, engine in steps:
        obj = optemplate(name, type_, engine)
        if add:
            index.upsert(obj)
            model[name] = obj
        else:
            index.delete(obj)
            model.pop(name, None)
    for type_ in ("Migration", "Runbook"):
        for engine in ("workflow", "job", None):
            expected = sorted(
                (
                    o
                    for o in model.values()
                    if o["spec"]["type"] == type_ and engine in (None, o["spec"]["engine"])
                ),
                key=lambda o: o["metadata"]["name"],
            )
            assert index.operation_templates(type_, engine) == expected
    assert len(index) == len(model)


def test_malformed_bindings_are_indexed_without_subjects():
    bad = binding("ClusterRoleBinding", "", "bad", [])
    bad["subjects"] = 1
    index = clusterview.ClusterIndex(
        [
            bad,
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": None},
        ]
    )
    assert index.get("rbac.authorization.k8s.io", "ClusterRoleBinding", "", "bad") == bad


def test_memoized_follows_only_the_kinds_it_depends_on():
    index = clusterview.ClusterIndex()
    calls = []

    def compute():
        calls.append(1)
        return len(calls)

    rbac = [("rbac.authorization.k8s.io", "Role")]
    assert index.memoized("k", compute, depends=rbac) == 1
    index.upsert(optemplate("t", "Migration", "workflow"))  # another kind: still valid
    assert index.memoized("k", compute, depends=rbac) == 1
    index.upsert(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "r", "namespace": "n"},
        }
    )
    assert index.memoized("k", compute, depends=rbac) == 2
    assert index.memoized("any", compute) == 3
    index.upsert(optemplate("u", "Runbook", "job"))
    assert index.memoized("any", compute) == 4


MEMO_KINDS = [("", "ConfigMap"), ("", "Secret"), ("apps", "Deployment")]
memo_steps = st.lists(
    st.one_of(
        st.tuples(st.just("upsert"), st.integers(0, 2), st.sampled_from(["a", "b"])),
        st.tuples(st.just("delete"), st.integers(0, 2), st.sampled_from(["a", "b"])),
        st.tuples(st.just("read"), st.integers(0, 2), st.integers(1, 3)),
    ),
    max_size=30,
)


@given(steps=memo_steps)
def test_memoized_values_are_what_a_fresh_compute_gives(steps):
    """Whatever the order of writes and reads, a memoized fact equals a fresh computation
    from the objects of the kinds it depends on (never a value from before a write)."""
    index = clusterview.ClusterIndex()

    def names(depends):
        return sorted((g, k, o["metadata"]["name"]) for g, k in depends for o in index.list(g, k))

    for action, kind, arg in steps:
        group, kind_name = MEMO_KINDS[kind]
        if action == "read":
            depends = tuple(MEMO_KINDS[kind : kind + arg])
            got = index.memoized(("names", depends), lambda d=depends: names(d), depends=depends)
            assert got == names(depends)
            continue
        obj = {
            "apiVersion": f"{group}/v1" if group else "v1",
            "kind": kind_name,
            "metadata": {"name": arg, "namespace": "n"},
        }
        (index.upsert if action == "upsert" else index.delete)(obj)
