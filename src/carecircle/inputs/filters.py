"""The safe filter language of a layer's ``filter`` (never Python, never pandas ``query``).

A scenario file travels between offices by e-mail; opening it must be as safe as opening
a spreadsheet.  So a ``filter`` string is parsed by carecircle itself (Python's
:mod:`ast` is the parser; nothing is ever evaluated by Python) into a small tree that
only knows the operations below, and that tree is applied to the layer's columns with
pandas vectorised operations.

Grammar (``docs/safety.md`` has the same text for users)::

    filter     := or_expr
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | comparison | "(" or_expr ")"
    comparison := operand (("==" | "!=" | "<" | "<=" | ">" | ">=") operand)+
                | column ("in" | "not in") "(" literal ("," literal)* ")"
                | column ".str." test "(" string ")"
                | test "(" column "," string ")"
    test       := "startswith" | "endswith" | "contains"
    operand    := column | literal
    column     := a name of a column of the layer, or `any text` in backticks
    literal    := 'text' | "text" | a number | -number

``contains`` is a plain substring test (never a regular expression).  Comparisons with
a number compare the column as numbers (text that is not a number never matches); with
a string they compare text.  Nothing else is accepted: no attribute access other than
the ``.str.`` tests, no other calls, no ``@`` variables, no names that are not columns,
no arithmetic, at most :data:`MAX_LENGTH` characters and :data:`MAX_DEPTH` levels of
nesting.  A refused filter raises :class:`FilterError` naming the first offending part.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Longest accepted filter text (characters).
MAX_LENGTH = 2000
#: Deepest accepted nesting of the filter's syntax tree.
MAX_DEPTH = 30
#: Most values in one ``in (...)`` list.
MAX_LIST = 1000
#: The string tests a filter may use.
STRING_TESTS = ("startswith", "endswith", "contains")

_CMP_OPS: dict[type, str] = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=",
                             ast.Gt: ">", ast.GtE: ">="}
_BACKTICK = re.compile(r"`([^`]*)`")


class FilterError(ValueError):
    """A filter outside the language; ``part`` is the first offending piece of text."""

    def __init__(self, message: str, part: str = ""):
        self.part = part
        super().__init__(message + (f" (at: {part})" if part else ""))


@dataclass(frozen=True)
class _Col:
    name: str


@dataclass(frozen=True)
class _Lit:
    value: str | float


@dataclass(frozen=True)
class _Cmp:
    left: _Col | _Lit
    op: str
    right: _Col | _Lit


@dataclass(frozen=True)
class _In:
    col: _Col
    values: tuple[str | float, ...]
    negate: bool


@dataclass(frozen=True)
class _Test:
    col: _Col
    test: str
    text: str


@dataclass(frozen=True)
class _Bool:
    op: str  # "and" | "or"
    items: tuple[Node, ...]


@dataclass(frozen=True)
class _Not:
    item: Node


Node = _Cmp | _In | _Test | _Bool | _Not


def _depth(node: ast.AST) -> int:
    # Iterative, so a hostile 10,000-deep expression cannot exhaust Python's stack here.
    deepest, stack = 0, [(node, 1)]
    while stack:
        n, d = stack.pop()
        deepest = max(deepest, d)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((c, d + 1) for c in ast.iter_child_nodes(n))
    return deepest


class _Parser:
    """Turns a Python expression tree into filter nodes, refusing everything else."""

    def __init__(self, text: str, columns: Sequence[str], aliases: dict[str, str]):
        self.text = text
        self.columns = set(columns)
        self.aliases = aliases

    def part(self, node: ast.AST) -> str:
        seg = ast.get_source_segment(self.text, node) or type(node).__name__
        for alias, real in self.aliases.items():
            seg = seg.replace(alias, f"`{real}`")
        return seg if len(seg) <= 80 else seg[:77] + "..."

    def refuse(self, node: ast.AST, why: str) -> FilterError:
        return FilterError(why, self.part(node))

    def node(self, n: ast.AST) -> Node:
        if isinstance(n, ast.BoolOp):
            op = "and" if isinstance(n.op, ast.And) else "or"
            return _Bool(op, tuple(self.node(v) for v in n.values))
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.Not):
            return _Not(self.node(n.operand))
        if isinstance(n, ast.Compare):
            return self.compare(n)
        if isinstance(n, ast.Call):
            return self.call(n)
        raise self.refuse(n, "not a condition: expected a comparison, 'in (...)', a string test, "
                             "and/or/not")

    def column(self, n: ast.AST) -> _Col:
        if not isinstance(n, ast.Name):
            raise self.refuse(n, "expected a column name")
        name = self.aliases.get(n.id, n.id)
        if name not in self.columns:
            raise self.refuse(n, f"no column {name!r} in this layer")
        return _Col(name)

    def literal(self, n: ast.AST) -> str | float:
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub):
            value = self.literal(n.operand)
            if isinstance(value, str):
                raise self.refuse(n, "minus before a text")
            return -value
        if isinstance(n, ast.Constant) and isinstance(n.value, str):
            return n.value
        if isinstance(n, ast.Constant) and isinstance(n.value, (int, float)) \
                and not isinstance(n.value, bool):
            return float(n.value)
        raise self.refuse(n, "expected a text in quotes or a number")

    def operand(self, n: ast.AST) -> _Col | _Lit:
        if isinstance(n, ast.Name):
            return self.column(n)
        return _Lit(self.literal(n))

    def compare(self, n: ast.Compare) -> Node:
        if len(n.ops) == 1 and isinstance(n.ops[0], (ast.In, ast.NotIn)):
            col = self.column(n.left)
            seq = n.comparators[0]
            if not isinstance(seq, (ast.Tuple, ast.List)):
                raise self.refuse(seq, "'in' takes a list of values in parentheses")
            if len(seq.elts) > MAX_LIST:
                raise self.refuse(seq, f"more than {MAX_LIST} values")
            return _In(col, tuple(self.literal(e) for e in seq.elts), isinstance(n.ops[0], ast.NotIn))
        items: list[Node] = []
        left = self.operand(n.left)
        for op, right_node in zip(n.ops, n.comparators, strict=True):
            sym = _CMP_OPS.get(type(op))
            if sym is None:
                raise self.refuse(n, "only ==, !=, <, <=, >, >= compare two values; "
                                     "'in' / 'not in' take a list")
            right = self.operand(right_node)
            if isinstance(left, _Lit) and isinstance(right, _Lit):
                raise self.refuse(n, "a comparison needs a column")
            items.append(_Cmp(left, sym, right))
            left = right
        return items[0] if len(items) == 1 else _Bool("and", tuple(items))

    def call(self, n: ast.Call) -> Node:
        if n.keywords:
            raise self.refuse(n, "keyword arguments are not allowed")
        f = n.func
        # column.str.test('text')
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Attribute) \
                and f.value.attr == "str" and f.attr in STRING_TESTS:
            col = self.column(f.value.value)
            if len(n.args) != 1:
                raise self.refuse(n, f"{f.attr} takes one text")
            return _Test(col, f.attr, self.text_arg(n.args[0]))
        # test(column, 'text')
        if isinstance(f, ast.Name) and f.id in STRING_TESTS:
            if len(n.args) != 2:
                raise self.refuse(n, f"{f.id} takes a column and a text")
            return _Test(self.column(n.args[0]), f.id, self.text_arg(n.args[1]))
        raise self.refuse(f, f"only the string tests {', '.join(STRING_TESTS)} may be called")

    def text_arg(self, n: ast.AST) -> str:
        value = self.literal(n)
        if not isinstance(value, str):
            raise self.refuse(n, "expected a text in quotes")
        return value


def parse_filter(text: str, columns: Sequence[str]) -> Node:
    """Parse a filter for a layer with ``columns``; refuse anything outside the language.

    Parameters
    ----------
    text
        The filter, e.g. ``"类型 in ('120302', '120300') and 名称.str.contains('小区')"``.
    columns
        The layer's column names (as read from the file).

    Returns
    -------
    Node
        The parsed filter (apply it with :func:`apply_filter`).

    Raises
    ------
    FilterError
        The first part of the text that is not in the language.
    """
    if not isinstance(text, str) or not text.strip():
        raise FilterError("empty filter")
    if len(text) > MAX_LENGTH:
        raise FilterError(f"longer than {MAX_LENGTH} characters", text[:40] + "...")
    if "@" in text:
        raise FilterError("'@' variables are not allowed", text[text.index("@"):][:40])
    aliases: dict[str, str] = {}

    def backtick(m: re.Match[str]) -> str:
        alias = f"__col{len(aliases)}__"
        aliases[alias] = m.group(1)
        return alias

    source = _BACKTICK.sub(backtick, text.strip())
    level = deepest = 0
    for ch in source:  # texts in quotes may hold brackets: counting them too only errs strict
        level += (ch in "([{") - (ch in ")]}")
        deepest = max(deepest, level)
    if deepest > MAX_DEPTH:
        raise FilterError(f"brackets nested deeper than {MAX_DEPTH} levels", text[:40])
    try:
        tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        where = getattr(exc, "offset", None)
        part = source[max(0, (where or 1) - 1):][:40] if where else ""
        raise FilterError("not a valid filter expression", part) from None
    if _depth(tree) > MAX_DEPTH:
        raise FilterError(f"nested deeper than {MAX_DEPTH} levels", text[:40])
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id.startswith("__") and node.id not in aliases:
            raise FilterError("names starting with '__' are not allowed", node.id)
    return _Parser(source, columns, aliases).node(tree.body)


def _numbers(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s, errors="coerce")


def _texts(s: pd.Series) -> pd.Series:
    return s.astype("string")


_OPS: dict[str, Callable[[pd.Series, object], pd.Series]] = {
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


def _side(df: pd.DataFrame, x: _Col | _Lit, numeric: bool) -> pd.Series | object:
    if isinstance(x, _Lit):
        return x.value
    s = df[x.name]
    return _numbers(s) if numeric else _texts(s)


def _mask(df: pd.DataFrame, node: Node) -> np.ndarray:
    if isinstance(node, _Bool):
        masks = [_mask(df, i) for i in node.items]
        out = masks[0]
        for m in masks[1:]:
            out = (out & m) if node.op == "and" else (out | m)
        return out
    if isinstance(node, _Not):
        return ~_mask(df, node.item)
    if isinstance(node, _In):
        nums = [v for v in node.values if isinstance(v, float)]
        texts = {v for v in node.values if isinstance(v, str)}
        hit = _texts(df[node.col.name]).isin(texts).fillna(False).to_numpy(dtype=bool)
        if nums:
            hit = hit | _numbers(df[node.col.name]).isin(nums).to_numpy(dtype=bool)
        return ~hit if node.negate else hit
    if isinstance(node, _Test):
        s = _texts(df[node.col.name])
        if node.test == "contains":
            r = s.str.contains(node.text, regex=False)
        else:
            r = getattr(s.str, node.test)(node.text)
        return r.fillna(False).to_numpy(dtype=bool)
    numeric = any(isinstance(x, _Lit) and isinstance(x.value, float) for x in (node.left, node.right))
    r = _OPS[node.op](_side(df, node.left, numeric), _side(df, node.right, numeric))
    return pd.Series(r).fillna(False).to_numpy(dtype=bool)


def apply_filter(df: pd.DataFrame, text: str) -> pd.DataFrame:
    """The rows of ``df`` that match the filter ``text`` (see the module's grammar).

    Parameters
    ----------
    df
        The layer as read.
    text
        The filter.

    Returns
    -------
    pandas.DataFrame
        The matching rows, in their order.

    Raises
    ------
    FilterError
        When the filter is outside the language or names a column ``df`` lacks.
    """
    tree = parse_filter(text, [str(c) for c in df.columns if c != "geometry"])
    if len(df) == 0:
        return df
    return df[_mask(df, tree)]
