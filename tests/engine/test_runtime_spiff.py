"""The SpiffWorkflow 3.2.0 defects engine.spiff works around: each shown on the library alone, then fixed.

No database here: :class:`engine.spiff.LiveInstance` in memory, its state
parts round-tripped through JSON as ``engine.state_store`` would keep them.
"""

from __future__ import annotations

import itertools
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from SpiffWorkflow.bpmn.script_engine.python_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from bpmn.load import load_bytes, load_path
from bpmn.model import read_model
from engine.clock import VirtualClock
from engine.sandbox import Sandbox
from engine.spiff import LiveInstance, build_specs

DATA = Path(__file__).resolve().parents[1] / "data" / "engine"
NS = ('xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
      'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"')


def doc(body: str, pid: str = "p") -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions {NS} id="d" targetNamespace="t">'
            f'<bpmn:process id="{pid}" isExecutable="true">{body}</bpmn:process></bpmn:definitions>').encode()


class Store:
    """State parts as the database would hold them (JSON in, JSON out)."""

    def __init__(self) -> None:
        self.parts: dict[str, Any] = {}
        self.writes = 0

    def save(self, live: LiveInstance) -> None:
        delta = live.parts()
        for key in delta.removed:
            del self.parts[key]
        for key, value in delta.parts.items():
            value = json.loads(json.dumps(value))
            if self.parts.get(key) != value:
                self.writes += 1
                self.parts[key] = value


_VERSIONS = itertools.count(1)


def make(xml: bytes | Path, *, data: dict[str, Any] | None = None, clock: VirtualClock | None = None,
         name: str = "m.bpmn") -> tuple[LiveInstance, dict[str, Any], VirtualClock]:
    source = load_path(xml)[0] if isinstance(xml, Path) else load_bytes(xml, name)
    built = build_specs(read_model(source))
    assert built.specs is not None, built.diagnostics
    clock = clock or VirtualClock()
    # A fresh version id per model: specs are cached by version id for the process's life (id() of a
    # collected object comes back, and a later model would then run an earlier one's spec).
    live = LiveInstance.start(f"v-{name}-{next(_VERSIONS)}", built.specs, built.processes[0], data=data or {},
                              sandbox=Sandbox(now=clock.now), clock=clock)
    return live, dict(built.specs), clock


def reload(live: LiveInstance, specs: dict[str, Any], store: Store, clock: VirtualClock) -> LiveInstance:
    store.save(live)
    return LiveInstance.restore(live.version_id, specs, live.process_id, store.parts,
                                sandbox=Sandbox(now=clock.now), clock=clock)


def human(live: LiveInstance, element_id: str) -> str:
    (work,) = [h for h in live.snapshot().humans if h.element_id == element_id]
    return work.key


def library_workflow(xml: bytes) -> BpmnWorkflow:
    parser = SpiffBpmnParser()
    parser.add_bpmn_xml(etree.fromstring(xml))
    return BpmnWorkflow(parser.get_spec("p"))


# --- shared nested data between parallel branches ---------------------------------------------

def test_parallel_branches_do_not_share_nested_data():
    xml = (DATA / "parallel_shared_data.bpmn").read_bytes().replace(b'id="Process_parallel"', b'id="p"')
    wf = library_workflow(xml)
    wf.do_engine_steps()
    (wait,) = wf.get_tasks(state=TaskState.READY, manual=True)
    wait.run()
    wf.do_engine_steps()
    assert wf.data["seen_by_b"] == ["x", "a"]  # the library alone: branch a's change leaked into branch b

    live, specs, clock = make(DATA / "parallel_shared_data.bpmn")
    live.advance()
    store = Store()
    live = reload(live, specs, store, clock)
    report = live.complete_human(human(live, "t_wait"), {})
    assert report.failure is None and live.finished
    assert live.data["seen_by_a"] == ["x", "a"]
    assert live.data["seen_by_b"] == ["x"]


# --- the 1000-deep task tree ---------------------------------------------------------------------

LOOP = doc('<bpmn:startEvent id="start"/><bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="submit"/>'
           '<bpmn:userTask id="submit"/><bpmn:sequenceFlow id="f2" sourceRef="submit" targetRef="gw"/>'
           '<bpmn:exclusiveGateway id="gw" default="f4"/>'
           '<bpmn:sequenceFlow id="f3" sourceRef="gw" targetRef="submit">'
           '<bpmn:conditionExpression>again == True</bpmn:conditionExpression></bpmn:sequenceFlow>'
           '<bpmn:sequenceFlow id="f4" sourceRef="gw" targetRef="end"/><bpmn:endEvent id="end"/>')


