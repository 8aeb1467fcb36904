"""The CEL subset of webhook matchConditions: semantics, the shipped conditions, and how the
admission chain acts on their outcomes (skip, 403 under Fail, skip under Ignore)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim import cel
from tests import strategies
from tests.sim.storebuilders import widget
from tests.sim.test_admission import W, cluster_with, hook, refusal, validating
from webhooks import manifests

REPO = Path(__file__).resolve().parents[2]
ERROR = object()  # stands for an operand whose evaluation fails

ENV = {
    "object": {"spec": {"a": 1, "b": [1, "x"]}, "metadata": {"labels": {"k": "v"}}},
    "oldObject": {"spec": {"a": 1, "b": [1, "x"]}, "metadata": {}},
    "request": {"operation": "UPDATE", "userInfo": {"username": "u", "groups": ["g"]}},
}


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("request.operation == 'CREATE' || object.spec != oldObject.spec", False),
        ("object.spec == oldObject.spec && request.operation == 'UPDATE'", True),
        ("has(object.metadata.labels)", True),
        ("has(oldObject.metadata.labels)", False),
        ("'k' in object.metadata.labels && object.metadata.labels['k'] == 'v'", True),
        ("'g' in request.userInfo.groups", True),
        ("!request.userInfo.username.startsWith('system:')", True),
        ("request.userInfo.username.endsWith('u') && 'u'.contains('')", True),
        ("size(object.spec.b) == 2 && object.spec.b.size() >= 2", True),
        ("object.spec.b[1] == 'x' && object.spec.b[0] < 2", True),
        ("has(oldObject.metadata.labels) ? oldObject.metadata.labels.k : 'none'", "none"),
        ("object.spec.a == 1.0", True),
        ("object.spec.a == true", False),
        ('object.spec.b == [1, "x"]', True),
        ("null == oldObject.metadata['nope'] || true", True),
        ("object.missing == 1 || true", True),
        ("true || object.missing == 1", True),
        ("object.missing == 1 && false", False),
    ],
)
def test_expressions(expression: str, value: Any) -> None:
    assert cel.compile(expression)(ENV) == value


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("object.missing", "no such key: missing"),
        ("object.missing == 1 || false", "no such key: missing"),
        ("false || object.missing == 1", "no such key: missing"),
        ("object.missing == 1 && true", "no such key: missing"),
        ("object.spec.a < 'x'", "no such overload"),
        ("!object.spec.a", "expected bool"),
        ("object.spec.b[5]", "index out of bounds"),
    ],
)
def test_runtime_errors(expression: str, problem: str) -> None:
    with pytest.raises(cel.CelError, match=problem):
        cel.compile(expression)(ENV)


@pytest.mark.parametrize(
    "expression",
    [
        "object.spec.b.exists(x, x == 1)",
        "authorizer.group('').resource('pods').check('get').allowed()",
        "object.spec.a + 1 == 2",
        "object.",
        "(true",
        "params.x",
        "`x`",
    ],
)
def test_outside_the_subset_is_unsupported(expression: str) -> None:
    with pytest.raises(cel.Unsupported):
        cel.compile(expression)


def operand(value: Any) -> tuple[str, dict[str, Any]]:
    """An expression text for a truth value or a failing operand, and the env it needs."""
    if value is ERROR:
        return "object.missing", {"object": {}}
    return ("true" if value else "false"), {}


@given(left=st.sampled_from([True, False, ERROR]), right=st.sampled_from([True, False, ERROR]))
def test_logical_operators_absorb_errors_as_cel_does(left: Any, right: Any) -> None:
    """CEL's commutative && and ||: a decisive operand wins whatever the other side does."""
    (ltext, lenv), (rtext, renv) = operand(left), operand(right)
    env = {**lenv, **renv}
    for op, decisive in (("||", True), ("&&", False)):
        program = cel.compile(f"{ltext} {op} {rtext}")
        if decisive in (left, right):
            assert program(env) is decisive
        elif ERROR in (left, right):
            with pytest.raises(cel.CelError):
                program(env)
        else:
            assert program(env) is (not decisive)


json_values = strategies.json_values(
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.sampled_from([0.0, 1.0, 1.5])
    | st.text(max_size=2),
    st.text(max_size=2),
)


