"""govaluate-like `when` evaluation: the table Argo users rely on, errors and properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.argo import expressions


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("ok == ok", True),
        ("ok != ok", False),
        ("degraded != ok && rollback == rollback", True),
        ("degraded != ok && keep == rollback", False),
        ("'a b' == 'a b'", True),
        ('"x" == x', True),
        ("1 == 1.0", True),
        ("1 == '1'", False),
        ("2 > 10", False),
        ("b > a", True),
        ("3 >= 3 && 2 <= 3", True),
        ("!(a == b)", True),
        ("!false", True),
        ("true", True),
        ("(a == b) || (c == c)", True),
        ("a == b || c == c && d == e", False),
        ("1 + 2 == 3", True),
        ("a + b == ab", True),
        ("10 % 3 == 1", True),
        ("-1 < 0", True),
        ("abc =~ '^a'", True),
        ("abc !~ '^b'", True),
        ("", True),
        ("false && 1", False),
        ("true || 1", True),
    ],
)
def test_when_table(expr: str, expected: bool) -> None:
    assert expressions.evaluate(expr) is expected


@pytest.mark.parametrize(
    ("expr", "fragment"),
    [
        (
            " == ok",
            "Invalid 'when' expression ' == ok': Cannot transition token types from UNKNOWN",
        ),
        ("not-ok != ok", "cannot be used with the modifier '-', it is not a number"),
        ("a && b", "cannot be used with the logical operator '&&', it is not a bool"),
        ("a > 1", "cannot be used with the comparator '>', it is not a number"),
        ("7.0.0 == 7", "Unable to parse numeric value '7.0.0' to float64"),
        ("(a == b", "Unbalanced parenthesis"),
        ("a ==", "Unexpected end of expression"),
        ("a", "Expected boolean evaluation for 'a'. Got a"),
        ("foo.Bar == x", "Failed to evaluate 'when' expresion"),
        ("a $ b", "Invalid token: '$'"),
        ("'open", "Unclosed string literal"),
    ],
)
def test_when_errors(expr: str, fragment: str) -> None:
    with pytest.raises(expressions.WhenError) as info:
        expressions.evaluate(expr)
    assert fragment in str(info.value)


def test_invalid_token_has_quote_hint() -> None:
    with pytest.raises(expressions.WhenError, match=r"hint: try wrapping"):
        expressions.evaluate("a # b")


WORDS = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True).filter(
    lambda w: w not in ("true", "false", "in")
)


@given(WORDS, WORDS)
def test_bare_words_compare_as_strings(a: str, b: str) -> None:
    assert expressions.evaluate(f"{a} == {b}") is (a == b)
    assert expressions.evaluate(f"{a} != {b}") is (a != b)
    assert expressions.evaluate(f"{a} < {b}") is (a < b)


@given(st.integers(-1000, 1000), st.integers(-1000, 1000))
def test_numbers_compare_as_numbers(a: int, b: int) -> None:
    assert expressions.evaluate(f"{a} < {b}") is (a < b)
    assert expressions.evaluate(f"{a} >= {b}") is (a >= b)
    assert expressions.evaluate(f"{a} == {b}") is (a == b)


@given(st.booleans(), st.booleans(), st.booleans())
def test_logic_matches_python(a: bool, b: bool, c: bool) -> None:
    text = {True: "true", False: "false"}
    expr = f"{text[a]} || !{text[b]} && ({text[c]} || {text[a]})"
    assert expressions.evaluate(expr) is (a or ((not b) and (c or a)))