@pytest.mark.parametrize("data", [
    {"a": {"b": [1, {"c": "پنجره"}]}, "n": None, "f": 2.5},  # plain JSON: copied by json_copy
    {"t": (1, [2]), "d": {"when": __import__("datetime").date(2026, 11, 29)}},  # not: copied in Python
    {"nan": float("nan"), "deep": {"x": [[]]}},
])
def test_copy_data_shares_nothing_and_keeps_every_type(data):
    from engine.spiff import copy_data

    copied = copy_data(data)
    assert copied.keys() == data.keys() and copied is not data
    for key, value in data.items():
        assert type(copied[key]) is type(value)
        if isinstance(value, dict | list):
            assert copied[key] is not value
    assert repr(copied) == repr(data)  # equal, NaN included (NaN != NaN, so compared as text)
    if "a" in data:
        copied["a"]["b"][1]["c"] = "changed"
        assert data["a"]["b"][1]["c"] == "پنجره"
    if "t" in data:
        copied["t"][1].append(3)
        assert data["t"] == (1, [2])


def test_the_library_alone_stops_finding_work_near_500_iterations():
    wf = library_workflow(LOOP)
    wf.do_engine_steps()
    stopped_at = None
    for i in range(700):
        ready = wf.get_tasks(state=TaskState.READY, manual=True)
        if not ready:
            stopped_at = i
            break
        ready[0].data["again"] = True
        ready[0].run()
        wf.do_engine_steps()
    assert stopped_at is not None and 400 < stopped_at < 600
    assert wf.is_completed()  # and it wrongly says so: the loop never ended


def test_pruning_keeps_a_2000_iteration_loop_small_and_correct():
    live, specs, clock = make(LOOP)
    live.advance()
    store = Store()
    sizes = []
    for i in range(2000):
        report = live.complete_human(human(live, "submit"), {"again": i < 1999, "i": i})
        assert report.failure is None
        if i % 250 == 0:
            live = reload(live, specs, store, clock)  # every so often through the stored parts
            snap = live.snapshot()
            sizes.append((snap.size, snap.depth))
        else:
            store.save(live)
    assert live.finished and live.data["i"] == 1999
    assert max(s for s, _ in sizes) <= 10 and max(d for _, d in sizes) <= 3, sizes
    assert len(store.parts) <= 12


# --- service tasks and call_service ------------------------------------------------------------------

SERVICE = doc(
    '<bpmn:startEvent id="start"/><bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="svc"/>'
    '<bpmn:serviceTask id="svc"><bpmn:extensionElements>'
    '<spiffworkflow:serviceTaskOperator id="gsb/tax_registration" resultVariable="tax">'
    '<spiffworkflow:parameters><spiffworkflow:parameter id="national_code" type="str" value="code"/>'
    '</spiffworkflow:parameters></spiffworkflow:serviceTaskOperator></bpmn:extensionElements></bpmn:serviceTask>'
    '<bpmn:boundaryEvent id="svc_error" attachedToRef="svc"><bpmn:errorEventDefinition/></bpmn:boundaryEvent>'
    '<bpmn:sequenceFlow id="f2" sourceRef="svc" targetRef="end"/><bpmn:endEvent id="end"/>'
    '<bpmn:sequenceFlow id="f3" sourceRef="svc_error" targetRef="fallback"/><bpmn:userTask id="fallback"/>'
    '<bpmn:sequenceFlow id="f4" sourceRef="fallback" targetRef="end2"/><bpmn:endEvent id="end2"/>')


def test_the_library_call_service_fails_with_a_name_error():
    wf = library_workflow(SERVICE)
    wf.script_engine = PythonScriptEngine()
    with pytest.raises(Exception) as caught:
        wf.do_engine_steps()
    assert isinstance(caught.value.__context__, NameError) or "script" in str(caught.value)


def test_a_service_task_waits_for_its_job_with_evaluated_parameters():
    live, specs, clock = make(SERVICE, data={"code": "0012345678"})
    assert live.advance().failure is None
    (call,) = live.snapshot().services
    assert (call.element_id, call.operator, call.parameters, call.result_variable) == \
        ("svc", "gsb/tax_registration", {"national_code": "0012345678"}, "tax")
    live = reload(live, specs, Store(), clock)
    report = live.complete_service(call.key, {"registered": True})
    assert report.completed == ("svc", "end") and live.finished
    assert live.data["tax"] == {"registered": True}


