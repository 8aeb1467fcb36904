"""Argo `when` expressions: govaluate's lexer, syntax rules and typed evaluation, in miniature.

Argo substitutes `{{...}}` first, then parses the text with govaluate and turns every bare word
(govaluate VARIABLE) into a string literal, so `degraded != ok` compares two strings. What is
kept from govaluate: numbers are float64 (`1 == 1.0`), `==`/`!=` compare values of the same type
(a string never equals a number), `<`/`>`/`<=`/`>=` need two numbers or two strings, `&&`/`||`
need booleans and short-circuit, `!` needs a boolean, `+` concatenates when either side is a
string, a bare word holding `-` is a subtraction (`not-ok` is `not` minus `ok`: a type error), a
bare word with a dot is an accessor (an error without parameters). Parse and evaluation errors
carry Argo's messages (`Invalid 'when' expression ...`, `Failed to evaluate 'when' expresion ...`
- Argo's spelling). Ternaries, `in`, bitwise operators and dates are not supported: an
expression using them is reported invalid.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

# Token kinds (govaluate TokenKind names, used in its syntax error messages).
NUMERIC, BOOLEAN, STRING, VARIABLE, ACCESSOR = (
    "NUMERIC",
    "BOOLEAN",
    "STRING",
    "VARIABLE",
    "ACCESSOR",
)
PREFIX, MODIFIER, LOGICALOP, COMPARATOR = "PREFIX", "MODIFIER", "LOGICALOP", "COMPARATOR"
CLAUSE, CLAUSE_CLOSE, TERNARY, SEPARATOR = "CLAUSE", "CLAUSE_CLOSE", "TERNARY", "SEPARATOR"
UNKNOWN = "UNKNOWN"

_VALUES = (NUMERIC, BOOLEAN, STRING, VARIABLE, ACCESSOR)
# govaluate lexerState table: which kind may follow which, and which may end an expression.
_NEXT: dict[str, tuple[str, ...]] = {
    UNKNOWN: (PREFIX, NUMERIC, BOOLEAN, VARIABLE, ACCESSOR, STRING, CLAUSE),
    CLAUSE: (PREFIX, NUMERIC, BOOLEAN, VARIABLE, ACCESSOR, STRING, CLAUSE, CLAUSE_CLOSE),
    CLAUSE_CLOSE: (
        *(COMPARATOR, MODIFIER, NUMERIC, BOOLEAN, VARIABLE, STRING),
        *(CLAUSE, CLAUSE_CLOSE, LOGICALOP, TERNARY, SEPARATOR),
    ),
    NUMERIC: (MODIFIER, COMPARATOR, LOGICALOP, CLAUSE_CLOSE, TERNARY, SEPARATOR),
    BOOLEAN: (MODIFIER, COMPARATOR, LOGICALOP, CLAUSE_CLOSE, TERNARY, SEPARATOR),
    STRING: (MODIFIER, COMPARATOR, LOGICALOP, CLAUSE_CLOSE, TERNARY, SEPARATOR),
    VARIABLE: (MODIFIER, COMPARATOR, LOGICALOP, CLAUSE_CLOSE, TERNARY, SEPARATOR),
    ACCESSOR: (CLAUSE, MODIFIER, COMPARATOR, LOGICALOP, CLAUSE_CLOSE, TERNARY, SEPARATOR),
    MODIFIER: (PREFIX, NUMERIC, VARIABLE, ACCESSOR, STRING, BOOLEAN, CLAUSE, CLAUSE_CLOSE),
    COMPARATOR: (PREFIX, NUMERIC, BOOLEAN, VARIABLE, ACCESSOR, STRING, CLAUSE, CLAUSE_CLOSE),
    LOGICALOP: (PREFIX, NUMERIC, BOOLEAN, VARIABLE, ACCESSOR, STRING, CLAUSE, CLAUSE_CLOSE),
    PREFIX: (NUMERIC, BOOLEAN, VARIABLE, ACCESSOR, CLAUSE, CLAUSE_CLOSE),
    TERNARY: (PREFIX, NUMERIC, BOOLEAN, STRING, VARIABLE, ACCESSOR, CLAUSE, SEPARATOR),
    SEPARATOR: (PREFIX, NUMERIC, BOOLEAN, STRING, VARIABLE, ACCESSOR, CLAUSE),
}
_EOF_OK = frozenset({CLAUSE_CLOSE, NUMERIC, BOOLEAN, STRING, VARIABLE, ACCESSOR})
_PREFIXES = frozenset({"-", "!", "~"})
_MODIFIERS = frozenset({"+", "-", "*", "/", "%", "**", "&", "|", "^", ">>", "<<"})
_LOGICAL = frozenset({"&&", "||"})
_COMPARATORS = frozenset({"==", "!=", ">", ">=", "<", "<=", "=~", "!~", "in"})
_TERNARIES = frozenset({"?", ":", "??"})
# Operators this evaluator implements; the rest of govaluate's parse but are refused.
_SUPPORTED = frozenset({"-", "!", "+", "*", "/", "%", "&&", "||", "==", "!=", ">", ">="})
_SUPPORTED = _SUPPORTED | {"<", "<=", "=~", "!~"}


class WhenError(Exception):
    """A `when` expression that cannot be parsed or evaluated; the text is Argo's message."""


