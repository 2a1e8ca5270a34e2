"""Simple expressions written for other engines, translated into the Python the safe evaluator runs.

Models come from many tools, and each writes its conditions in its own
language:

* Camunda 7: JUEL, ``${approved}``, ``${!approved}``, ``${clarified == 'yes'}``,
  ``${amount > 1000 && urgent}``, ``${status.equals('OK')}``;
* Camunda 8: FEEL after an ``=``, ``= approved``, ``= not(approved)``,
  ``= status = "OK"``;
* BPMN's own default, XPath (``language="http://www.w3.org/1999/XPath"``), as
  interchange tools export it: ``bpmn:getDataObject('approved')``,
  ``not(bpmn:getDataObject('approved'))``, ``bpmn:getDataObject('clarified') = 'yes'``.

Most are that simple, and refusing them made most such models unrunnable.
This translates, token by token, the part of each language that means the
same in Python: variables (and, in JUEL and FEEL, their properties:
``applicant.age`` becomes ``applicant['age']``, case data being JSON);
string, number and boolean literals and null; comparisons; and, or, not;
arithmetic; parentheses; JUEL's ``[...]`` and ``x.equals(y)``; XPath's
``bpmn:getDataObject('x')``, ``true()`` and ``false()``.

Anything else (other calls, JUEL's ``empty`` and ``? :``, FEEL's ``some``,
``every``, ``in``, ``if``, filters, XPath paths, text around a JUEL
expression) is not translated: the functions return None and the model check
says the expression must be written in Python. So is an expression whose
meaning the two precedences would change: a negation followed by a
comparison (``!a == b`` is ``(!a) == b`` in JUEL, while Python's ``not`` takes
the comparison), or a chain of comparisons (Python chains ``a == b == c``).
What comes out is checked by the sandbox like any other expression.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?::[A-Za-z_][A-Za-z0-9_]*)?)
  | (?P<op>==|!=|<=|>=|&&|\|\||[=<>!+\-*/%()\[\].,])
""", re.VERBOSE)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_COMPARISONS = frozenset({"==", "!=", "<", ">", "<=", ">="})
_LITERALS = frozenset({"True", "False", "None"})
_COMMON_OPS = {"!=": "!=", "<": "<", ">": ">", "<=": "<=", ">=": ">=", "+": "+", "-": "-", "*": "*"}


@dataclass(frozen=True)
class _Dialect:
    words: dict[str, str]          # word -> Python (operators and literals)
    ops: dict[str, str]            # operator -> Python
    quotes: str = "'\""            # the quote characters strings may use
    members: bool = False          # `x.name` reads a property
    indexing: bool = False         # `x[...]` indexes
    functions: frozenset[str] = field(default_factory=frozenset)  # names callable as `f(...)`


# The expression inside what marks its language: JUEL's ${...} or #{...}, FEEL's leading = (DMN's FEEL
# language attribute leaves it out).
_JUEL_BODY = re.compile(r"^\s*[$#]\{(.*)\}\s*$", re.DOTALL)
_FEEL_BODY = re.compile(r"^\s*=?(.*)$", re.DOTALL)

JUEL = _Dialect(
    words={"true": "True", "false": "False", "null": "None", "and": "and", "or": "or", "not": "not",
           "eq": "==", "ne": "!=", "lt": "<", "gt": ">", "le": "<=", "ge": ">=", "div": "/", "mod": "%"},
    ops={**_COMMON_OPS, "==": "==", "&&": "and", "||": "or", "!": "not", "/": "/", "%": "%"},
    members=True, indexing=True)
FEEL = _Dialect(
    words={"true": "True", "false": "False", "null": "None", "and": "and", "or": "or"},
    ops={**_COMMON_OPS, "=": "==", "/": "/"},
    quotes='"', members=True, functions=frozenset({"not"}))
XPATH = _Dialect(
    words={"and": "and", "or": "or", "div": "/", "mod": "%"},
    ops={**_COMMON_OPS, "=": "=="},
    functions=frozenset({"not", "true", "false", "bpmn:getDataObject"}))

XPATH_LANGUAGES = frozenset({"http://www.w3.org/1999/xpath", "xpath"})
# A tFormalExpression's or script's language that means Python (none given is Python here too).
PYTHON_LANGUAGES = frozenset({"", "python", "python3", "py", "text/python", "text/x-python", "application/python",
                              "application/x-python"})


def is_juel(text: str) -> bool:
    """Whether ``text`` is written as a JUEL expression (``${...}`` or ``#{...}``)."""
    return bool(re.match(r"^\s*[$#]\{", text))


def language_of(text: str, language: str | None = None) -> str | None:
    """"JUEL", "FEEL" or "XPath" when ``text`` is written in one of them; None for Python (or another language).

    A ``language`` attribute (a tFormalExpression's) decides; without one, the
    look does: ``${...}`` is JUEL, ``=...`` is Camunda 8's FEEL.
    """
    declared = (language or "").strip().lower()
    if declared in XPATH_LANGUAGES:
        return "XPath"
    if declared.endswith("/feel/") or declared.endswith("/feel") or declared == "feel":
        return "FEEL"
    if declared not in PYTHON_LANGUAGES:
        return None
    if is_juel(text):
        return "JUEL"
    if text.lstrip().startswith("="):
        return "FEEL"
    return None


def translate(language: str, text: str) -> str | None:
    """The Python for ``text`` written in ``language`` (as :func:`language_of` names it), or None."""
    to_python = _TRANSLATORS.get(language)
    return to_python(text) if to_python is not None else None


def juel_to_python(text: str) -> str | None:
    """The Python for the JUEL expression ``text``, or None when it is not one this translates."""
    body = _JUEL_BODY.match(text)
    if body is None or "${" in body.group(1) or "#{" in body.group(1):  # text around expressions
        return None
    return _translate(body.group(1), JUEL)