def test_a_failed_service_throws_a_bpmn_error_to_its_boundary():
    live, _, _ = make(SERVICE, data={"code": "1"})
    live.advance()
    (call,) = live.snapshot().services
    report = live.throw_error(call.key, "http.503", "the registry is down")
    assert report is not None and report.completed == ("svc_error",)
    assert [h.element_id for h in live.snapshot().humans] == ["fallback"]
    assert live.snapshot().services == ()


def test_an_error_without_a_boundary_is_not_thrown():
    live, _, _ = make(SERVICE.replace(b'<bpmn:errorEventDefinition/>', b'<bpmn:timerEventDefinition>'
                                      b"<bpmn:timeDuration>'PT1H'</bpmn:timeDuration></bpmn:timerEventDefinition>"),
                      data={"code": "1"})
    live.advance()
    (call,) = live.snapshot().services
    assert live.throw_error(call.key, None, "down") is None
    assert len(live.snapshot().services) == 1


# --- parser recursion -------------------------------------------------------------------------------

def chain(n: int) -> bytes:
    steps = "".join(f'<bpmn:scriptTask id="t{i}"><bpmn:script>n = n + 1</bpmn:script></bpmn:scriptTask>'
                    f'<bpmn:sequenceFlow id="g{i}" sourceRef="{"start" if i == 0 else f"t{i - 1}"}" targetRef="t{i}"/>'
                    for i in range(n))
    return doc('<bpmn:startEvent id="start"/>' + steps +
               f'<bpmn:endEvent id="end"/><bpmn:sequenceFlow id="gz" sourceRef="t{n - 1}" targetRef="end"/>')


def test_the_library_parser_recurses_on_a_long_chain():
    parser = SpiffBpmnParser()
    parser.add_bpmn_xml(etree.fromstring(chain(2000)))
    with pytest.raises(Exception) as caught:
        parser.get_spec("p")
    assert "recursion" in repr(caught.value).lower()


def test_a_2000_step_chain_parses():
    built = build_specs(read_model(load_bytes(chain(2000), "chain.bpmn")))
    assert built.specs is not None and built.diagnostics == []
    assert len(built.specs["processes"]["p"]["spec"]["task_specs"]) > 2000


def test_a_1200_step_chain_runs():
    # Predicting 1,200 future tasks in a row recursed once per task in the library (engine.spiff._IterativePredict).
    live, _, _ = make(chain(1200), data={"n": 0})
    report = live.advance()
    assert report.failure is None and live.finished
    assert live.data["n"] == 1200
    assert len(report.completed) == 1202  # start, 1,200 scripts, end


# The bpmn.io pizza example: beside the baking, a customer may ask «where is my pizza?» any number of
# times, each time calmed and then waiting to ask again. Every task on that loop is definite (FUTURE)
# when the workflow is built, and the library's prediction never noticed the loop: it recursed until
# RecursionError (our iterative version, before the fix, ran until memory ran out).
PIZZA = (b'<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions ' + NS.encode() + b' id="d" targetNamespace="t">'
         b'<bpmn:message id="M" name="where"/><bpmn:process id="p" isExecutable="true">'
         b'<bpmn:startEvent id="start"/><bpmn:parallelGateway id="split"/>'
         b'<bpmn:intermediateCatchEvent id="asked"><bpmn:messageEventDefinition messageRef="M"/>'
         b'</bpmn:intermediateCatchEvent>'
         b'<bpmn:scriptTask id="calm"><bpmn:script>calmed = calmed + 1</bpmn:script></bpmn:scriptTask>'
         b'<bpmn:userTask id="bake"/><bpmn:endEvent id="end"><bpmn:terminateEventDefinition/></bpmn:endEvent>'
         b'<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="split"/>'
         b'<bpmn:sequenceFlow id="f2" sourceRef="split" targetRef="asked"/>'
         b'<bpmn:sequenceFlow id="f3" sourceRef="asked" targetRef="calm"/>'
         b'<bpmn:sequenceFlow id="f4" sourceRef="calm" targetRef="asked"/>'
         b'<bpmn:sequenceFlow id="f5" sourceRef="split" targetRef="bake"/>'
         b'<bpmn:sequenceFlow id="f6" sourceRef="bake" targetRef="end"/>'
         b'</bpmn:process></bpmn:definitions>')


