"""Property tests of the store's building blocks: JSON patch against the `jsonpatch` library,
merge-patch laws, label selectors (query strings and LabelSelector objects agree)."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim import errors, patches, selectors
from tests import strategies

keys = st.sampled_from(["a", "b", "c", "x/y", "m~n"])
scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(["", "s", "t"]))
values = strategies.json_values(scalars, keys)
docs = st.dictionaries(keys, values, max_size=4)


def _pointer(parts: list[Any]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _paths(doc: Any, prefix: list[Any]) -> list[list[Any]]:
    out = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += _paths(value, [*prefix, key])
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            out += _paths(value, [*prefix, index])
    return out


@st.composite
def patch_ops(draw: st.DrawFn, doc: dict[str, Any]) -> list[dict[str, Any]]:
    existing = _paths(doc, [])
    ops = []
    for _ in range(draw(st.integers(1, 4))):
        base = draw(st.sampled_from(existing))
        path = draw(st.sampled_from([base, [*base, draw(keys)], [*base, "-"], [*base, 0]]))
        op = draw(st.sampled_from(["add", "remove", "replace", "move", "copy", "test"]))
        entry: dict[str, Any] = {"op": op, "path": _pointer(path)}
        if op in ("add", "replace", "test"):
            entry["value"] = draw(values)
        if op in ("move", "copy"):
            entry["from"] = _pointer(draw(st.sampled_from(existing)))
        ops.append(entry)
    return ops


@given(st.data())
def test_json_patch_agrees_with_the_jsonpatch_library(data: st.DataObject) -> None:
    doc = data.draw(docs)
    ops = data.draw(patch_ops(doc))
    before = copy.deepcopy(doc)
    try:
        expected: Any = jsonpatch.apply_patch(doc, ops)
    except (
        jsonpatch.JsonPatchException,
        jsonpatch.JsonPointerException,
        TypeError,
        KeyError,
        IndexError,
    ):
        expected = "fails"
    try:
        got: Any = patches.apply_json_patch(doc, ops)
    except errors.ApiError as exc:
        assert exc.code in (400, 422)
        got = "fails"
    assert doc == before, "patching never changes its input"
    assert got == expected


@given(docs, docs)
def test_merge_patch_laws(doc: dict[str, Any], patch: dict[str, Any]) -> None:
    once = patches.merge(doc, patch)
    assert patches.merge(once, patch) == once
    for key, value in patch.items():
        if value is None:
            assert key not in once
        elif not isinstance(value, dict):
            assert once[key] == value
    for key in doc:
        if key not in patch:
            assert once[key] == doc[key]


label_keys = st.sampled_from(["app", "tier", "example.io/zone"])
label_values = st.sampled_from(["a", "b", "c"])
label_sets = st.dictionaries(label_keys, label_values, max_size=3)
expressions = st.lists(
    st.fixed_dictionaries(
        {
            "key": label_keys,
            "operator": st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"]),
            "values": st.lists(label_values, min_size=1, max_size=2, unique=True),
        }
    ),
    max_size=3,
)


def _as_query(match_labels: dict[str, str], exprs: list[dict[str, Any]]) -> str:
    terms = [f"{k}={v}" for k, v in sorted(match_labels.items())]
    for e in exprs:
        values = ",".join(e["values"])
        terms.append(
            {
                "In": f"{e['key']} in ({values})",
                "NotIn": f"{e['key']} notin ({values})",
                "Exists": e["key"],
                "DoesNotExist": f"!{e['key']}",
            }[e["operator"]]
        )
    return ",".join(terms)


@given(label_sets, label_sets, expressions)
def test_query_strings_and_label_selectors_agree(
    labels: dict[str, str], match_labels: dict[str, str], exprs: list[dict[str, Any]]
) -> None:
    obj = {"metadata": {"labels": labels}}
    structured = selectors.from_label_selector(
        {"matchLabels": match_labels, "matchExpressions": exprs}
    )
    parsed = selectors.parse_labels(_as_query(match_labels, exprs))
    assert selectors.matches(parsed, obj) == selectors.matches(structured, obj)
    in_model = all(labels.get(k) == v for k, v in match_labels.items())
    for e in exprs:
        present = e["key"] in labels
        in_model &= {
            "In": present and labels.get(e["key"]) in e["values"],
            "NotIn": not present or labels.get(e["key"]) not in e["values"],
            "Exists": present,
            "DoesNotExist": not present,
        }[e["operator"]]
    assert selectors.matches(structured, obj) == in_model


@pytest.mark.parametrize("text", ["a in b", "a=(b)", "in (a)", "a,,b in (", "!a in (b)"])
def test_unparseable_selectors_are_bad_requests(text: str) -> None:
    with pytest.raises(errors.ApiError) as info:
        selectors.parse_labels(text)
    assert info.value.code == 400