@dataclasses.dataclass(frozen=True, slots=True)
class Token:
    """One lexed token: govaluate kind and value."""

    kind: str
    value: Any


def _is_numeric(c: str) -> bool:
    return c.isdigit() or c == "."


def _is_variable_char(c: str) -> bool:
    return c.isalpha() or c.isdigit() or c in "_."


def _is_symbol_char(c: str) -> bool:
    return not (c.isalnum() or c in "()[]'\"" or c.isspace())


def tokenize(expression: str) -> list[Token]:
    """govaluate's tokens of an expression (raises ValueError with govaluate's message)."""
    tokens: list[Token] = []
    i, n = 0, len(expression)
    state = UNKNOWN
    while i < n:
        c = expression[i]
        if c.isspace():
            i += 1
            continue
        if _is_numeric(c):
            j = i
            while j < n and _is_numeric(expression[j]):
                j += 1
            text = expression[i:j]
            try:
                tok = Token(NUMERIC, float(text))
            except ValueError:
                raise ValueError(f"Unable to parse numeric value '{text}' to float64\n") from None
            i = j
        elif c == ",":
            tok, i = Token(SEPARATOR, ","), i + 1
        elif c == "[":
            close = expression.find("]", i + 1)
            if close < 0:
                raise ValueError("Unclosed parameter bracket")
            tok, i = Token(VARIABLE, expression[i + 1 : close]), close + 1
        elif c.isalpha():
            j = i
            while j < n and _is_variable_char(expression[j]):
                j += 1
            text, i = expression[i:j], j
            tok = _word(text)
        elif c in "'\"":
            j, buf = i + 1, []
            while j < n and expression[j] not in "'\"":
                if expression[j] == "\\" and j + 1 < n:
                    j += 1
                buf.append(expression[j])
                j += 1
            if j >= n:
                raise ValueError("Unclosed string literal")
            tok, i = Token(STRING, "".join(buf)), j + 1
        elif c == "(":
            tok, i = Token(CLAUSE, "("), i + 1
        elif c == ")":
            tok, i = Token(CLAUSE_CLOSE, ")"), i + 1
        else:
            j = i
            while j < n and _is_symbol_char(expression[j]):
                j += 1
            text, i = expression[i:j], max(j, i + 1)
            tok = _symbol(text, state)
        tokens.append(tok)
        state = tok.kind
    _check_balance(tokens)
    return tokens