def strict(a: Any, b: Any) -> bool:
    """The reference: JSON equality where booleans never equal numbers (CEL's typing)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(strict(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(strict(a[k], b[k]) for k in a)
    if isinstance(a, (list, dict)) or isinstance(b, (list, dict)):
        return False
    return a == b


@given(a=json_values, b=json_values)
def test_equality_is_typed_and_deep(a: Any, b: Any) -> None:
    env = {"object": {"a": a, "b": b}}
    assert cel.compile("object.a == object.b")(env) is strict(a, b)
    assert cel.compile("object.a != object.b")(env) is (not strict(a, b))
    assert cel.compile("object.a == object.a")(env) is True


# --- the conditions we ship ---------------------------------------------------------------------

MANAGED = {
    "app.vworkspace.io/managed-by": "vworkspace-operator",
    "ops.vworkspace.io/operation": "op",
}


def shipped_conditions() -> dict[str, list[cel.Program]]:
    configs = manifests.load([REPO / "deploy/webhook"])
    out = {}
    for config in configs:
        for entry in config.get("webhooks") or ():
            conditions = entry.get("matchConditions") or []
            out[entry["name"].split(".")[0]] = [cel.compile(c["expression"]) for c in conditions]
    return out


def workflow(labels: dict[str, str], **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "wf", "labels": dict(labels)},
        "spec": {"workflowTemplateRef": {"name": "t"}, **spec},
        "status": {"phase": "Running"},
    }


def sent(programs: list[cel.Program], operation: str, new: Any, old: Any) -> bool:
    env = {"object": new, "oldObject": old, "request": {"operation": operation}}
    return all(p(env) for p in programs)


def test_every_shipped_condition_is_within_the_subset() -> None:
    conditions = shipped_conditions()
    assert conditions["managed-workflows"] and conditions["runner-sa-workflows"]


@pytest.mark.parametrize("entry", ["managed-workflows", "runner-sa-workflows"])
def test_workflow_entries_see_creates_and_spec_changes_not_status_writes(entry: str) -> None:
    programs = shipped_conditions()[entry]
    old = workflow(MANAGED)
    assert sent(programs, "CREATE", old, None)
    status_write = copy.deepcopy(old)
    status_write["status"] = {"phase": "Succeeded", "nodes": {"n": {"phase": "Succeeded"}}}
    status_write["metadata"]["labels"]["workflows.argoproj.io/phase"] = "Succeeded"
    assert not sent(programs, "UPDATE", status_write, old)
    assert sent(programs, "UPDATE", workflow(MANAGED, suspend=True), old)


@pytest.mark.parametrize(
    "labels",
    [
        {},
        {"app.vworkspace.io/managed-by": "vworkspace-operator"},
        {**MANAGED, "ops.vworkspace.io/operation": "other"},
        {**MANAGED, "app.vworkspace.io/cluster-id": "c2"},
    ],
)
def test_managed_entry_sees_every_ownership_label_change(labels: dict[str, str]) -> None:
    programs = shipped_conditions()["managed-workflows"]
    old = workflow(MANAGED)
    new = workflow(labels)
    if not labels:
        del new["metadata"]["labels"]
    assert sent(programs, "UPDATE", new, old)


# --- the admission chain acting on conditions -----------------------------------------------


def guarded(expression: str, failure_policy: str = "Fail") -> Any:
    entry = hook(
        "deny.example.io",
        "/deny",
        failurePolicy=failure_policy,
        matchConditions=[{"name": "only-big", "expression": expression}],
    )
    return cluster_with(validating("v", entry))


def test_a_false_condition_skips_the_webhook() -> None:
    s = guarded("has(object.spec.size) && object.spec.size > 10")
    assert s.create(widget("small", size=1))["spec"] == {"size": 1}
    assert refusal(s.create, widget("big", size=11))["code"] == 403
    assert s.patch(*W, "default", "small", {"spec": {"size": 2}})["spec"] == {"size": 2}


def test_an_error_fails_closed_under_fail_and_skips_under_ignore() -> None:
    status = refusal(guarded("object.spec.size > 10").create, widget("a"))
    assert (status["code"], status["reason"]) == (403, "Forbidden")
    assert status["message"] == (
        'widgets.example.io "a" is forbidden: '
        "expression 'object.spec.size > 10' resulted in error: no such key: size"
    )
    ignoring = guarded("object.spec.size > 10", failure_policy="Ignore")
    assert ignoring.create(widget("a"))["metadata"]["name"] == "a"


def test_a_condition_outside_the_subset_is_taken_as_holding() -> None:
    s = guarded("object.spec.exists(k, k == 'size')")
    assert refusal(s.create, widget("a"))["code"] == 403


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        (r"'a\nb' == object.nl", True),
        (r"'a\tb' == 'atb'", False),
        (r"'it\'s' == object.quote", True),
        (r"'back\\slash' == object.back", True),
    ],
)
def test_string_escapes_mean_what_cel_says(expression: str, expected: bool) -> None:
    env = {"object": {"nl": "a\nb", "quote": "it's", "back": "back\\slash"}}
    assert cel.compile(expression)(env) is expected


def test_an_unknown_escape_is_beyond_the_subset() -> None:
    with pytest.raises(cel.Unsupported):
        cel.compile(r"'\x41' == 'A'")


@pytest.mark.parametrize(
    "expression", ["object.l in object.m", "object.m[object.l] == 1", "object.m in object.m"]
)
def test_a_list_or_map_as_a_map_key_is_a_cel_error_not_a_crash(expression: str) -> None:
    with pytest.raises(cel.CelError, match="no such overload"):
        cel.compile(expression)({"object": {"l": [1], "m": {"a": 1}}})
