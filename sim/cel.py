"""The part of CEL that webhook `matchConditions` are written in, enough to run ours and the
common ones: variables `object`, `oldObject`, `request`; field selection (`a.b`, `a['b']`,
`a[0]`); `has(a.b)`; literals (strings, integers, doubles, `true`, `false`, `null`, lists);
`==` `!=` `<` `<=` `>` `>=` `in`; `!` `&&` `||` with CEL's error absorption (`true || error` is
true); `? :`; `size()`, `startsWith`, `endsWith`, `contains`.

`compile` raises `Unsupported` for anything else (macros such as `exists`, `authorizer`,
arithmetic): the admission chain then calls the webhook as if the condition held, which is
what it did before conditions were evaluated at all. Runtime errors (a missing key, a
comparison of unlike types) are `CelError`, handled by the caller as kube-apiserver handles
them (the webhook's failurePolicy).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from typing import Any

import orjson

Env = Mapping[str, Any]
Program = Callable[[Env], Any]


class Unsupported(Exception):
    """The expression uses CEL beyond this subset (or is not CEL at all)."""


class CelError(Exception):
    """Evaluation failed (a missing key, an operator applied to unlike types)."""


_TOKEN = re.compile(
    r"""\s*(?:
      (?P<num>\d+\.\d+|\d+)
    | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    | (?P<op>==|!=|<=|>=|&&|\|\||[<>!?:.,()\[\]])
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)
VARIABLES = frozenset({"object", "oldObject", "request"})
_METHODS = frozenset({"startsWith", "endsWith", "contains", "size"})


@dataclasses.dataclass(frozen=True)
class _Tok:
    kind: str
    text: str