def _word(text: str) -> Token:
    if text in ("true", "false"):
        return Token(BOOLEAN, text == "true")
    if text in ("in", "IN"):
        return Token(COMPARATOR, "in")
    if text.find(".") > 0:
        if text.endswith("."):
            raise ValueError(f"Hanging accessor on token '{text}'")
        parts = text.split(".")
        for part in parts[1:]:
            if part[:1] != part[:1].upper():
                raise ValueError(f"Unable to access unexported field '{part}' in token '{text}'")
        return Token(ACCESSOR, parts)
    return Token(VARIABLE, text)


def _symbol(text: str, state: str) -> Token:
    if PREFIX in _NEXT[state] and text in _PREFIXES:
        return Token(PREFIX, text)
    for kind, table in (
        (MODIFIER, _MODIFIERS),
        (LOGICALOP, _LOGICAL),
        (COMPARATOR, _COMPARATORS),
        (TERNARY, _TERNARIES),
    ):
        if text in table:
            return Token(kind, text)
    raise ValueError(f"Invalid token: '{text}'")


def _check_balance(tokens: list[Token]) -> None:
    depth = 0
    for tok in tokens:
        depth += {CLAUSE: 1, CLAUSE_CLOSE: -1}.get(tok.kind, 0)
        if depth < 0:
            break
    if depth != 0:
        raise ValueError("Unbalanced parenthesis")


def _go(value: Any) -> str:
    """A value as Go's %v prints it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    if isinstance(value, list):
        return "[" + " ".join(str(v) for v in value) + "]"
    return str(value)


def check_syntax(tokens: list[Token]) -> None:
    """govaluate's token-order check (raises ValueError with its message)."""
    state, last = UNKNOWN, None
    for tok in tokens:
        if tok.kind not in _NEXT[state]:
            if last is not None and last.kind == VARIABLE and tok.kind == CLAUSE:
                raise ValueError(f"Undefined function {last.value}")
            before = _go(last.value) if last is not None else "<nil>"
            raise ValueError(
                f"Cannot transition token types from {state} [{before}] "
                f"to {tok.kind} [{_go(tok.value)}]"
            )
        state, last = tok.kind, tok
    if state not in _EOF_OK:
        raise ValueError("Unexpected end of expression")


class _Parser:
    """Precedence climbing over the checked tokens: || < && < comparators < + - < * / % < prefix."""

    LEVELS: tuple[frozenset[str], ...] = (
        frozenset({"||"}),
        frozenset({"&&"}),
        frozenset(_COMPARATORS),
        frozenset({"+", "-"}),
        frozenset({"*", "/", "%"}),
    )

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens, self.pos = tokens, 0

    def parse(self) -> Any:
        tree = self.level(0)
        if self.pos != len(self.tokens):
            raise ValueError(f"Unexpected token {_go(self.tokens[self.pos].value)}")
        return tree

    def level(self, index: int) -> Any:
        if index == len(self.LEVELS):
            return self.unary()
        left = self.level(index + 1)
        while self.pos < len(self.tokens):
            tok = self.tokens[self.pos]
            if (
                tok.kind not in (LOGICALOP, COMPARATOR, MODIFIER)
                or tok.value not in self.LEVELS[index]
            ):
                break
            if tok.value not in _SUPPORTED:
                raise ValueError(f"operator '{tok.value}' is not supported by the simulator")
            self.pos += 1
            left = ("op", tok.value, left, self.level(index + 1))
        return left

    def unary(self) -> Any:
        tok = self.tokens[self.pos]
        if tok.kind == PREFIX:
            if tok.value not in _SUPPORTED:
                raise ValueError(f"operator '{tok.value}' is not supported by the simulator")
            self.pos += 1
            return ("prefix", tok.value, self.unary())
        if tok.kind == CLAUSE:
            self.pos += 1
            inner = self.level(0)
            self.pos += 1  # the balanced closing parenthesis
            return inner
        if tok.kind in _VALUES:
            self.pos += 1
            return ("value", tok)
        raise ValueError(f"operator '{_go(tok.value)}' is not supported by the simulator")


