"""Find every piece of code in a model and check it with the safe evaluator.

DESIGN.md §4: models whose scripts the sandbox cannot run are rejected at
upload, with the element and the line. :func:`check_model_scripts` reads the
XML the loader already parsed (``model.source.root``) and checks, without
running anything:

- script tasks' ``<script>`` (``scriptFormat`` python or none),
- sequence-flow ``conditionExpression`` and conditional events' ``condition``,
- timers' ``timeDate`` / ``timeDuration`` / ``timeCycle`` (SpiffWorkflow
  evaluates them as Python: ``"'PT1H'"``),
- loops: ``loopCardinality``, ``completionCondition``, ``loopCondition``, and
  that ``loopDataInputRef`` names a variable,
- correlation ``messagePath`` / ``formalExpression``,
- SpiffWorkflow extensions: ``preScript``, ``postScript``, service operator
  parameter values, message and signal payload expressions,
- Camunda ``camunda:script`` (the engine does not run these: warnings only).

A condition, completion condition, loop cardinality or timer written as a
simple JUEL, FEEL or XPath expression is checked as the Python
``engine.expressions`` makes of it, which is what the engine runs; any other
is refused.

``instructionsForEndUser`` is Jinja text for the sandboxed template engine,
not Python, and is skipped.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass

from lxml import etree

from bpmn.diagnostics import Diagnostic, Severity
from bpmn.load import BPMN_NS, CAMUNDA_NS, SPIFF_NS
from bpmn.model import ACTIVITY_TAGS, EVENT_TAGS, GATEWAY_TAGS, Model, local
from engine import expressions
from engine.prepare import TIMERS, TRANSLATED, quoted_timer
from engine.sandbox import Mode, Sandbox, ScriptError

_OWNER_TAGS = ACTIVITY_TAGS | EVENT_TAGS | GATEWAY_TAGS | {"sequenceFlow", "process"}

# (namespace, local name) -> (what the code is, mode)
_EXPRESSIONS: dict[tuple[str, str], tuple[str, Mode]] = {
    (BPMN_NS, "conditionExpression"): ("the condition", "eval"),
    (BPMN_NS, "condition"): ("the condition", "eval"),
    (BPMN_NS, "timeDate"): ("the timer date", "eval"),
    (BPMN_NS, "timeDuration"): ("the timer duration", "eval"),
    (BPMN_NS, "timeCycle"): ("the timer cycle", "eval"),
    (BPMN_NS, "loopCardinality"): ("the loop cardinality", "eval"),
    (BPMN_NS, "completionCondition"): ("the completion condition", "eval"),
    (BPMN_NS, "loopCondition"): ("the loop condition", "eval"),
    (BPMN_NS, "messagePath"): ("the correlation expression", "eval"),
    (SPIFF_NS, "preScript"): ("the pre-script", "exec"),
    (SPIFF_NS, "postScript"): ("the post-script", "exec"),
    (SPIFF_NS, "messagePayload"): ("the message payload", "eval"),
    (SPIFF_NS, "payloadExpression"): ("the payload expression", "eval"),
}
_REFERENCES = {(BPMN_NS, "loopDataInputRef"): "the loop input", (SPIFF_NS, "messageVariable"): "the message variable"}

_CRON = re.compile(r"^\s*[0-9*?/,LW#A-Z-]+(\s+[0-9*?/,LW#A-Z-]+){4,6}\s*$")
_DURATION = re.compile(r"P(?:(\d+)Y)?(?:(\d+)M)?", re.IGNORECASE)
MAX_TIMER_MONTHS = 1200   # SpiffWorkflow walks a duration month by month (the engine refuses longer ones too)


@dataclass(frozen=True)
class _Code:
    """One piece of code found in the model."""

    element: etree._Element   # holds the code (as text, or in an attribute)
    text: str
    what: str
    mode: Mode
    in_attribute: bool = False
    severity: Severity = "error"


@functools.cache
def _default_sandbox() -> Sandbox:
    return Sandbox()


def check_model_scripts(model: Model, sandbox: Sandbox | None = None) -> list[Diagnostic]:
    """Diagnostics for every piece of code in ``model`` the safe evaluator cannot run.

    Pass the engine's ``sandbox`` when it has server functions, so that calls
    to them are accepted.
    """
    sandbox = sandbox or _default_sandbox()
    out: list[Diagnostic] = []
    for item in _find_code(model.source.root, out):
        out.extend(_check(sandbox, item))
    return out


# --- finding the code ---------------------------------------------------------------

def _find_code(root: etree._Element, out: list[Diagnostic]) -> Iterator[_Code]:
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        qname = etree.QName(el)
        key = (qname.namespace or "", qname.localname)
        if key == (BPMN_NS, "scriptTask"):
            yield from _script_task(el, out)
        elif key in _EXPRESSIONS:
            what, mode = _EXPRESSIONS[key]
            if not _python(el.get("language")) and expressions.language_of(el.text or "", el.get("language")) is None:
                out.append(_diag(el, "script.language", f"{what} of {_label(el)} is written in "
                                 f"`{el.get('language')}`; the engine evaluates only Python"))
                continue
            if el.text and el.text.strip():
                yield _Code(el, el.text, what, mode)
            elif key == (BPMN_NS, "condition") and _parent_local(el) == "conditionalEventDefinition":
                # (An empty flow condition is no condition, as the engine reads it; an empty event one is not.)
                out.append(_diag(el, "script.empty_condition", f"{what} of {_label(el)} is empty: the event "
                                 "could never fire; write the condition it waits for"))
        elif key == (BPMN_NS, "formalExpression") and _parent_local(el) == "correlationPropertyRetrievalExpression":
            if el.text and el.text.strip():
                yield _Code(el, el.text, "the correlation expression", "eval")
        elif key in _REFERENCES:
            _reference(el, _REFERENCES[key], out)
        elif key == (SPIFF_NS, "parameter") and _parent_local(el) == "parameters" and el.get("value") is not None:
            yield _Code(el, el.get("value", ""), f"the value of parameter '{el.get('id', '')}'", "eval",
                        in_attribute=True)
        elif key == (SPIFF_NS, "expression") and _parent_local(el) == "processVariableCorrelation":
            if el.text and el.text.strip():
                yield _Code(el, el.text, "the correlation expression", "eval")
        elif key == (CAMUNDA_NS, "script"):
            yield from _camunda_script(el, out)


def _script_task(el: etree._Element, out: list[Diagnostic]) -> Iterator[_Code]:
    fmt = el.get("scriptFormat")
    script = el.find(f"{{{BPMN_NS}}}script")
    if script is None or not (script.text or "").strip():
        return
    if not _python(fmt):
        out.append(_diag(el, "script.language", f"the script of {_label(el)} is written in `{fmt}`; "
                                                "the engine runs only Python"))
        return
    yield _Code(script, script.text or "", "the script", "exec")


def _camunda_script(el: etree._Element, out: list[Diagnostic]) -> Iterator[_Code]:
    fmt = el.get("scriptFormat")
    if el.get("resource"):
        out.append(_diag(el, "script.language", f"a Camunda script of {_label(el)} is loaded from "
                         f"`{el.get('resource')}`; the engine does not run Camunda scripts", "warning"))
    elif not _python(fmt):
        out.append(_diag(el, "script.language", f"a Camunda script of {_label(el)} is written in "
                         f"`{fmt}`; the engine does not run Camunda scripts", "warning"))
    elif (el.text or "").strip():
        yield _Code(el, el.text or "", "a Camunda script", "exec", severity="warning")


def _reference(el: etree._Element, what: str, out: list[Diagnostic]) -> None:
    name = (el.text or "").strip()
    if name and not name.isidentifier():
        out.append(_diag(el, "script.reference", f"{what} of {_label(el)} is `{name}`, which is not a "
                         "variable name", "warning"))


def _python(language: str | None) -> bool:
    return (language or "").strip().lower() in expressions.PYTHON_LANGUAGES


def _parent_local(el: etree._Element) -> str:
    parent = el.getparent()
    return local(parent) if parent is not None else ""


# --- checking -----------------------------------------------------------------------

def _check(sandbox: Sandbox, code: _Code) -> list[Diagnostic]:
    el, text = code.element, code.text
    label = f"{code.what} of {_label(el)}"
    if code.mode == "eval":
        language = expressions.language_of(text, el.get("language"))
        if language is not None:
            translated = expressions.translate(language, text) if local(el) in TRANSLATED else None
            if translated is None:
                return [_diag(el, "script.language", f"{label} is a {language} expression `{text.strip()[:60]}` "
                              "that the engine does not translate (it translates variables, literals, "
                              "comparisons, and, or, not, and JUEL's .equals); write it in Python, "
                              "e.g. `approved == True`", code.severity)]
            text = translated  # what the engine will evaluate (engine.prepare translates it the same way)
        if local(el) in TIMERS:
            text = quoted_timer(text) or text  # a bare ISO text, as engine.prepare quotes it
        if local(el) in TIMERS and _CRON.match(text):
            return [_diag(el, "script.timer", f"{label} `{text.strip()}` looks like a cron expression; "
                          "SpiffWorkflow timers take ISO 8601 ('R/PT5M')", code.severity)]
    problems = sandbox.check(text, code.mode)
    out = []
    for p in problems:
        line = el.sourceline
        if line is not None and p.line is not None and not code.in_attribute:
            line += p.line - 1
        out.append(Diagnostic(code.severity, f"script.{p.kind}", f"{label}: {p.message}",
                              _owner_id(el), line))
    if not problems and local(el) in TIMERS:
        out.extend(_timer_value(sandbox, code, label, text))
    return out


def _timer_value(sandbox: Sandbox, code: _Code, label: str, text: str) -> list[Diagnostic]:
    """A constant timer string whose duration would make SpiffWorkflow loop for ages."""
    try:
        value = sandbox.evaluate(text, {})
    except ScriptError:
        return []   # depends on task data: checked when it runs
    if not isinstance(value, str):
        return []
    for m in _DURATION.finditer(value):
        months = int(m.group(1) or 0) * 12 + int(m.group(2) or 0)
        if months > MAX_TIMER_MONTHS:
            return [_diag(code.element, "script.timer", f"{label} `{value[:40]}` is longer than "
                          f"{MAX_TIMER_MONTHS // 12} years", code.severity)]
    return []


# --- where ------------------------------------------------------------------------

def _owner(el: etree._Element) -> etree._Element:
    """The BPMN element the code belongs to (task, flow, event; else a root element)."""
    node: etree._Element | None = el
    while node is not None:
        parent = node.getparent()
        if (local(node) in _OWNER_TAGS and node.get("id")) or parent is None or parent.getparent() is None:
            return node
        node = parent
    return el


def _owner_id(el: etree._Element) -> str | None:
    return _owner(el).get("id")


def _label(el: etree._Element) -> str:
    owner = _owner(el)
    kind = re.sub(r"(?<!^)(?=[A-Z])", " ", local(owner)).lower()
    name = owner.get("name")
    ident = owner.get("id", "?")
    return f"{kind} '{name}' ({ident})" if name else f"{kind} {ident}"


def _diag(el: etree._Element, code: str, message: str, severity: Severity = "error") -> Diagnostic:
    return Diagnostic(severity, code, message, _owner_id(el), el.sourceline)