def feel_to_python(text: str) -> str | None:
    """The Python for the FEEL expression ``text`` (``=...`` or bare), or None when it is not one this translates."""
    body = _FEEL_BODY.match(text)
    return _translate(body.group(1), FEEL) if body else None


def xpath_to_python(text: str) -> str | None:
    """The Python for the XPath condition ``text``, or None when it is not one this translates."""
    return _translate(text, XPATH)


_TRANSLATORS = {"JUEL": juel_to_python, "FEEL": feel_to_python, "XPath": xpath_to_python}


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


class _Refused(Exception):
    """The expression is outside what this translates."""


class _Translation:
    """One pass over the tokens, with the guards against a change of meaning (module docstring)."""

    def __init__(self, tokens: list[tuple[str, str]], dialect: _Dialect) -> None:
        self.tokens, self.dialect = tokens, dialect
        self.out: list[str] = []
        self.operand = False  # whether the last token ended an operand
        # Per parenthesis depth: whether a negation is still open, and comparisons since the last and/or.
        self.negated, self.compared = [False], [0]

    def run(self) -> str:
        i = 0
        while i < len(self.tokens):
            i = self._step(i)
        if len(self.negated) != 1 or not self.out:
            raise _Refused
        return " ".join(self.out)

    def _step(self, i: int) -> int:
        kind, value = self.tokens[i]
        if kind == "string":
            if value[0] not in self.dialect.quotes:
                raise _Refused
            self._operand(repr(_ESCAPE.sub(r"\1", value[1:-1])))
        elif kind == "number":
            self._operand(value)
        elif kind == "name":
            return self._name(i, value)
        elif value == "." and self.dialect.members:
            return self._member(i)
        elif value == "[" and self.dialect.indexing and self.operand:
            self._open("[")
        elif value == "(":
            if self.operand:  # a call of something that is not one of the dialect's functions
                raise _Refused
            self._open("(")
        elif value in (")", "]"):
            self._close(value)
        else:
            self._operator(self.dialect.ops.get(value))
        return i + 1

    def _name(self, i: int, value: str) -> int:
        calls = i + 1 < len(self.tokens) and self.tokens[i + 1][1] == "("
        if calls and value in self.dialect.functions:
            return self._function(i, value)
        word = self.dialect.words.get(value)
        if word in _LITERALS:
            self._operand(word)
        elif word is not None:
            self._operator(word)
        elif ":" in value or keyword.iskeyword(value) or value in ("empty", "instanceof", "some", "every",
                                                                    "in", "satisfies", "if", "then", "else",
                                                                    "for", "return", "between", "instance"):
            raise _Refused
        else:
            self._operand(value)
        return i + 1

    def _function(self, i: int, name: str) -> int:
        rest = [v for _, v in self.tokens[i + 1:i + 4]]
        if name in ("true", "false"):
            if rest[:2] != ["(", ")"]:
                raise _Refused
            self._operand(name.capitalize())
            return i + 3
        if name == "bpmn:getDataObject":
            if len(rest) < 3 or rest[2] != ")" or self.tokens[i + 2][0] != "string":
                raise _Refused
            variable = rest[1][1:-1]
            if not variable.isidentifier() or keyword.iskeyword(variable):
                raise _Refused
            self._operand(variable)
            return i + 4
        self._negate()  # not(...): the parenthesis that follows opens the negated operand
        return i + 1

    def _member(self, i: int) -> int:
        if i + 1 >= len(self.tokens) or self.tokens[i + 1][0] != "name" or ":" in self.tokens[i + 1][1] \
                or not self.operand:
            raise _Refused
        member = self.tokens[i + 1][1]
        calls = i + 2 < len(self.tokens) and self.tokens[i + 2][1] == "("
        if calls:
            if member != "equals" or self.dialect is not JUEL:
                raise _Refused
            self._compare("==", member=True)
            return i + 2
        self.out.append(f"[{member!r}]")
        return i + 2

    def _operand(self, text: str) -> None:
        if self.operand:  # two operands in a row: a label ("Vacation Approval"), not an expression
            raise _Refused
        self.out.append(text)
        self.operand = True

    def _negate(self) -> None:
        self.out.append("not")
        self.negated[-1], self.operand = True, False

    def _open(self, bracket: str) -> None:
        self.out.append(bracket)
        self.negated.append(False)
        self.compared.append(0)
        self.operand = False

    def _close(self, bracket: str) -> None:
        if len(self.negated) == 1:
            raise _Refused
        self.out.append(bracket)
        self.negated.pop()
        self.compared.pop()
        self.operand = True

    def _operator(self, python: str | None) -> None:
        if python is None:
            raise _Refused
        if python in ("and", "or"):
            self.out.append(python)
            self.negated[-1], self.compared[-1], self.operand = False, 0, False
            return
        if python == "not":
            self._negate()
            return
        if python in _COMPARISONS:
            self._compare(python)
            return
        if self.negated[-1] and self.operand:
            raise _Refused
        self.out.append(python)
        self.operand = False

    def _compare(self, python: str, *, member: bool = False) -> None:
        # `!a == b` negates a in JUEL and XPath, the comparison in Python: refused. `!a.equals(b)` is not
        # (the member call binds tighter than `!`, as the comparison binds tighter than Python's `not`).
        if self.compared[-1] >= 1 or (self.negated[-1] and self.operand and not member):
            raise _Refused
        self.compared[-1] += 1
        self.out.append(python)
        self.operand = False


def _translate(body: str, dialect: _Dialect) -> str | None:
    tokens = _tokens(body)
    if not tokens:
        return None
    try:
        return _Translation(tokens, dialect).run()
    except _Refused:
        return None