def _tokens(expression: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(expression):
        if expression[pos:].strip() == "":
            break
        match = _TOKEN.match(expression, pos)
        if match is None or match.end() == pos:
            raise Unsupported(f"unexpected {expression[pos:].strip()[:10]!r}")
        kind = match.lastgroup or ""
        out.append(_Tok(kind, match.group(kind)))
        pos = match.end()
    return out


def _same_type(a: Any, b: Any) -> bool:
    numbers = (int, float)
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    if isinstance(a, numbers) and isinstance(b, numbers):
        return True
    return type(a) is type(b) or a is None or b is None


def equal(a: Any, b: Any) -> bool:
    """CEL equality of JSON values: no bool/number mixing, deep for lists and maps."""
    # Python's == equates more (True == 1), never less: unequal there is unequal here. Equal
    # JSON text is equal here; only text that differs (true vs 1, 1 vs 1.0) needs the walk.
    if a != b:
        return False
    try:
        if orjson.dumps(a, option=orjson.OPT_SORT_KEYS) == orjson.dumps(
            b, option=orjson.OPT_SORT_KEYS
        ):
            return True
    except TypeError:  # not JSON (integers past 64 bits): the walk decides
        pass
    return _strict_equal(a, b)


def _strict_equal(a: Any, b: Any) -> bool:
    if not _same_type(a, b):
        return False
    if isinstance(a, list):
        return all(_strict_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return all(_strict_equal(v, b[k]) for k, v in a.items())
    return True


def _order(op: str, a: Any, b: Any) -> bool:
    comparable = (isinstance(a, str) and isinstance(b, str)) or (
        isinstance(a, (int, float))
        and isinstance(b, (int, float))
        and not isinstance(a, bool)
        and not isinstance(b, bool)
    )
    if not comparable:
        raise CelError(f"no such overload: {_type(a)} {op} {_type(b)}")
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def _type(value: Any) -> str:
    for kind, name in ((bool, "bool"), (int, "int"), (float, "double"), (str, "string")):
        if isinstance(value, kind):
            return name
    return {list: "list", dict: "map"}.get(type(value), "null_type")


def _map_key(key: Any) -> Any:
    """A key a JSON map can hold; lists and maps have no `in`/index overload on maps."""
    if isinstance(key, list | dict):
        raise CelError(f"no such overload: map key of type {_type(key)}")
    return key


def _select(base: Any, key: Any) -> Any:
    if isinstance(base, dict):
        if _map_key(key) not in base:
            raise CelError(f"no such key: {key}")
        return base[key]
    if isinstance(base, list) and isinstance(key, int) and not isinstance(key, bool):
        if not 0 <= key < len(base):
            raise CelError(f"index out of bounds: {key}")
        return base[key]
    raise CelError(f"no such key: {key}")


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise CelError(f"no matching overload: expected bool, got {_type(value)}")
    return value


class _Parser:
    def __init__(self, tokens: list[_Tok]) -> None:
        self.tokens = tokens
        self.at = 0

    def peek(self) -> str:
        return self.tokens[self.at].text if self.at < len(self.tokens) else ""

    def take(self, text: str | None = None) -> _Tok:
        if self.at >= len(self.tokens):
            raise Unsupported("unexpected end of expression")
        tok = self.tokens[self.at]
        if text is not None and tok.text != text:
            raise Unsupported(f"expected {text!r}, found {tok.text!r}")
        self.at += 1
        return tok

    def expr(self) -> Program:
        cond = self.logical("||")
        if self.peek() != "?":
            return cond
        self.take("?")
        yes = self.expr()
        self.take(":")
        no = self.expr()
        return lambda env: yes(env) if _bool(cond(env)) else no(env)

    def logical(self, op: str) -> Program:
        side = (lambda: self.logical("&&")) if op == "||" else self.relation
        left = side()
        while self.peek() == op:
            self.take()
            left = _absorbing(op, left, side())
        return left

    def relation(self) -> Program:
        left = self.unary()
        op = self.peek()
        if op not in ("==", "!=", "<", "<=", ">", ">=", "in"):
            return left
        self.take()
        right = self.unary()
        if op == "==":
            return lambda env: equal(left(env), right(env))
        if op == "!=":
            return lambda env: not equal(left(env), right(env))
        if op == "in":
            return lambda env: _contains(right(env), left(env))
        return lambda env: _order(op, left(env), right(env))

    def unary(self) -> Program:
        if self.peek() == "!":
            self.take()
            inner = self.unary()
            return lambda env: not _bool(inner(env))
        return self.member(self.primary())

    def member(self, base: Program) -> Program:
        while self.peek() in (".", "["):
            if self.take().text == "[":
                index = self.expr()
                self.take("]")
                base = _indexed(base, index)
                continue
            name = self.take()
            if name.kind != "ident":
                raise Unsupported(f"expected a field name, found {name.text!r}")
            if self.peek() == "(":
                base = self.method(base, name.text)
            else:
                base = _indexed(base, _const(name.text))
        return base

    def method(self, base: Program, name: str) -> Program:
        if name not in _METHODS:
            raise Unsupported(f"method {name}() is outside the supported subset")
        args = self.arguments()
        if name == "size" and not args:
            return lambda env: _size(base(env))
        if name != "size" and len(args) == 1:
            arg = args[0]
            return lambda env: _string_method(name, base(env), arg(env))
        raise Unsupported(f"{name}() takes {'no' if name == 'size' else 'one'} argument")

    def arguments(self) -> list[Program]:
        self.take("(")
        return self.items(")")

    def items(self, close: str) -> list[Program]:
        """Comma-separated expressions up to and including `close`."""
        out: list[Program] = []
        while self.peek() != close:
            out.append(self.expr())
            if self.peek() != close:
                self.take(",")
        self.take(close)
        return out

    def primary(self) -> Program:
        tok = self.take()
        if tok.kind == "num":
            return _const(float(tok.text) if "." in tok.text else int(tok.text))
        if tok.kind == "str":
            return _const(_unquote(tok.text))
        if tok.text == "(":
            inner = self.expr()
            self.take(")")
            return inner
        if tok.text == "[":
            items = self.items("]")
            return lambda env: [item(env) for item in items]
        if tok.kind != "ident":
            raise Unsupported(f"unexpected {tok.text!r}")
        literals = {"true": True, "false": False, "null": None}
        if tok.text in literals:
            return _const(literals[tok.text])
        if tok.text == "has":
            return self.has()
        if tok.text == "size" and self.peek() == "(":
            args = self.arguments()
            if len(args) != 1:
                raise Unsupported("size() takes one argument")
            return lambda env: _size(args[0](env))
        if tok.text not in VARIABLES:
            raise Unsupported(f"undeclared reference to {tok.text!r}")
        name = tok.text
        return lambda env: env[name]

    def has(self) -> Program:
        self.take("(")
        base = self.primary()
        fields: list[str] = []
        while self.peek() == ".":
            self.take()
            name = self.take()
            if name.kind != "ident":
                raise Unsupported(f"expected a field name, found {name.text!r}")
            fields.append(name.text)
        self.take(")")
        if not fields:
            raise Unsupported("has() needs a field selection such as has(object.spec)")
        for name in fields[:-1]:
            base = _indexed(base, _const(name))
        last = fields[-1]
        return lambda env: _has(base(env), last)


def _const(value: Any) -> Program:
    return lambda env: value


def _indexed(base: Program, index: Program) -> Program:
    return lambda env: _select(base(env), index(env))


def _has(value: Any, field: str) -> bool:
    if not isinstance(value, dict):
        raise CelError(f"invalid type for field selection: {_type(value)}")
    return field in value


def _contains(collection: Any, item: Any) -> bool:
    if isinstance(collection, list):
        return any(equal(item, x) for x in collection)
    if isinstance(collection, dict):
        return _map_key(item) in collection
    raise CelError(f"no such overload: {_type(item)} in {_type(collection)}")


def _size(value: Any) -> int:
    if isinstance(value, (str, list, dict)):
        return len(value)
    raise CelError(f"no such overload: size({_type(value)})")


def _string_method(name: str, value: Any, arg: Any) -> bool:
    if not (isinstance(value, str) and isinstance(arg, str)):
        raise CelError(f"no such overload: {_type(value)}.{name}({_type(arg)})")
    if name == "startsWith":
        return value.startswith(arg)
    if name == "endsWith":
        return value.endswith(arg)
    return arg in value


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "`": "`", "?": "?"}


def _unquote(text: str) -> str:
    def escape(match: re.Match[str]) -> str:
        found = _ESCAPES.get(match.group(1))
        if found is None:  # octal, hex, unicode escapes: beyond this subset
            raise Unsupported(f"escape \\{match.group(1)} in a string literal")
        return found

    return re.sub(r"\\(.)", escape, text[1:-1])


def _absorbing(op: str, left: Program, right: Program) -> Program:
    """`||`/`&&` as CEL evaluates them: a decisive side wins over an error on the other."""
    decisive = op == "||"

    def run(env: Env) -> bool:
        try:
            first: bool | CelError = _bool(left(env))
        except CelError as exc:
            first = exc
        if first is decisive:
            return decisive
        second = _bool(right(env))  # an error here propagates
        if second is decisive:
            return decisive
        if isinstance(first, CelError):
            raise first
        return not decisive

    return run


def compile(expression: str) -> Program:
    """A callable evaluating `expression` against {object, oldObject, request}."""
    parser = _Parser(_tokens(expression))
    program = parser.expr()
    if parser.at != len(parser.tokens):
        raise Unsupported(f"unexpected {parser.tokens[parser.at].text!r}")
    return program
