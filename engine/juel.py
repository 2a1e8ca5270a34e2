"""Simple Camunda (JUEL) expressions, translated into the Python the safe evaluator runs.

Camunda models write conditions as JUEL: ``${approved}``, ``${!approved}``,
``${clarified == 'yes'}``, ``${amount > 1000 && urgent}``. Most are that
simple, and refusing them made most Camunda models unrunnable here. This
translates, token by token, the part of JUEL that means the same in Python:

* variables, and properties of them (``applicant.age`` becomes
  ``applicant["age"]``: case data is JSON, so objects are maps);
* literals: strings, numbers, ``true``, ``false``, ``null``;
* comparisons (``==`` ``!=`` ``<`` ``>`` ``<=`` ``>=`` and ``eq`` ``ne`` ``lt``
  ``gt`` ``le`` ``ge``), ``&&``/``and``, ``||``/``or``, ``!``/``not``, arithmetic
  (``div``, ``mod``), parentheses and ``[...]`` indexing;
* ``x.equals(y)``, which becomes ``x == (y)``.

Anything else (other method or function calls, ``empty``, the ``? :``
operator, text around the ``${...}``) is not translated: :func:`to_python`
returns None and the model check says the expression must be written in
Python. What comes out is checked by the sandbox like any other expression.
"""

from __future__ import annotations

import keyword
import re

_WHOLE = re.compile(r"^\s*[$#]\{(.*)\}\s*$", re.DOTALL)
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|<=|>=|&&|\|\||[<>!+\-*/%()\[\].])
""", re.VERBOSE)
_WORDS = {"true": "True", "false": "False", "null": "None", "and": "and", "or": "or", "not": "not",
          "eq": "==", "ne": "!=", "lt": "<", "gt": ">", "le": "<=", "ge": ">=", "div": "/", "mod": "%"}
_REFUSED_WORDS = frozenset({"empty", "instanceof"})
_OPS = {"&&": "and", "||": "or", "!": "not"}
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


def is_juel(text: str) -> bool:
    """Whether ``text`` is written as a JUEL expression (``${...}`` or ``#{...}``)."""
    return bool(re.match(r"^\s*[$#]\{", text))


def _tokens(body: str) -> list[tuple[str, str]] | None:
    out, at = [], 0
    while at < len(body):
        found = _TOKEN.match(body, at)
        if found is None:
            return None
        kind = found.lastgroup or ""
        if kind != "space":
            out.append((kind, found.group()))
        at = found.end()
    return out


def to_python(text: str) -> str | None:
    """The Python for the JUEL expression ``text``, or None when it is not one this translates."""
    whole = _WHOLE.match(text)
    if whole is None or "${" in whole.group(1) or "#{" in whole.group(1):
        return None
    tokens = _tokens(whole.group(1))
    if not tokens:
        return None
    out: list[str] = []
    operand = False  # whether the last token ended an operand (a call would follow it)
    # Where Python's precedence differs from JUEL's, refuse rather than change the meaning: JUEL's
    # `!` binds tighter than a comparison (`!a == b` is `(!a) == b`, Python's `not` looser), and JUEL
    # compares left to right (`a == b == c`) where Python chains. Per parenthesis depth: whether a `!`
    # is still open, and how many comparisons came since the last `&&`/`||`.
    depth, negated, compared = 0, [False], [0]
    i = 0
    while i < len(tokens):
        kind, value = tokens[i]
        word = _WORDS.get(value) if kind == "name" else _OPS.get(value, value)
        if kind == "string":
            out.append(repr(_ESCAPE.sub(r"\1", value[1:-1])))
            operand = True
        elif kind == "number":
            out.append(value)
            operand = True
        elif kind == "name" and word is None:
            if value in _REFUSED_WORDS or keyword.iskeyword(value):
                return None
            out.append(value)
            operand = True
        elif value == ".":
            if i + 1 >= len(tokens) or tokens[i + 1][0] != "name" or not operand:
                return None
            member = tokens[i + 1][1]
            calls = i + 2 < len(tokens) and tokens[i + 2][1] == "("
            if calls and member != "equals":
                return None
            if calls:  # binds tighter than `!` in JUEL, as `==` after `not` does in Python
                compared[depth] += 1
                if compared[depth] > 1:
                    return None
            out.append("==" if calls else f"[{member!r}]")
            operand = not calls
            i += 2
            continue
        elif value in ("(", "["):
            if value == "(" and operand:  # a function call: nothing here is callable
                return None
            out.append(value)
            depth += 1
            negated.append(False)
            compared.append(0)
            operand = False
        elif value in (")", "]"):
            if depth == 0:
                return None
            out.append(value)
            depth -= 1
            negated.pop()
            compared.pop()
            operand = True
        elif word in ("True", "False", "None"):
            out.append(word)
            operand = True
        elif word in ("and", "or"):
            out.append(word)
            negated[depth], compared[depth] = False, 0
            operand = False
        elif word == "not":
            out.append(word)
            negated[depth] = True
            operand = False
        else:  # a comparison or arithmetic operator
            if negated[depth] and operand:
                return None
            if word in ("==", "!=", "<", ">", "<=", ">="):
                compared[depth] += 1
                if compared[depth] > 1:
                    return None
            out.append(word or value)
            operand = False
        i += 1
    return " ".join(out) if depth == 0 else None
