"""engine.expressions: simple JUEL, FEEL and XPath become the Python the sandbox runs; the rest is refused."""

from __future__ import annotations

import pytest

from engine.expressions import feel_to_python, juel_to_python, language_of, xpath_to_python
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
    assert juel_to_python(juel) == python
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
    assert juel_to_python(juel) is None


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


@pytest.mark.parametrize(("feel", "python"), [
    ("= approved", "approved"),
    ("=fraud", "fraud"),
    ("= not(approved)", "not ( approved )"),
    ('= status = "OK" and amount >= 1000', "status == 'OK' and amount >= 1000"),
    ("= applicant.age > 17 or guardian != null", "applicant ['age'] > 17 or guardian != None"),
    ("approved = true", "approved == True"),  # bare, as DMN's FEEL language attribute has it
])
def test_simple_feel_is_translated(feel: str, python: str):
    assert feel_to_python(feel) == python
    assert Sandbox().check(python, "eval") == []


@pytest.mark.parametrize("feel", [
    '= some risk in riskLevels satisfies risk = "red"', "= every x in xs satisfies x",
    "= if a then b else c", "= count(items) > 2", "= items[1]", "= 'single quotes'", "= not(a) = b",
    "= a = b = c",
])
def test_other_feel_is_refused(feel: str):
    assert feel_to_python(feel) is None


@pytest.mark.parametrize(("xpath", "python"), [
    ("bpmn:getDataObject('approved')", "approved"),
    ("not(bpmn:getDataObject('approved'))", "not ( approved )"),
    ("bpmn:getDataObject('clarified') = 'yes'", "clarified == 'yes'"),
    ("bpmn:getDataObject('amount') &gt; 10 and true()".replace("&gt;", ">"), "amount > 10 and True"),
])
def test_bpmn_xpath_data_object_conditions_are_translated(xpath: str, python: str):
    assert xpath_to_python(xpath) == python
    assert Sandbox().check(python, "eval") == []


@pytest.mark.parametrize("xpath", [
    "/process/data/approved", "bpmn:getDataObject(name)", "bpmn:getDataInput('x')", "count(//item) > 1",
    "Vacation Approval = \"Approved\"", "not(bpmn:getDataObject('a')) = true()",
])
def test_other_xpath_is_refused(xpath: str):
    assert xpath_to_python(xpath) is None


@pytest.mark.parametrize(("text", "attribute", "language"), [
    ("${approved}", None, "JUEL"), ("= approved", None, "FEEL"), ("approved", None, None),
    ("approved", "http://www.w3.org/1999/XPath", "XPath"), ("approved", "https://www.omg.org/spec/DMN/20191111/FEEL/", "FEEL"),
    ("approved", "python", None), ("approved == 1", "text/javascript", None),
])
def test_the_language_comes_from_the_attribute_or_the_look(text, attribute, language):
    assert language_of(text, attribute) == language


@pytest.mark.parametrize(("condition", "attrs"), [
    ('= approved and request.kind = "permit"', ""),
    ("bpmn:getDataObject('approved') = true()", ' language="http://www.w3.org/1999/XPath"'),
], ids=["feel", "xpath"])
@pytest.mark.parametrize(("approved", "route"), [(True, "yes"), (False, "no")])
def test_feel_and_xpath_conditions_route_the_case(condition, attrs, approved, route):
    xml = _gateway(condition).replace(b"<bpmn:conditionExpression>", f"<bpmn:conditionExpression{attrs}>".encode())
    live, _, _ = make(xml, data={"approved": approved, "request": {"kind": "permit"}})
    assert live.advance().failure is None and live.finished
    assert live.data["route"] == route