def test_the_library_predicts_a_loop_of_definite_tasks_until_recursion_error():
    with pytest.raises(RecursionError):
        library_workflow(PIZZA)


def test_a_loop_of_definite_tasks_is_predicted_once_and_runs():
    live, _, _ = make(PIZZA, data={"calmed": 0})
    assert live.advance().failure is None
    for _ in range(3):
        report = live.deliver("message", "where")
        assert report is not None and report.failure is None
    assert live.task_data(human(live, "bake"))["calmed"] == 0  # its own branch's data
    report = live.complete_human(human(live, "bake"), {})
    assert report.failure is None and live.finished
    assert report.completed[-2:] == ("bake", "end") or list(report.completed[-2:]) == ["bake", "end"]


# --- joins survive pruning ------------------------------------------------------------------------------

def test_a_pending_parallel_join_keeps_its_inputs_through_pruning_and_reloads():
    xml = doc('<bpmn:startEvent id="start"/><bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="split"/>'
              '<bpmn:parallelGateway id="split"/>'
              + "".join(f'<bpmn:sequenceFlow id="s{b}" sourceRef="split" targetRef="u{b}"/><bpmn:userTask id="u{b}"/>'
                        f'<bpmn:sequenceFlow id="j{b}" sourceRef="u{b}" targetRef="join"/>' for b in "abc")
              + '<bpmn:parallelGateway id="join"/><bpmn:sequenceFlow id="fe" sourceRef="join" targetRef="end"/>'
              '<bpmn:endEvent id="end"/>')
    live, specs, clock = make(xml)
    live.advance()
    store = Store()
    for branch in "abc":
        live = reload(live, specs, store, clock)
        live.prune()
        live.complete_human(human(live, f"u{branch}"), {f"from_{branch}": True})
    assert live.finished
    assert {k: live.data[k] for k in ("from_a", "from_b", "from_c")} == {"from_a": True, "from_b": True,
                                                                          "from_c": True}


def test_an_inclusive_join_waits_for_every_taken_branch_through_reloads():
    xml = doc('<bpmn:startEvent id="start"/><bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="split"/>'
              '<bpmn:inclusiveGateway id="split"/>'
              + "".join(f'<bpmn:sequenceFlow id="s{b}" sourceRef="split" targetRef="u{b}">'
                        f'<bpmn:conditionExpression>"{b}" in picks</bpmn:conditionExpression></bpmn:sequenceFlow>'
                        f'<bpmn:userTask id="u{b}"/><bpmn:sequenceFlow id="j{b}" sourceRef="u{b}" targetRef="join"/>'
                        for b in "abc")
              + '<bpmn:inclusiveGateway id="join"/><bpmn:sequenceFlow id="fe" sourceRef="join" targetRef="end"/>'
              '<bpmn:endEvent id="end"/>')
    live, specs, clock = make(xml, data={"picks": "ac"})
    live.advance()
    store = Store()
    assert sorted(h.element_id for h in live.snapshot().humans) == ["ua", "uc"]
    live = reload(live, specs, store, clock)
    live.complete_human(human(live, "ua"), {"a": 1})
    live = reload(live, specs, store, clock)
    assert not live.finished and [h.element_id for h in live.snapshot().humans] == ["uc"]
    live.complete_human(human(live, "uc"), {"c": 1})
    assert live.finished and live.data["a"] == 1 and live.data["c"] == 1


# --- timers read the injected clock ------------------------------------------------------------------------

def test_a_timer_fires_at_its_due_time_by_the_injected_clock():
    xml = doc('<bpmn:startEvent id="start"/><bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait"/>'
              "<bpmn:intermediateCatchEvent id=\"wait\"><bpmn:timerEventDefinition><bpmn:timeDuration>'P2D'"
              '</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>'
              '<bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="end"/><bpmn:endEvent id="end"/>')
    live, specs, clock = make(xml)
    start = clock.now()
    live.advance()
    (timer,) = live.snapshot().timers
    assert timer.due_at == start + timedelta(days=2)
    clock.advance(timedelta(days=2) - timedelta(seconds=1))
    assert live.fire_timers().completed == ()
    clock.set(timer.due_at)
    live = reload(live, specs, Store(), clock)
    assert live.fire_timers().completed == ("wait", "end") and live.finished


