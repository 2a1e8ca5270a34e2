"""The once-only redesign: valid, executable, honest change log, nothing else touched."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import jsonschema
import pytest
from lxml import etree

from bpmn.catalog import default_catalog
from bpmn.detect import detect
from bpmn.errors import CatalogError, LoadError
from bpmn.inquiryplan import FlowGraph
from bpmn.load import BPMN_NS, CAMUNDA_NS, SPIFF_NS, iter_model_paths, load_path
from bpmn.model import read_model
from bpmn.redesign import PAPER_KIND, Choices, redesign
from bpmn.redesign_rules import Rule, default_rules, load_rules
from bpmn.validate import validate
from engine.spiff import check_executable
from tests.bpmn.redesign_support import (
    ALL_MODELS,
    OWN_MODELS,
    SAMPLES,
    SHARED,
    bpmn_ids,
    c14n,
    hand_findings,
    outcome,
    role,
    run,
)

SCHEMA = json.loads((SHARED / "contracts" / "redesign.schema.json").read_text())
IDS = [p.stem for p in ALL_MODELS]


def _diag_keys(model):
    return Counter((d.severity, d.code, d.element_id) for d in validate(model))


@pytest.mark.parametrize("path", ALL_MODELS, ids=IDS)
def test_redesigned_model_is_schema_valid_and_structurally_clean(path: Path):
    o = outcome(path)
    assert o.result.changed, "every test model has a replaceable paper step"
    new = _diag_keys(o.new_model) - _diag_keys(o.model)
    assert not new, f"the redesign introduced diagnostics: {sorted(new)}"
    assert not [d for d in validate(o.new_model) if d.code.startswith("xsd")]


@pytest.mark.parametrize("path", ALL_MODELS, ids=IDS)
def test_redesigned_model_builds_an_executable_spec(path: Path):
    o = outcome(path)
    before = check_executable(o.model).processes
    after = check_executable(o.new_model)
    assert before and all(before.values()), "the test models are executable to begin with"
    assert after.processes == before, [d.message for d in after.diagnostics]


@pytest.mark.parametrize("path", ALL_MODELS, ids=IDS)
def test_no_replaceable_paper_step_is_left_but_marked_fallbacks(path: Path):
    o = outcome(path)
    left = []
    fallbacks = 0
    for f in detect(o.new_model):
        if f.kind != PAPER_KIND or not f.replaceable:
            continue
        if role(o.new_model.node(f.element_id).element) == "inquiry_fallback":
            fallbacks += 1
            continue
        left.append((f.element_id, f.name, [d.id for d in f.documents if d.replaceable]))
    assert not left
    # the upload fallbacks are paper steps by design, and marked so
    uploads = [n for p in o.new_model.processes for n in p.nodes.values()
               if role(n.element) == "inquiry_fallback" and n.element.get(f"{{{'https://panjereh.ir/schema/bpmn/1'}}}fallback") == "upload"]
    assert fallbacks <= len([n for p in o.new_model.processes for n in p.nodes.values()
                             if role(n.element) == "inquiry_fallback"])
    assert all(n.form is not None and n.form.file_fields for n in uploads)


@pytest.mark.parametrize("path", ALL_MODELS, ids=IDS)
def test_change_log_validates_and_matches_the_model(path: Path):
    o = outcome(path)
    log = o.result.change_log_json(str(path), "out.bpmn")
    jsonschema.validate(log, SCHEMA)
    old_ids, new_ids = bpmn_ids(o.model.source.root), bpmn_ids(o.new_model.source.root)
    fields = {f.id for p in o.new_model.processes for n in p.nodes.values() if n.form for f in n.form.fields}
    added = [a for c in o.result.changes for a in c.added]
    assert len(added) == len(set(added)), "each added id belongs to exactly one change"
    for change in o.result.changes:
        for a in change.added:
            if change.action == "add_identifier_fields":
                assert a in fields
            else:
                assert a in new_ids and a not in old_ids, (change.action, a)
                assert role(new_ids[a]) is not None
        for r in change.removed:
            if change.action == "remove_upload_fields":
                node = o.new_model.node(change.element_id)
                assert r not in {f.id for f in node.form.fields}
            else:
                assert r in old_ids and r not in new_ids, (change.action, r)
    # every element the redesign added is claimed by a change (flows and nodes alike)
    marked = {i for i, el in new_ids.items() if i not in old_ids and role(el) is not None}
    assert marked == {a for c in o.result.changes if c.action != "add_identifier_fields" for a in c.added}
    main = [c for c in o.result.changes if c.action in ("replace_with_inquiry", "add_inquiry_before")]
    assert log["summary"]["steps_replaced"] == len(main)
    assert log["summary"]["documents_eliminated"] == sum(len(c.documents) for c in main)
    assert all(c.reason and c.element_id in old_ids for c in o.result.changes)


@pytest.mark.parametrize("path", ALL_MODELS, ids=IDS)
def test_each_inquiry_has_operator_boundaries_fallback_and_merge(path: Path):
    o = outcome(path)
    spiff = f"{{{SPIFF_NS}}}"
    nodes = {n.id: n for p in o.new_model.processes for n in p.nodes.values()}
    flows = {f.id: f for p in o.new_model.processes for f in p.flows.values()}
    inquiries = [n for n in nodes.values() if role(n.element) == "inquiry"]
    assert inquiries
    for inq in inquiries:
        assert inq.tag == "serviceTask"
        op = inq.element.find(f"{{{BPMN_NS}}}extensionElements/{spiff}serviceTaskOperator")
        service = inq.element.get("{https://panjereh.ir/schema/bpmn/1}service")
        party = inq.element.get("{https://panjereh.ir/schema/bpmn/1}party")
        result = f"inq_{service}" if party is None else f"inq_{service}_{party}"
        assert op.get("id") == f"inquiry/{service}" and op.get("resultVariable") == result
        assert service in default_catalog().services
        params = op.findall(f"{spiff}parameters/{spiff}parameter")
        needed = [ref for ref in default_catalog().services[service].inputs if not ref.optional]
        assert len(params) >= len(needed)
        boundaries = [n for n in nodes.values() if n.attached_to == inq.id]
        assert sorted(b.event_definitions for b in boundaries) == [("errorEventDefinition",),
                                                                    ("timerEventDefinition",)]
        timer = next(b for b in boundaries if b.event_definitions == ("timerEventDefinition",))
        duration = timer.element.find(f".//{{{BPMN_NS}}}timeDuration").text
        assert duration.startswith("'PT") and duration.endswith("'")
        # both boundary events reach the fallback, which rejoins the inquiry's merge gateway
        targets = {flows[b.outgoing[0]].target for b in boundaries}
        assert len(targets) == 1
        join = nodes[targets.pop()]
        fallback = nodes[flows[join.outgoing[0]].target]
        assert role(fallback.element) == "inquiry_fallback" and fallback.tag == "userTask"
        merge = nodes[flows[fallback.outgoing[0]].target]
        assert merge.tag == "exclusiveGateway" and role(merge.element) == "inquiry_merge"
        assert flows[inq.outgoing[0]].target == merge.id


@pytest.mark.parametrize("path", ALL_MODELS, ids=IDS)
def test_inquiry_parameters_are_set_on_every_path_before_the_inquiry(path: Path):
    o = outcome(path)
    graph = FlowGraph(o.new_model)
    spiff = f"{{{SPIFF_NS}}}"
    for proc in o.new_model.processes:
        for inq in (n for n in proc.nodes.values() if role(n.element) == "inquiry"):
            before = {f.id for d in graph.dominators(proc, inq) if d.form for f in d.form.fields}
            for par in inq.element.iter(f"{spiff}parameter"):
                variable = par.get("value").split("[")[0]
                assert variable in before, (inq.id, par.get("id"), par.get("value"))


@pytest.mark.parametrize("path", ALL_MODELS, ids=IDS)
def test_untouched_elements_are_identical_after_canonicalisation(path: Path):
    o = outcome(path)
    old, new = bpmn_ids(o.model.source.root), bpmn_ids(o.new_model.source.root)
    changed = {c.element_id for c in o.result.changes if c.action in (
        "add_inquiry_before", "remove_upload_fields", "rename_step", "rewrite_documentation", "remove_data_objects")}
    # the steps whose forms got identifier fields, the flows that were rewired, and containers of new elements
    for c in o.result.changes:
        if c.action == "add_identifier_fields":
            changed |= {i for i, el in new.items()
                        if el.find(f".//{{{CAMUNDA_NS}}}formField[@id='{c.added[0]}']") is not None
                        or any(p.get("value", "").endswith(".once-schema.json")
                               for p in el.iter(f"{{{SPIFF_NS}}}property"))}
    for i, el in old.items():
        if i in new and etree.QName(el).localname == "sequenceFlow" and (
                el.get("sourceRef") != new[i].get("sourceRef") or el.get("targetRef") != new[i].get("targetRef")):
            changed.add(i)
    containers = {"process", "subProcess", "laneSet", "lane", "collaboration", "definitions", "childLaneSet"}
    compared = 0
    for i, el in old.items():
        if i not in new or i in changed or etree.QName(el).localname in containers:
            continue
        assert c14n(el) == c14n(new[i]), i
        compared += 1
    assert compared >= 5
    # comments survive wherever they were
    assert sum(1 for _ in o.new_source.root.iter(etree.Comment)) >= sum(1 for _ in o.source.root.iter(etree.Comment))


def test_comments_and_foreign_extensions_survive():
    o = outcome(OWN_MODELS / "single_document.bpmn")
    data = o.result.data
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<!-- hand-made test model: keep this comment -->')
    assert b"<!-- a comment inside the process -->" in data
    audit = o.new_source.root.find(".//{https://acme.example/bpmn}audit")
    assert audit is not None and audit.text == "keep me" and audit.get("level") == "high"


def test_nothing_to_change_comes_back_byte_identical():
    path = OWN_MODELS / "single_document.bpmn"
    source = load_path(path)[0]
    model = read_model(source)
    assert redesign(model, []).data is source.data
    findings = detect(model)
    unselected = redesign(model, findings, Choices(only=frozenset({"t_review"})))
    assert unselected.data is source.data and not unselected.changed and not unselected.files
    non_replaceable = hand_findings(model, {"t_card": {"medical_certificate": False}})
    kept = redesign(model, non_replaceable)
    assert kept.data is source.data and kept.kept == ("t_card",)


@pytest.mark.parametrize("path", SAMPLES, ids=[p.stem for p in SAMPLES])
def test_each_change_alone_gives_a_valid_executable_model(path: Path):
    base = outcome(path)
    ids = sorted({f.element_id for f in base.findings if f.kind == PAPER_KIND and f.replaceable})
    assert ids
    before = _diag_keys(base.model)
    for element_id in ids:
        o = run(path, Choices(only=frozenset({element_id})))
        assert {c.element_id for c in o.result.changes} == {element_id}
        assert not (_diag_keys(o.new_model) - before), element_id
        assert all(check_executable(o.new_model).processes.values()), element_id
        still = [f.element_id for f in detect(o.new_model) if f.kind == PAPER_KIND and f.replaceable
                 and role(o.new_model.node(f.element_id).element) != "inquiry_fallback"]
        assert element_id not in still
        assert set(still) == set(ids) - {element_id}


@pytest.mark.parametrize("path", [SAMPLES[1], OWN_MODELS / "several_documents.bpmn"], ids=lambda p: p.stem)
def test_parallel_off_runs_inquiries_one_after_the_other(path: Path):
    o = run(path, Choices(parallel=False))
    tags = Counter(n.tag for p in o.new_model.processes for n in p.nodes.values() if role(n.element))
    assert tags["parallelGateway"] == 0
    assert not [c for c in o.result.changes if c.action == "parallelise"]
    assert all(check_executable(o.new_model).processes.values())
    assert not (_diag_keys(o.new_model) - _diag_keys(o.model))


def test_several_documents_of_one_step_run_in_parallel():
    o = outcome(OWN_MODELS / "several_documents.bpmn")
    nodes = {n.id: n for p in o.new_model.processes for n in p.nodes.values()}
    split = next(n for n in nodes.values() if role(n.element) == "parallel_split")
    join = next(n for n in nodes.values() if role(n.element) == "parallel_join")
    flows = {f.id: f for p in o.new_model.processes for f in p.flows.values()}
    branch_services = sorted(nodes[flows[f].target].element.get("{https://panjereh.ir/schema/bpmn/1}service")
                             for f in split.outgoing)
    assert branch_services == ["conscription_status", "nocr_identity"]
    assert len(join.incoming) == 2
    change = next(c for c in o.result.changes if c.action == "parallelise")
    assert set(change.added) >= {split.id, join.id}


def test_consecutive_replaced_steps_share_one_parallel_block_and_lose_their_message_flows():
    o = outcome(OWN_MODELS / "message_flows_en.bpmn")
    roles = Counter(role(n.element) for p in o.new_model.processes for n in p.nodes.values())
    assert roles["parallel_split"] == 1 and roles["inquiry"] == 2
    assert {mf.id for mf in o.new_model.message_flows} == set()
    removed = {r for c in o.result.changes for r in c.removed}
    assert {"t_birth", "t_mil", "Msg_birth", "Msg_mil", "Flow_3"} <= removed
    assert o.new_model.node("t_birth") is None and o.new_model.node("t_mil") is None


def test_missing_identifier_is_added_to_the_earlier_registration_form():
    o = outcome(OWN_MODELS / "several_documents.bpmn")
    reg = o.new_model.node("t_reg")
    assert [f.id for f in reg.form.fields] == ["national_code", "birth_date"]
    assert not reg.form.fields[1].is_file and reg.form.fields[1].required
    change = next(c for c in o.result.changes if c.action == "add_identifier_fields")
    assert change.added == ("birth_date",) and "t_reg" in change.reason


def test_spiff_forms_are_edited_as_new_files_and_originals_stay():
    path = OWN_MODELS / "partly_replaceable.bpmn"
    o = outcome(path)
    up = o.new_model.node("t_up")
    assert up.form.ref == "partly_replaceable.t_up.once-schema.json"
    assert [f.id for f in up.form.fields] == ["addiction_cert", "note"]
    assert up.name == "ارائه گواهی عدم اعتیاد و تکمیل توضیحات"
    original = json.loads((path.parent / "partly_replaceable.t_up-schema.json").read_text())
    assert "card_scan" in original["properties"]
    edited = json.loads(o.result.files[up.form.ref])
    assert "card_scan" not in edited["properties"] and "card_scan" not in edited["required"]
    assert set(o.result.files) & {p.name for p in path.parent.iterdir()} == set()
    kept = next(c for c in o.result.changes if c.action == "keep_documents")
    assert kept.documents == ("medical_certificate",) and o.result.kept == ("t_up",)
    fallback = next(n for p in o.new_model.processes for n in p.nodes.values() if role(n.element) == "inquiry_fallback")
    assert fallback.form.style == "spiff" and fallback.form.ref in o.result.files


def test_consent_rule_adds_a_consent_task_whose_refusal_takes_the_fallback():
    o = outcome(OWN_MODELS / "applicant_manual_task.bpmn")
    nodes = {n.id: n for p in o.new_model.processes for n in p.nodes.values()}
    flows = {f.id: f for p in o.new_model.processes for f in p.flows.values()}
    consent = next(n for n in nodes.values() if role(n.element) == "consent")
    assert consent.tag == "userTask" and consent.lane_id == "Lane_A"
    gate = nodes[flows[consent.outgoing[0]].target]
    assert role(gate.element) == "consent_gateway"
    yes = next(flows[f] for f in gate.outgoing if flows[f].condition)
    no = flows[gate.default_flow]
    assert yes.condition == "consent_judiciary_criminal_record == True"
    assert role(nodes[yes.target].element) == "inquiry"
    assert role(nodes[no.target].element) == "fallback_join"
    fallback = next(n for n in nodes.values() if role(n.element) == "inquiry_fallback")
    assert fallback.lane_id == "Lane_A" and fallback.form.file_fields   # criminal record: the applicant uploads
    timer = next(n for n in nodes.values() if role(n.element) == "inquiry_timeout")
    assert timer.element.find(f".//{{{BPMN_NS}}}timeDuration").text == "'PT10M'"


def test_clerk_fallback_goes_to_the_agency_lane():
    o = outcome(OWN_MODELS / "several_documents.bpmn")
    lanes = {n.element.get("{https://panjereh.ir/schema/bpmn/1}service"): n.lane_id
             for p in o.new_model.processes for n in p.nodes.values() if role(n.element) == "inquiry_fallback"}
    assert lanes == {"nocr_identity": "Lane_C", "conscription_status": "Lane_A"}


def test_data_objects_of_replaced_papers_leave_and_the_clerk_step_stays():
    o = outcome(OWN_MODELS / "data_objects.bpmn")
    proc = o.new_model.processes[0]
    assert "Doc_ids" not in proc.data and "Doc_bill" not in proc.data
    step = o.new_model.node("t_file")
    assert step is not None and not step.data_inputs
    main = next(c for c in o.result.changes if c.action == "add_inquiry_before")
    assert main.element_id == "t_file" and "شماره پرونده" in main.reason   # why it stays: its own field
    removed = next(c for c in o.result.changes if c.action == "remove_data_objects").removed
    assert set(removed) >= {"DIA_Doc_ids", "DIA_Doc_bill", "Doc_ids", "Doc_bill", "DO_Doc_ids", "DO_Doc_bill"}


def test_documentation_demand_is_rewritten_and_the_kept_paper_named():
    o = outcome(OWN_MODELS / "documentation_only.bpmn")
    visit = o.new_model.node("t_visit")
    assert "کارت ملی" not in visit.documentation
    assert "مدارک لازم: گواهی عدم اعتیاد." in visit.documentation
    assert "ده دقیقه زودتر" in visit.documentation
    assert o.result.kept == ("t_visit",)
    assert next(c for c in o.result.changes if c.action == "rewrite_documentation").documents == ("national_card",)


def test_fallback_and_timeout_choices_override_the_rules():
    path = OWN_MODELS / "several_documents.bpmn"
    o = run(path, Choices(fallback={"shenasnameh": "upload"}, timeout="PT30S"))
    fallbacks = {n.element.get("{https://panjereh.ir/schema/bpmn/1}service"): n
                 for p in o.new_model.processes for n in p.nodes.values() if role(n.element) == "inquiry_fallback"}
    assert fallbacks["nocr_identity"].form.file_fields
    assert fallbacks["nocr_identity"].lane_id == "Lane_A"
    durations = {el.text for el in o.new_source.root.iter(f"{{{BPMN_NS}}}timeDuration")}
    assert durations == {"'PT30S'"}
    with pytest.raises(ValueError, match="ISO 8601"):
        Choices(timeout="2 minutes")
    with pytest.raises(ValueError, match="fallback"):
        Choices(fallback={"shenasnameh": "fax"})


def test_rules_table_loads_and_rejects_mistakes(tmp_path: Path):
    rules = default_rules()
    assert rules.documents["criminal_record_certificate"] == Rule("upload", True, False, "PT10M")
    assert rules.for_documents(["shenasnameh", "military_service_status"]).fallback == "clerk"
    assert rules.for_documents(["university_degree", "school_diploma"]) == Rule("upload", False, False, "PT5M")
    load_rules(catalog=default_catalog())   # every document named is in the catalog
    bad = tmp_path / "rules.yaml"
    bad.write_text("defaults: {fallback: clerk, timeout: PT2M}\ndocuments:\n  shenasnameh: {fallback: fax}\n")
    with pytest.raises(CatalogError, match="fallback must be one of"):
        load_rules(bad)
    bad.write_text("defaults: {timeout: soon}\n")
    with pytest.raises(CatalogError, match="ISO 8601"):
        load_rules(bad)
    bad.write_text("defaults: {}\ndocuments:\n  no_such_paper: {}\n")
    with pytest.raises(CatalogError, match="not a document of the catalog"):
        load_rules(bad, default_catalog())


def test_camunda_upload_fields_leave_a_kept_step_form():
    path = SHARED / "samples" / "models" / "degree_verification_hiring.bpmn"
    o = outcome(path)
    upload = o.new_model.node("t_upload")
    assert [f.id for f in upload.form.fields] == ["degree_code"]
    change = next(c for c in o.result.changes if c.action == "remove_upload_fields")
    assert set(change.removed) == {"national_card_scan", "birth_certificate_scan", "degree_scan"}
    assert not o.result.files   # formData lives in the model itself


@pytest.mark.corpus
def test_redesign_never_crashes_over_the_corpus(capsys):
    corpus = SHARED / "corpus"
    counts: Counter[str] = Counter()
    for path in iter_model_paths(corpus):
        try:
            sources = load_path(path)
        except LoadError:
            counts["refused by the loader"] += 1
            continue
        for source in sources:
            model = read_model(source)
            findings = detect(model)
            result = redesign(model, findings)
            counts["models"] += 1
            if not result.changed:
                assert result.data is source.data, path
                counts["unchanged, byte-identical"] += 1
                continue
            counts["redesigned"] += 1
            new_model = read_model(result.as_source(source))
            new = _diag_keys(new_model) - _diag_keys(model)
            assert not [k for k in new if k[0] == "error"], (path, sorted(new))
            counts["paper steps redesigned"] += result.steps_replaced
    with capsys.disabled():
        print(f"\nredesign over the corpus (detected findings): {dict(counts)}")
    assert counts["models"] > 3000
    assert counts["unchanged, byte-identical"] + counts["redesigned"] == counts["models"]


@pytest.mark.corpus
def test_redesign_of_planted_paper_steps_over_the_corpus(capsys):
    """The corpus has no Persian paper steps, so plant some: real models of every shape get rewritten.

    In each model up to two plain activities (task, user, manual, receive) are
    declared to ask for the national card. The redesign must not crash, must
    add no error, and whatever the engine could build before it must still build.
    """
    counts: Counter[str] = Counter()
    for path in iter_model_paths(SHARED / "corpus"):
        try:
            sources = load_path(path)
        except LoadError:
            continue
        for source in sources:
            model = read_model(source)
            steps = [n.id for p in model.processes for n in p.activities
                     if n.id and n.tag in ("task", "userTask", "manualTask", "receiveTask")][:2]
            if not steps:
                counts["no plain activity"] += 1
                continue
            findings = hand_findings(model, {s: {"national_card": True} for s in steps})
            result = redesign(model, findings)
            skipped = [c for c in result.changes if c.action == "keep_step"]
            assert result.steps_replaced + len(skipped) == len(steps), path
            if not result.steps_replaced:
                counts["left as they were (reason in the log)"] += 1
                continue
            new_model = read_model(result.as_source(source))
            new = _diag_keys(new_model) - _diag_keys(model)
            assert not new, (str(path), sorted(new))   # not even a warning or a note
            counts["redesigned"] += 1
            counts["steps"] += result.steps_replaced
            counts["with diagram"] += bool(model.diagrams)
            before = check_executable(model).processes
            if before and any(before.values()):
                after = check_executable(new_model).processes
                broken = [p for p, ok in before.items() if ok and not after.get(p)]
                assert not broken, (str(path), broken)
                counts["executable, still executable"] += 1
    with capsys.disabled():
        print(f"\nredesign over the corpus (planted findings): {dict(counts)}")
    assert counts["redesigned"] > 2000


@pytest.mark.parametrize("path", ALL_MODELS, ids=IDS)
def test_a_second_redesign_changes_nothing(path: Path):
    o = outcome(path)
    again = redesign(o.new_model, detect(o.new_model))
    assert not again.changed and again.data is o.new_source.data


def test_form_files_are_edited_as_copies_in_every_json_style():
    from bpmn.formedit import (
        FormStore,
        NewField,
        form_js_edit,
        new_file_name,
        schema_edit,
        ui_schema_edit,
    )
    schema = json.dumps({"type": "object", "required": ["scan", "name"], "properties": {
        "scan": {"type": "string", "format": "data-url"}, "name": {"type": "string"},
        "owner": {"type": "object", "properties": {"card": {"type": "string", "format": "data-url"}}}}}).encode()
    out, removed, added = schema_edit(schema, ["scan", "owner.card", "nope"],
                                      [NewField("birth_date", "تاریخ تولد", pattern="^1[34]\\\\d{2}$")])
    doc = json.loads(out)
    assert removed == ["scan", "owner.card"] and added == ["birth_date"]
    assert set(doc["properties"]) == {"name", "owner", "birth_date"} and doc["required"] == ["name", "birth_date"]
    assert doc["properties"]["birth_date"]["title"] == "تاریخ تولد" and "\\u" not in out.decode()
    ui, changed = ui_schema_edit(json.dumps({"ui:order": ["scan", "name"], "scan": {"ui:widget": "file"}}).encode(),
                                 ["scan"])
    assert changed and json.loads(ui) == {"ui:order": ["name"]}
    form = json.dumps({"components": [{"type": "filepicker", "key": "scan"},
                                      {"type": "group", "components": [{"type": "textfield", "key": "x"}]}]}).encode()
    out, removed, added = form_js_edit(form, ["scan"], [NewField("national_code", "National code")])
    comps = json.loads(out)["components"]
    assert removed == ["scan"] and [c.get("key") for c in comps] == [None, "national_code"]
    taken = {"a-schema.json", "a.once-schema.json"}
    assert new_file_name("a-schema.json", taken.__contains__) == "a.once2-schema.json"
    assert new_file_name("forms/b.form", taken.__contains__) == "forms/b.once.form"
    # a .form file referenced by camunda:formKey is copied and the key re-pointed
    files = {"f.form": form}
    store = FormStore(files.get)
    task = etree.fromstring(f'<userTask xmlns="{BPMN_NS}" xmlns:camunda="{CAMUNDA_NS}" id="t" '
                            'camunda:formKey="camunda-forms:deployment:f.form"/>')
    removed, added, written = store.edit(task, "camunda-form", "camunda-forms:deployment:f.form", None, ["scan"],
                                         [NewField("birth_date", "Birth date")])
    assert removed == ["scan"] and added == ["birth_date"] and written == ["f.once.form"]
    assert task.get(f"{{{CAMUNDA_NS}}}formKey") == "camunda-forms:deployment:f.once.form"
    assert files["f.form"] == form and "scan" not in store.files["f.once.form"].decode()


@pytest.mark.parametrize("path", [SAMPLES[1], SAMPLES[-1], OWN_MODELS / "message_flows_en.bpmn"], ids=lambda p: p.stem)
def test_every_pair_of_changes_gives_a_valid_executable_model(path: Path):
    import itertools

    base = outcome(path)
    ids = sorted({f.element_id for f in base.findings if f.kind == PAPER_KIND and f.replaceable})
    before = _diag_keys(base.model)
    for pair in itertools.combinations(ids, 2):
        o = run(path, Choices(only=frozenset(pair)))
        assert {c.element_id for c in o.result.changes} == set(pair)
        assert not (_diag_keys(o.new_model) - before), pair
        assert all(check_executable(o.new_model).processes.values()), pair
