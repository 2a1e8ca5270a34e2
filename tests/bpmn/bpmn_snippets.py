"""Small hand-written BPMN documents for the validation and executability tests."""

from __future__ import annotations

from bpmn.load import load_bytes
from bpmn.model import Model, read_model

HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"\n'
    '    xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"\n'
    '    xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"\n'
    '    xmlns:di="http://www.omg.org/spec/DD/20100524/DI"\n'
    '    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"\n'
    '    id="defs" targetNamespace="http://example.org/test">\n'
)
TAIL = "</definitions>\n"

# start -> «Check the deed» -> end, every flow on its own line.
CHAIN = """\
<startEvent id="start" name="Request received"/>
<task id="check" name="Check the deed"/>
<endEvent id="end" name="Done"/>
<sequenceFlow id="f1" sourceRef="start" targetRef="check"/>
<sequenceFlow id="f2" sourceRef="check" targetRef="end"/>
"""


def process(body: str, *, executable: bool = True, pid: str = "p", name: str = "Licence") -> str:
    """A ``<process>`` element around ``body``."""
    flag = "true" if executable else "false"
    return f'<process id="{pid}" name="{name}" isExecutable="{flag}">\n{body}</process>\n'


def document(*parts: str) -> str:
    """A whole BPMN document from its root elements."""
    return HEAD + "".join(parts) + TAIL


def model_of(xml: str, name: str = "test.bpmn") -> Model:
    """The typed model of a document held in a string."""
    return read_model(load_bytes(xml.encode("utf-8"), name))


def line_of(xml: str, needle: str) -> int:
    """The 1-based line of the first occurrence of ``needle``."""
    return xml.count("\n", 0, xml.index(needle)) + 1