# --- only what changed is written --------------------------------------------------------------------------

def test_a_step_writes_a_constant_number_of_parts():
    live, _, _ = make(LOOP)
    live.advance()
    store = Store()
    store.save(live)
    counts = []
    for i in range(60):
        before = store.writes
        live.complete_human(human(live, "submit"), {"again": True, "i": i})
        store.save(live)
        counts.append(store.writes - before)
    assert max(counts[5:]) == min(counts[5:]) <= 10, counts


def test_parts_are_the_registry_s_conversion_and_plain_only_when_they_read_back_equal():
    from engine.jsontext import canonical_bytes, plain_canonical_bytes
    from engine.spiff import _REGISTRY, TASK_PART_PREFIX

    live, _, _ = make(LOOP, data={"odd": (1, 2), "nested": {"ok": [1, None, 2.5]}})
    live.advance()
    delta = live.parts()
    tasks = {TASK_PART_PREFIX + str(t.id): t for _, t in live._all_tasks()}
    checked = 0
    for key, value in delta.parts.items():
        if key in tasks:
            assert value == {**_REGISTRY.convert(tasks[key]), "wf": value["wf"]}
            checked += 1
        if key in delta.plain:
            assert plain_canonical_bytes(value) == canonical_bytes(value)
    assert checked > 1
    # A tuple does not read back as itself: parts holding one are not plain, and are checked when written.
    with_tuple = {k for k, v in delta.parts.items() if "odd" in (v.get("data") or {})}
    assert with_tuple and not with_tuple & delta.plain
    live.complete_human(human(live, "submit"), {"again": True, "pages": 2})
    delta = live.parts()
    assert delta.plain and delta.plain <= delta.parts.keys()
    live.complete_human(human(live, "submit"), {"again": True, "bad": float("nan")})
    delta = live.parts()
    nan_parts = {k for k, v in delta.parts.items() if "bad" in (v.get("data") or {})}
    assert nan_parts and not nan_parts & delta.plain  # a NaN is left to canonical_bytes, which refuses it


def test_data_objects_survive_a_reload():
    xml = doc('<bpmn:dataObject id="DO_permit"/><bpmn:dataObjectReference id="ref" dataObjectRef="DO_permit"/>'
              '<bpmn:startEvent id="start"/><bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="w"/>'
              '<bpmn:scriptTask id="w"><bpmn:dataOutputAssociation><bpmn:targetRef>ref</bpmn:targetRef>'
              '</bpmn:dataOutputAssociation><bpmn:script>DO_permit = "P-17"</bpmn:script></bpmn:scriptTask>'
              '<bpmn:sequenceFlow id="f1" sourceRef="w" targetRef="pause"/><bpmn:userTask id="pause"/>'
              '<bpmn:sequenceFlow id="f2" sourceRef="pause" targetRef="r"/>'
              '<bpmn:scriptTask id="r"><bpmn:dataInputAssociation><bpmn:sourceRef>ref</bpmn:sourceRef>'
              '</bpmn:dataInputAssociation><bpmn:script>seen = DO_permit</bpmn:script></bpmn:scriptTask>'
              '<bpmn:sequenceFlow id="f3" sourceRef="r" targetRef="end"/><bpmn:endEvent id="end"/>')
    live, specs, clock = make(xml)
    live.advance()
    live = reload(live, specs, Store(), clock)
    assert live.complete_human(human(live, "pause"), {}).failure is None
    assert live.finished and live.data["seen"] == "P-17"


# --- a multi-instance input the data does not hold ---------------------------------------------

def _per_item(sequential: bool) -> bytes:
    return doc('<bpmn:startEvent id="s"/><bpmn:scriptTask id="each" name="بررسی هر مدرک">'
               f'<bpmn:multiInstanceLoopCharacteristics isSequential="{str(sequential).lower()}">'
               '<bpmn:loopDataInputRef>documents</bpmn:loopDataInputRef>'
               '<bpmn:inputDataItem id="document" name="document"/></bpmn:multiInstanceLoopCharacteristics>'
               '<bpmn:script>seen = seen + [document]</bpmn:script></bpmn:scriptTask><bpmn:endEvent id="e"/>'
               '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="each"/>'
               '<bpmn:sequenceFlow id="f2" sourceRef="each" targetRef="e"/>')


