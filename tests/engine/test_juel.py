"""engine.juel: simple Camunda expressions become the Python the sandbox runs; the rest is refused."""

from __future__ import annotations

import pytest

from engine.juel import to_python
from engine.sandbox import Sandbox
from tests.engine.test_runtime_spiff import doc, make


@pytest.mark.parametrize(("juel", "python"), [
    ("${approved}", "approved"),
    ("#{approved}", "approved"),
    ("${!approved}", "not approved"),
    ("${not approved}", "not approved"),
    ("${clarified == 'yes'}", "clarified == 'yes'"),
    ('${risico == "Hoog"}', "risico == 'Hoog'"),
    ("${'it\\'s'}", '"it\'s"'),
    ("${true}", "True"),
    ("${documentsValid == false}", "documentsValid == False"),
    ("${score <= 5}", "score <= 5"),
    ("${a && (b || !c)}", "a and ( b or not c )"),
    ("${applicant.age ge 18}", "applicant ['age'] >= 18"),
    ("${x mod 2 eq 0 and y div 2 gt 1}", "x % 2 == 0 and y / 2 > 1"),
    ("${items[0] ne null}", "items [ 0 ] != None"),
    ("${clarified.equals('yes')}", "clarified == ( 'yes' )"),
    ("${!clarified.equals('no')}", "not clarified == ( 'no' )"),
    ("${!(a == b)}", "not ( a == b )"),
    ("${!a && b == c}", "not a and b == c"),
    ("${-x > 3}", "- x > 3"),
])
def test_simple_expressions_are_translated(juel: str, python: str):
    assert to_python(juel) == python
    assert Sandbox().check(python, "eval") == []


@pytest.mark.parametrize("juel", [
    "${customer.prop('age').numberValue() < 21}",  # method calls
    "${len(documents)}",                            # function calls
    "${empty documents}",                           # empty: not the same as Python's falsehood
    "${approved ? 'yes' : 'no'}",                   # the conditional operator
    "${!a == b}",                                   # JUEL: (!a) == b; Python's not would take a == b
    "${a < b == c}",                                # JUEL compares left to right; Python chains
    "${a.equals(b) == c}",
    "total: ${amount}",                             # text around the expression
    "${a} and ${b}",
    "${import}",                                    # a Python keyword as a variable
    "${(a}", "${a)}", "${a @ b}", "approved",
])
def test_anything_else_is_refused(juel: str):
    assert to_python(juel) is None


def _gateway(condition: str) -> bytes:
    return doc('<bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="g" default="no"/>'
               '<bpmn:scriptTask id="yes_task"><bpmn:script>route = "yes"</bpmn:script></bpmn:scriptTask>'
               '<bpmn:scriptTask id="no_task"><bpmn:script>route = "no"</bpmn:script></bpmn:scriptTask>'
               '<bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/>'
               '<bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="g"/>'
               f'<bpmn:sequenceFlow id="yes" sourceRef="g" targetRef="yes_task"><bpmn:conditionExpression>{condition}'
               '</bpmn:conditionExpression></bpmn:sequenceFlow>'
               '<bpmn:sequenceFlow id="no" sourceRef="g" targetRef="no_task"/>'
               '<bpmn:sequenceFlow id="f1" sourceRef="yes_task" targetRef="e1"/>'
               '<bpmn:sequenceFlow id="f2" sourceRef="no_task" targetRef="e2"/>')


@pytest.mark.parametrize(("data", "route"), [
    ({"approved": True, "request": {"kind": "permit"}}, "yes"),
    ({"approved": False, "request": {"kind": "permit"}}, "no"),
    ({"approved": True, "request": {"kind": "other"}}, "no"),
])
def test_a_camunda_condition_routes_the_case(data, route):
    live, _, _ = make(_gateway("${approved &amp;&amp; request.kind.equals('permit')}"), data=data)
    assert live.advance().failure is None and live.finished
    assert live.data["route"] == route
