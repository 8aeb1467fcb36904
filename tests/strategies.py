"""Hypothesis strategies shared by the property tests."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st


def json_values(
    scalars: st.SearchStrategy[Any],
    keys: st.SearchStrategy[str] | None = None,
    *,
    max_leaves: int = 8,
    max_size: int = 3,
) -> st.SearchStrategy[Any]:
    """JSON-shaped values: `scalars`, and lists and objects (keyed by `keys`) nesting them."""
    names = keys if keys is not None else st.text(max_size=6)
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=max_size) | st.dictionaries(names, inner, max_size=max_size)
        ),
        max_leaves=max_leaves,
    )