@pytest.mark.parametrize("sequential", [False, True])
@pytest.mark.parametrize(("data", "said"), [({}, "which the case's data does not hold"),
                                            ({"documents": 3}, "which holds a int, not a list or a map")])
def test_a_multi_instance_input_that_is_not_a_collection_fails_naming_it(sequential, data, said):
    live, _, _ = make(_per_item(sequential), data=data)
    report = live.advance()
    assert report.failure is not None and report.failure.element_id == "each"
    assert report.failure.message == ("the multi-instance activity «بررسی هر مدرک» (each) runs once per item of "
                                      f"'documents', {said}")


def test_a_sequential_multi_instance_keeps_each_item_to_its_own_instance():
    """The library merged an instance's item into the activity, and the next instance then failed."""
    documents = ["شناسنامه", "کارت ملی", "سند"]
    wf = library_workflow(_per_item(True))
    wf.task_tree.data.update(documents=documents, seen=[])
    with pytest.raises(Exception, match="input item document already exists"):
        wf.do_engine_steps()

    live, _, _ = make(_per_item(True), data={"documents": documents, "seen": []})
    assert live.advance().failure is None and live.finished
    assert live.data["seen"] == documents and "document" not in live.data


def test_a_parallel_multi_instance_runs_once_per_item_and_keeps_its_item_local():
    live, _, _ = make(_per_item(False), data={"documents": ["شناسنامه", "کارت ملی"], "seen": []})
    assert live.advance().failure is None and live.finished
    assert live.data["seen"] in (["شناسنامه"], ["کارت ملی"]) and "document" not in live.data


# --- ad-hoc sub-processes ----------------------------------------------------------------------

def _ad_hoc(condition: str) -> bytes:
    return doc('<bpmn:startEvent id="s"/><bpmn:adHocSubProcess id="docs" name="مدارک">'
               '<bpmn:scriptTask id="a"><bpmn:script>first = 1</bpmn:script></bpmn:scriptTask>'
               '<bpmn:userTask id="b" name="بارگذاری"/>'
               + (f"<bpmn:completionCondition>{condition}</bpmn:completionCondition>" if condition else "")
               + '</bpmn:adHocSubProcess><bpmn:endEvent id="e"/>'
               '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="docs"/>'
               '<bpmn:sequenceFlow id="f2" sourceRef="docs" targetRef="e"/>')


@pytest.mark.parametrize("condition", ["", "False"], ids=["no-completion-condition", "a-condition"])
def test_an_ad_hoc_sub_process_ends_when_its_activities_have(condition: str):
    """Its script ends while its user task still waits: the library failed there ("KeyError:
    'data_objects'"), and with no condition at all it evaluated the missing one as code."""
    live, specs, clock = make(_ad_hoc(condition))
    assert live.advance().failure is None and not live.finished
    live = reload(live, specs, Store(), clock)  # the sub-process's spec comes back from JSON as ours
    assert live.complete_human(human(live, "b"), {"uploaded": True}).failure is None and live.finished
    assert (live.data["first"], live.data["uploaded"]) == (1, True) and "data_objects" not in live.data


@pytest.mark.parametrize(("data", "said"), [({}, "data input 'area' («Floor area»)"),
                                            ({"area": 120}, "data output 'fee' («Fee»)")])
def test_a_missing_data_input_or_output_is_named(data: dict, said: str):
    # The library says only "Missing data input" / "Missing data ouput".
    xml = doc('<bpmn:startEvent id="s"/><bpmn:scriptTask id="calc"><bpmn:ioSpecification>'
              '<bpmn:dataInput id="area" name="Floor area"/><bpmn:dataOutput id="fee" name="Fee"/>'
              '<bpmn:inputSet><bpmn:dataInputRefs>area</bpmn:dataInputRefs></bpmn:inputSet>'
              '<bpmn:outputSet><bpmn:dataOutputRefs>fee</bpmn:dataOutputRefs></bpmn:outputSet>'
              '</bpmn:ioSpecification><bpmn:script>x = 1</bpmn:script></bpmn:scriptTask><bpmn:endEvent id="e"/>'
              '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="calc"/>'
              '<bpmn:sequenceFlow id="f2" sourceRef="calc" targetRef="e"/>')
    live, _, _ = make(xml, data=data)
    failure = live.advance().failure
    assert failure is not None and failure.element_id == "calc" and said in failure.message