def _eval(tree: Any) -> Any:
    kind = tree[0]
    if kind == "value":
        tok: Token = tree[1]
        if tok.kind == ACCESSOR:
            raise ValueError(f"No parameter '{tok.value[0]}' found.")
        return tok.value
    if kind == "prefix":
        value = _eval(tree[2])
        if tree[1] == "!":
            if not isinstance(value, bool):
                raise ValueError(f"Value '{_go(value)}' cannot be used with the prefix '!'")
            return not value
        if not _is_number(value):
            raise ValueError(f"Value '{_go(value)}' cannot be used with the prefix '-'")
        return -value
    _, op, left_tree, right_tree = tree
    left = _eval(left_tree)
    if op == "&&" and left is False:
        return False
    if op == "||" and left is True:
        return True
    right = _eval(right_tree)
    return _binary(op, left, right)


def _is_number(value: Any) -> bool:
    return isinstance(value, float) and not isinstance(value, bool)


def _binary(op: str, left: Any, right: Any) -> Any:
    if op in ("&&", "||"):
        for side in (left, right):
            if not isinstance(side, bool):
                raise ValueError(
                    f"Value '{_go(side)}' cannot be used with the logical operator '{op}', "
                    "it is not a bool"
                )
        return left and right if op == "&&" else left or right
    if op in ("==", "!="):
        same = type(left) is type(right) and left == right
        return same if op == "==" else not same
    if op in (">", ">=", "<", "<="):
        if not (
            (_is_number(left) and _is_number(right))
            or (isinstance(left, str) and isinstance(right, str))
        ):
            raise ValueError(
                f"Value '{_go(left)}' cannot be used with the comparator '{op}', it is not a number"
            )
        return {
            ">": left > right,
            ">=": left >= right,
            "<": left < right,
            "<=": left <= right,
        }[op]
    if op in ("=~", "!~"):
        if not (isinstance(left, str) and isinstance(right, str)):
            raise ValueError(
                f"Value '{_go(left)}' cannot be used with the comparator '{op}', it is not a string"
            )
        try:
            found = re.search(right, left) is not None
        except re.error as exc:
            raise ValueError(f"Unable to compile regexp pattern '{right}': {exc}") from None
        return found if op == "=~" else not found
    if op == "+" and (isinstance(left, str) or isinstance(right, str)):
        return _go(left) + _go(right)
    for side in (left, right):
        if not _is_number(side):
            raise ValueError(
                f"Value '{_go(side)}' cannot be used with the modifier '{op}', it is not a number"
            )
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if right == 0:
        return float("inf") if op == "/" else float("nan")
    return left / right if op == "/" else float(int(left) % int(right))


def evaluate(when: str) -> bool:
    """Whether an already substituted `when` holds (Argo's `shouldExecute`); empty is true.

    Raises WhenError with Argo's message for a syntax error, an evaluation error or a
    non-boolean result.
    """
    if when == "":
        return True
    try:
        tokens = tokenize(when)
        check_syntax(tokens)
    except ValueError as exc:
        hint = (
            ' (hint: try wrapping the affected expression in quotes ("))'
            if "Invalid token" in str(exc)
            else ""
        )
        raise WhenError(f"Invalid 'when' expression '{when}': {exc}{hint}") from None
    strings = [Token(STRING, t.value) if t.kind == VARIABLE else t for t in tokens]
    try:
        check_syntax(strings)
        tree = _Parser(strings).parse()
    except ValueError as exc:
        raise WhenError(f"Failed to parse 'when' expression '{when}': {exc}") from None
    try:
        result = _eval(tree)
    except ValueError as exc:
        raise WhenError(f"Failed to evaluate 'when' expresion '{when}': {exc}") from None
    if not isinstance(result, bool):
        raise WhenError(f"Expected boolean evaluation for '{when}'. Got {_go(result)}")
    return result
