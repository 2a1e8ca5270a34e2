"""Every piece of code in a model is checked statically, with the element and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bpmn.errors import LoadError
from bpmn.load import load_bytes, load_path
from bpmn.model import read_model
from engine.scriptcheck import check_model_scripts

NS = ('xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
      'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
      'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
      'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"')


def _model(body: str):
    xml = f'<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions {NS} id="d" targetNamespace="t">\n' \
          f'<bpmn:process id="p" isExecutable="true">\n{body}\n</bpmn:process>\n</bpmn:definitions>\n'
    return read_model(load_bytes(xml.encode(), "test.bpmn"))


def _line_of(model, needle: str) -> int:
    text = model.source.data.decode()
    return text[: text.index(needle)].count("\n") + 1


def _codes(diags) -> list[tuple[str, str, str | None]]:
    return [(d.severity, d.code, d.element_id) for d in diags]


def test_a_forbidden_script_names_the_task_and_the_line():
    model = _model('''<bpmn:scriptTask id="t_fee" name="Compute fee" scriptFormat="python">
  <bpmn:script>
    fee = 100
    import os
    total = fee * 2
  </bpmn:script>
</bpmn:scriptTask>''')
    [d] = check_model_scripts(model)
    assert (d.severity, d.code, d.element_id) == ("error", "script.forbidden", "t_fee")
    assert d.line == _line_of(model, "import os")
    assert "import" in d.message and "'Compute fee' (t_fee)" in d.message


def test_every_problem_of_a_script_is_reported_at_its_line():
    model = _model('''<bpmn:scriptTask id="t"><bpmn:script>a = x.__class__
b = 1
c = eval('1')</bpmn:script></bpmn:scriptTask>''')
    diags = check_model_scripts(model)
    assert [d.line for d in diags] == [_line_of(model, "a = x"), _line_of(model, "c = eval")]


def test_syntax_errors_in_conditions():
    model = _model('''<bpmn:sequenceFlow id="f1" sourceRef="a" targetRef="b">
  <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">priority = 'high'</bpmn:conditionExpression>
</bpmn:sequenceFlow>''')
    [d] = check_model_scripts(model)
    assert _codes([d]) == [("error", "script.syntax", "f1")]
    assert d.line == _line_of(model, "priority")


@pytest.mark.parametrize(("condition", "attrs", "code"), [
    ("${approved ? 1 : 2}", "", "script.language"),
    ("#{amount.compareTo(10) > 0}", "", "script.language"),
    ("= some x in xs satisfies x > 1", "", "script.language"),
    ("count(//item) &gt; 1", 'language="http://www.w3.org/1999/XPath"', "script.language"),
    ("approved == true", 'language="groovy"', "script.language"),
    ("amount.compareTo(10) > 0", "", "script.forbidden"),
])
def test_conditions_in_other_languages(condition: str, attrs: str, code: str):
    model = _model(f'''<bpmn:sequenceFlow id="f1" sourceRef="a" targetRef="b">
  <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression" {attrs}>{condition}</bpmn:conditionExpression>
</bpmn:sequenceFlow>''')
    assert _codes(check_model_scripts(model)) == [("error", code, "f1")]


@pytest.mark.parametrize("condition", ["${approved}", "#{amount &gt; 10 &amp;&amp; !urgent}", "${status.equals('OK')}",
                                       '= status = "OK"'])
def test_simple_camunda_conditions_are_checked_as_the_python_they_become(condition: str):
    model = _model(f'''<bpmn:sequenceFlow id="f1" sourceRef="a" targetRef="b">
  <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{condition}</bpmn:conditionExpression>
</bpmn:sequenceFlow>''')
    assert check_model_scripts(model) == []


def test_a_camunda_condition_the_engine_does_not_translate_says_what_it_translates():
    model = _model('''<bpmn:sequenceFlow id="f1" sourceRef="a" targetRef="b">
  <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">${empty documents}</bpmn:conditionExpression>
</bpmn:sequenceFlow>''')
    [d] = check_model_scripts(model)
    assert _codes([d]) == [("error", "script.language", "f1")]
    assert "JUEL expression" in d.message and "does not translate" in d.message
    assert d.line == _line_of(model, "empty documents")


def test_a_conditional_event_without_a_condition_is_an_error_and_an_empty_flow_condition_is_not():
    # The engine failed the instance at the event with "the code is not text".
    model = _model('''<bpmn:intermediateCatchEvent id="wait" name="Paid">
  <bpmn:conditionalEventDefinition><bpmn:condition xsi:type="bpmn:tFormalExpression"/></bpmn:conditionalEventDefinition>
</bpmn:intermediateCatchEvent>
<bpmn:sequenceFlow id="f1" sourceRef="a" targetRef="b"><bpmn:conditionExpression/></bpmn:sequenceFlow>''')
    [d] = check_model_scripts(model)
    assert _codes([d]) == [("error", "script.empty_condition", "wait")]
    assert "intermediate catch event 'Paid' (wait)" in d.message and "never fire" in d.message
    assert d.line == _line_of(model, "<bpmn:condition ")


def test_python_conditions_pass():
    model = _model('''<bpmn:sequenceFlow id="f1" sourceRef="a" targetRef="b">
  <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression" language="python">
    gender == "male" and age &gt;= 18
  </bpmn:conditionExpression>
</bpmn:sequenceFlow>''')
    assert check_model_scripts(model) == []


@pytest.mark.parametrize(("kind", "text", "code"), [
    ("timeDuration", "PT1H", None),                 # bare ISO 8601, as tools write it: quoted by engine.prepare
    ("timeCycle", "R3/PT10M", None),
    ("timeDate", "2036-11-14T11:12:22", None),
    ("timeDuration", "P500Y", "script.timer"),       # quoted, then too long
    ("timeCycle", "0 0/5 * * * ?", "script.timer"),
    ("timeDuration", "'P500Y'", "script.timer"),
    ("timeDuration", "${duration}", None),           # simple JUEL: the variable
    ("timeDuration", "${dates.next()}", "script.language"),
    ("timeDuration", "__import__('os')", "script.forbidden"),
    ("timeDuration", "'PT1H'", None),
    ("timeDuration", "duration(days=3)", None),
    ("timeDate", "add_days(today(), deadline_days)", None),
])
def test_timer_expressions_are_python(kind: str, text: str, code: str | None):
    model = _model(f'''<bpmn:boundaryEvent id="timer" name="late" attachedToRef="t">
  <bpmn:timerEventDefinition id="td"><bpmn:{kind}>{text}</bpmn:{kind}></bpmn:timerEventDefinition>
</bpmn:boundaryEvent>''')
    diags = check_model_scripts(model)
    assert [(d.code, d.element_id) for d in diags] == ([] if code is None else [(code, "timer")])


def test_multi_instance_expressions_and_references():
    model = _model('''<bpmn:userTask id="review" name="Review">
  <bpmn:multiInstanceLoopCharacteristics>
    <bpmn:loopCardinality>len(open(x))</bpmn:loopCardinality>
    <bpmn:completionCondition>done == True</bpmn:completionCondition>
  </bpmn:multiInstanceLoopCharacteristics>
</bpmn:userTask>
<bpmn:userTask id="each">
  <bpmn:multiInstanceLoopCharacteristics isSequential="true">
    <bpmn:loopDataInputRef>${collection}</bpmn:loopDataInputRef>
    <bpmn:completionCondition>1 +</bpmn:completionCondition>
  </bpmn:multiInstanceLoopCharacteristics>
</bpmn:userTask>
<bpmn:task id="loop"><bpmn:standardLoopCharacteristics><bpmn:loopCondition>x.y</bpmn:loopCondition>
</bpmn:standardLoopCharacteristics></bpmn:task>''')
    assert _codes(check_model_scripts(model)) == [
        ("error", "script.forbidden", "review"),
        ("warning", "script.reference", "each"),
        ("error", "script.syntax", "each"),
        ("error", "script.forbidden", "loop"),
    ]


def test_spiffworkflow_extensions():
    model = _model('''<bpmn:serviceTask id="inq" name="Inquiry">
  <bpmn:extensionElements>
    <spiffworkflow:preScript>ok = True</spiffworkflow:preScript>
    <spiffworkflow:postScript>import sys</spiffworkflow:postScript>
    <spiffworkflow:instructionsForEndUser>{{ x.__class__ }} is Jinja</spiffworkflow:instructionsForEndUser>
    <spiffworkflow:serviceTaskOperator id="registry/person" resultVariable="person">
      <spiffworkflow:parameters>
        <spiffworkflow:parameter id="national_code" type="str" value="national_code"/>
        <spiffworkflow:parameter id="evil" type="str" value="().__class__"/>
      </spiffworkflow:parameters>
    </spiffworkflow:serviceTaskOperator>
  </bpmn:extensionElements>
</bpmn:serviceTask>''')
    diags = check_model_scripts(model)
    assert _codes(diags) == [("error", "script.forbidden", "inq"), ("error", "script.forbidden", "inq")]
    assert [d.line for d in diags] == [_line_of(model, "import sys"), _line_of(model, 'id="evil"')]
    assert "pre" not in diags[0].message and "post-script" in diags[0].message
    assert "parameter 'evil'" in diags[1].message


def test_script_languages():
    model = _model('''<bpmn:scriptTask id="js" scriptFormat="javascript"><bpmn:script>x = 1;</bpmn:script>
</bpmn:scriptTask>
<bpmn:scriptTask id="py" scriptFormat="Python"><bpmn:script>x = 1</bpmn:script></bpmn:scriptTask>
<bpmn:scriptTask id="empty"/>''')
    assert _codes(check_model_scripts(model)) == [("error", "script.language", "js")]


def test_camunda_scripts_are_warnings():
    model = _model('''<bpmn:task id="t" name="T">
  <bpmn:extensionElements>
    <camunda:inputOutput>
      <camunda:inputParameter name="a"><camunda:script scriptFormat="groovy">x + 1</camunda:script>
      </camunda:inputParameter>
      <camunda:inputParameter name="b"><camunda:script scriptFormat="python">import os</camunda:script>
      </camunda:inputParameter>
      <camunda:inputParameter name="c"><camunda:script scriptFormat="groovy" resource="x.groovy"/>
      </camunda:inputParameter>
    </camunda:inputOutput>
  </bpmn:extensionElements>
</bpmn:task>''')
    assert _codes(check_model_scripts(model)) == [
        ("warning", "script.language", "t"),
        ("warning", "script.forbidden", "t"),
        ("warning", "script.language", "t"),
    ]


def test_the_sample_models_have_no_script_errors(samples: list[Path]):
    assert len(samples) == 8
    for path in samples:
        [source] = load_path(path)
        diags = check_model_scripts(read_model(source))
        assert [d for d in diags if d.severity == "error"] == [], path.name


@pytest.mark.corpus
def test_every_corpus_model_is_checked_without_exceptions(shared: Path):
    checked = 0
    for path in sorted((shared / "corpus").rglob("*.bpmn*")):
        try:
            sources = load_path(path)
        except LoadError:
            continue
        for source in sources:
            for d in check_model_scripts(read_model(source)):
                assert d.code.startswith("script.") and d.message, (source.name, d)
                assert d.line is None or d.line > 0, (source.name, d)
            checked += 1
    assert checked > 3000
