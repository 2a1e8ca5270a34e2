"""The detector's rules one at a time, on small hand-written models.

Each test builds the smallest model that shows one rule: which way a handover goes,
what vetoes a paper step, how umbrella terms expand, when a data object or a message
brings papers in, how form file fields are read, English phrasing, negation in the
documentation, replaceability, and the finding's contract shape.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import jsonschema
import pytest

from bpmn.catalog import default_catalog
from bpmn.detect import THRESHOLD, UNRESOLVED_CAP, Finding, detect, replaceable
from bpmn.load import load_bytes
from bpmn.model import Model, read_model
from tests.bpmn.bpmn_snippets import document, model_of, process

CAMUNDA = 'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"'


def task(tid: str, name: str, *, tag: str = "task", doc: str | None = None, inner: str = "") -> str:
    body = f"<documentation>{escape(doc)}</documentation>" if doc else ""
    return f"<{tag} id={quoteattr(tid)} name={quoteattr(name)}>{body}{inner}</{tag}>\n"


def lanes(**members: tuple[str, list[str]]) -> str:
    """A lane set: ``lane_id=(name, [node ids])``."""
    out = '<laneSet id="ls">'
    for lid, (name, refs) in members.items():
        out += f"<lane id={quoteattr(lid)} name={quoteattr(name)}>"
        out += "".join(f"<flowNodeRef>{r}</flowNodeRef>" for r in refs) + "</lane>"
    return out + "</laneSet>\n"


def flows(*chain: str) -> str:
    return "".join(f'<sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}"/>\n'
                   for i, (a, b) in enumerate(itertools.pairwise(chain)))


def findings(body: str, *roots: str) -> list[Finding]:
    return detect(model_of(document(*roots, process(body))))


def paper(body: str, *roots: str) -> dict[str, Finding]:
    return {f.element_id: f for f in findings(body, *roots) if f.kind == "paper_document"}


def docs(f: Finding) -> set[str]:
    return {d.id for d in f.documents}


def in_lanes(applicant: list[str], clerk: list[str], body: str,
             applicant_lane: str = "متقاضی", clerk_lane: str = "کارشناس") -> dict[str, Finding]:
    return paper(lanes(la=(applicant_lane, applicant), lb=(clerk_lane, clerk)) + body)


# --------------------------------------------------------------------------- direction


def test_delivery_to_the_applicant_is_an_output() -> None:
    found = paper(task("out", "تحویل پروانه کسب به متقاضی", tag="manualTask")
                  + task("out_en", "Deliver the licence to the applicant", tag="manualTask")
                  + task("post", "ارسال پستی گذرنامه به نشانی متقاضی", tag="manualTask"))
    assert found == {}


def test_handover_to_the_agency_is_a_request() -> None:
    found = paper(task("in", "تحویل کپی شناسنامه به کارشناس", tag="manualTask")
                  + task("in_en", "Hand in the criminal record certificate to HR", tag="manualTask"))
    assert docs(found["in"]) == {"shenasnameh"}
    assert docs(found["in_en"]) == {"criminal_record_certificate"}


def test_handover_direction_follows_the_performer_lane() -> None:
    found = in_lanes(["a"], ["b"], task("a", "تحویل گواهی فوت") + task("b", "تحویل گواهی فوت همسر"))
    assert set(found) == {"a"}


def test_issued_then_delivered_without_direction_is_an_output() -> None:
    found = paper(task("issue", "صدور گواهینامه رانندگی") + task("give", "تحویل گواهینامه رانندگی")
                  + task("both", "صدور و تحویل کارت بازرگانی") + flows("issue", "give"))
    assert found == {}


def test_fetching_from_another_agency_and_handing_in_is_paper_and_courier() -> None:
    body = lanes(la=("متقاضی", ["t1", "t2"]), lb=("کارشناس اتحادیه", []))
    body += task("t1", "دریافت پوشه اماکن از پلیس اماکن و تحویل آن به اتحادیه", tag="manualTask")
    body += task("t2", "Obtain a certificate of no criminal record and hand it in to HR", tag="manualTask")
    result = findings(body)
    kinds = {(f.element_id, f.kind) for f in result}
    assert {("t1", "paper_document"), ("t1", "citizen_as_courier"),
            ("t2", "paper_document"), ("t2", "citizen_as_courier")} <= kinds
    assert docs(next(f for f in result if f.element_id == "t1" and f.kind == "paper_document")) \
        == {"police_places_clearance"}


def test_fetching_only_is_a_courier_trip_not_a_paper_step() -> None:
    body = lanes(la=("شهروند", ["t"]))
    body += task("t", "مراجعه به اداره امور مالیاتی و اخذ گواهی ماده ۱۸۷", tag="manualTask")
    result = findings(body)
    assert {f.kind for f in result} == {"citizen_as_courier", "in_person_visit"}
    assert docs(next(f for f in result if f.kind == "citizen_as_courier")) == {"tax_clearance"}


def test_presenting_an_inquiry_answer_is_paper_and_courier() -> None:
    result = findings(lanes(la=("ارباب رجوع", ["t"])) + task("t", "ارائه استعلام ثبتی ملک از اداره ثبت"))
    assert {f.kind for f in result} == {"paper_document", "citizen_as_courier"}


def test_what_he_receives_at_another_agency_he_carries_on() -> None:
    result = findings(lanes(la=("شهروند", ["t"])) + task("t", "مراجعه به بانک و دریافت گواهی حساب"))
    assert {f.kind for f in result} == {"in_person_visit", "citizen_as_courier"}


@pytest.mark.parametrize(("name", "paper_step"), [
    ("دریافت پروانه توسط متقاضی", False),
    ("ارائه گواهی عدم سوء پیشینه توسط متقاضی", True),
    ("Delivery of the ID card copy by the applicant", True),
])
def test_the_applicant_as_agent(name: str, paper_step: bool) -> None:
    assert bool(paper(task("t", name))) is paper_step


@pytest.mark.parametrize("name", [
    "تحویل پروانه، کارت و حکم به متقاضی",       # a comma list, the direction at the end
    "تحویل پروانه (به متقاضی)",                 # the direction in brackets
    "تحویل پروانه\nبه متقاضی",                  # a name wrapped onto two lines
    "Hand over the documents (to the applicant)",
])
def test_direction_at_the_end_of_a_name_still_counts(name: str) -> None:
    assert paper(task("t", name)) == {}


def test_fetched_and_handed_in_within_one_persian_sentence() -> None:
    result = findings(task("t", "مالک گواهی عدم خلاف را از شهرداری دریافت و به بانک ارائه می‌کند"))
    assert {f.kind for f in result} == {"paper_document", "citizen_as_courier"}
    assert docs(result[0]) == {"municipal_certificates"}


def test_taking_copies_from_the_applicant_is_a_request() -> None:
    found = paper(task("t", "تشکیل پرونده و اخذ کپی مدارک") + task("r", "پرداخت هزینه و تحویل فیش به کارشناس"))
    assert "unresolved_document_list" in found["t"].signals
    assert docs(found["r"]) == {"payment_receipt"}


def test_clerk_scanning_papers_he_holds_is_processing() -> None:
    found = in_lanes([], ["scan", "card"], task("scan", "اسکن مدارک و بایگانی")
                     + task("card", "Scan the applicant's national ID card"))
    assert set(found) == {"card"}


# --------------------------------------------------------------------------- negatives


@pytest.mark.parametrize("name", [
    "بررسی مدارک و تطبیق تصاویر با اصل",
    "بررسی مدارک بارگذاری‌شده و ارائه‌شده",
    "Check the submitted documents for completeness",
    "پرداخت هزینه صدور گذرنامه با کارتخوان دفتر",
    "ارسال پیامک نقص مدارک به متقاضی",
    "Email the applicant the list of missing documents",
    "اخذ عکس بیومتریک و ثبت اثر انگشت متقاضی",
    "Capture a live photo and fingerprints",
    "امضای دفتر ثبت ازدواج و سند ازدواج توسط زوجین",
    "صدور پروانه ساختمان و شناسنامه فنی ملک",
    "تکمیل شرکت‌نامه، تقاضانامه و اساسنامه در سامانه",
])
def test_clerk_work_outputs_payments_notifications_and_captures_are_not_paper(name: str) -> None:
    assert paper(lanes(la=("متقاضی", ["t"])) + task("t", name, tag="manualTask")) == {}


def test_existing_inquiry_service_task_is_never_paper() -> None:
    assert paper(task("s", "استعلام برخط گواهی عدم سوء پیشینه از قوه قضاییه", tag="serviceTask")
                 + task("u", "Query the civil registry for the birth certificate", tag="userTask")) == {}


def test_identifier_data_entry_is_not_a_document() -> None:
    form = ('<extensionElements><camunda:formData>'
            '<camunda:formField id="iban" label="شماره شبا" type="string"/>'
            '<camunda:formField id="postal" label="کد پستی ده رقمی" type="string"/>'
            '<camunda:formField id="nc" label="کد ملی" type="string"/>'
            '</camunda:formData></extensionElements>')
    xml = document(process(lanes(la=("متقاضی", ["t"])) + task("t", "اعلام کد ملی، کد پستی و شماره شبا",
                                                           tag="userTask", inner=form)))
    xml = xml.replace("<definitions ", f"<definitions {CAMUNDA} ", 1)
    assert [f for f in detect(model_of(xml)) if f.kind == "paper_document"] == []


def test_signature_taken_from_the_applicant_is_a_wet_signature() -> None:
    result = findings(lanes(lb=("متصدی پیشخوان", ["t"])) + task("t", "اخذ امضا از متقاضی"))
    assert [f.kind for f in result] == ["wet_signature"]


def test_agency_letter_is_a_paper_letter_not_a_paper_document() -> None:
    result = findings(lanes(lb=("HR office", ["l", "i"]))
                      + task("l", "Send an official letter asking the university to verify the degree",
                             tag="sendTask")
                      + task("i", "ارسال نامه داخلی به واحد مالی", tag="sendTask"))
    assert [(f.element_id, f.kind) for f in result] == [("l", "paper_letter")]


def test_notary_running_the_inquiry_itself_is_not_paper() -> None:
    doc = "دفترخانه پیش از تنظیم سند، گواهی ماده ۱۸۷ و وضعیت خلافی خودرو را به‌صورت برخط استعلام می‌کند."
    assert paper(task("n", "تنظیم سند قطعی انتقال در دفترخانه", tag="userTask", doc=doc)) == {}


# --------------------------------------------------------------------------- documentation


@pytest.mark.parametrize("doc", [
    "مالک موقعیت ملک را روی نقشه مشخص می‌کند؛ مدرکی بارگذاری نمی‌شود.",
    "Correspondence between agencies. The applicant is not involved.",
])
def test_documentation_negation_vetoes_the_step(doc: str) -> None:
    found = in_lanes(["t"], [], task("t", "ارائه تصویر سند مالکیت", tag="userTask", doc=doc))
    assert found == {}


def test_negated_document_in_documentation_is_dropped() -> None:
    doc = "اطلاعات بیمه از سامانه دریافت می‌شود و متقاضی نیازی به ارائه لیست بیمه ندارد."
    assert paper(task("t", "ثبت تعداد کارکنان بیمه‌شده", tag="userTask", doc=doc)) == {}


def test_demand_written_only_in_the_documentation() -> None:
    found = paper(task("t", "حضور خریدار و فروشنده در مرکز",
                       doc="مدارک لازم: اصل شناسنامه و اصل کارت ملی خریدار و فروشنده.")
                  + task("e", "Medical fitness examination",
                         doc="The applicant must submit a medical fitness certificate from a designated physician."))
    assert docs(found["t"]) == {"shenasnameh", "national_card"}
    assert {d.source for d in found["t"].documents} == {"documentation"}
    assert "documentation" in found["t"].signals
    assert docs(found["e"]) == {"medical_certificate"}
    assert found["e"].replaceable is False


def test_persian_verb_at_the_end_of_a_documentation_sentence() -> None:
    doc = "پدر زوجه باید در دفترخانه حاضر شود یا اجازه‌نامه محضری خود را ارائه کند."
    found = in_lanes(["t"], [], task("t", "اخذ اذن ولی قهری زوجه", doc=doc), applicant_lane="زوجین")
    assert docs(found["t"]) == {"notarial_consent_undertaking"}


def test_text_annotation_carries_the_checklist() -> None:
    body = (task("t", "پذیرش پرونده") + '<textAnnotation id="a"><text>مدارک لازم: کپی شناسنامه و فیش حقوقی</text>'
            '</textAnnotation><association id="as" sourceRef="t" targetRef="a"/>')
    found = paper(body)
    assert docs(found["t"]) == {"shenasnameh", "employment_payslip"}
    assert {d.source for d in found["t"].documents} == {"annotation"}


# --------------------------------------------------------------------------- umbrella terms


def test_umbrella_term_expands_to_its_documents() -> None:
    found = in_lanes(["t"], [], task("t", "بارگذاری مدارک هویتی", tag="userTask"))
    assert docs(found["t"]) == {"national_card", "shenasnameh"}
    assert {d.matched for d in found["t"].documents} == {"مدارک هویتی"}
    assert "umbrella_term" in found["t"].signals


def test_unresolved_list_is_a_low_confidence_finding_without_documents() -> None:
    found = in_lanes(["t", "e"], [], task("t", "ارائه مدارک لازم", tag="manualTask")
                     + task("e", "Upload the required documents", tag="userTask"))
    for f in found.values():
        assert f.documents == ()
        assert "unresolved_document_list" in f.signals
        assert THRESHOLD <= f.confidence <= UNRESOLVED_CAP
        assert f.replaceable is False


def test_non_catalog_evidence_is_paper_without_documents() -> None:
    found = in_lanes(["t"], [], task("t", "تحویل نقشه‌های معماری به همراه تعهدنامه مهندس ناظر",
                                     tag="manualTask"))
    assert found["t"].documents == ()
    assert found["t"].replaceable is False
    assert "non_catalog_evidence" in found["t"].signals


def test_own_draft_sent_later_is_content_not_evidence() -> None:
    body = (task("draft", "تکمیل اساسنامه در سامانه", tag="userTask")
            + task("send", "ارسال اصل اساسنامه با پست", tag="manualTask") + flows("draft", "send"))
    found = paper(body)
    assert set(found) == {"send"}
    assert found["send"].documents == ()


# --------------------------------------------------------------------------- data objects


DATA = ('<dataObject id="do1"/><dataObjectReference id="d1" name={name} dataObjectRef="do1"/>')


def data_in(target: str, ref: str = "d1") -> str:
    return (f'<property id="p_{target}" name="x"/><dataInputAssociation id="in_{target}">'
            f"<sourceRef>{ref}</sourceRef><targetRef>p_{target}</targetRef></dataInputAssociation>")


def data_out(ref: str = "d1") -> str:
    return f'<dataOutputAssociation id="out_{ref}"><targetRef>{ref}</targetRef></dataOutputAssociation>'


def test_data_object_into_a_front_desk_task_is_paper() -> None:
    body = task("desk", "تشکیل پرونده", inner=data_in("desk")) + DATA.format(name=quoteattr("كپي كارت ملي مالك"))
    found = paper(body)
    assert docs(found["desk"]) == {"national_card"}
    assert found["desk"].documents[0].source == "data_object"
    assert found["desk"].documents[0].matched == "كپي كارت ملي مالك"
    assert "data_object_in" in found["desk"].signals


def test_data_object_produced_by_an_earlier_activity_is_an_output() -> None:
    body = (task("issue", "صدور پروانه کسب", inner=data_out()) + task("give", "تحویل به مالک", inner=data_in("give"))
            + DATA.format(name=quoteattr("پروانه کسب")) + flows("issue", "give"))
    assert paper(body) == {}


def test_data_object_named_as_issued_is_an_output() -> None:
    body = task("give", "تحویل پروانه", tag="manualTask", inner=data_in("give")) + DATA.format(
        name=quoteattr("پروانه کسب صادرشده"))
    assert paper(body) == {}


def test_data_store_is_a_register_not_a_paper() -> None:
    body = (task("look", "Look up the account", inner=data_in("look", "s1"))
            + '<dataStoreReference id="s1" name="Bank account card register"/>')
    assert paper(body) == {}


def test_data_object_counts_only_where_it_enters() -> None:
    body = (task("intake", "Receive application", inner=data_in("intake"))
            + task("review", "Review application", inner=data_in("review"))
            + DATA.format(name=quoteattr("Copy of ID card")) + flows("intake", "review"))
    assert set(paper(body)) == {"intake"}


def test_data_object_linked_by_a_plain_association() -> None:
    body = (task("t", "Record household income") + DATA.format(name=quoteattr("Parent's payslip"))
            + '<association id="as" associationDirection="One" sourceRef="d1" targetRef="t"/>')
    assert docs(paper(body)["t"]) == {"employment_payslip"}


# --------------------------------------------------------------------------- message flows


def collaboration(*flows_: tuple[str, str, str, str | None]) -> str:
    out = ('<collaboration id="c"><participant id="citizen" name="Citizen"/>'
           '<participant id="uni" name="University"/><participant id="agency" name="Agency" processRef="p"/>')
    for fid, src, dst, name in flows_:
        out += f'<messageFlow id="{fid}" sourceRef="{src}" targetRef="{dst}"' + (
            f" name={quoteattr(name)}" if name else "") + "/>"
    return out + "</collaboration>\n"


def test_message_flow_from_the_applicant_pool_brings_papers() -> None:
    body = task("r", "Receive the supporting documents", tag="receiveTask")
    found = paper(body, collaboration(("m", "citizen", "r", "Copy of the title deed and the lease agreement")))
    assert docs(found["r"]) == {"property_deed", "real_estate_contract"}
    assert {d.source for d in found["r"].documents} == {"message_flow"}
    assert "message_flow_in" in found["r"].signals


def test_message_flow_from_another_agency_is_not_the_applicants_paper() -> None:
    body = task("r", "Record the reply", tag="receiveTask")
    assert paper(body, collaboration(("m", "uni", "r", "Degree verification letter"))) == {}


def test_message_flow_to_a_start_event_reaches_the_first_activity() -> None:
    body = ('<startEvent id="s"><messageEventDefinition id="md"/></startEvent>'
            + task("first", "Open the case") + flows("s", "first"))
    found = paper(body, collaboration(("m", "citizen", "s", "Application with a copy of the passport")))
    assert docs(found["first"]) == {"passport"}


def test_message_flow_back_to_the_applicant_marks_an_output() -> None:
    body = task("h", "Hand over the vehicle card", tag="manualTask")
    assert paper(body, collaboration(("m", "h", "citizen", "Vehicle card"))) == {}


# --------------------------------------------------------------------------- form fields


def test_camunda_file_field_labels_name_the_documents() -> None:
    form = ('<extensionElements><camunda:formData>'
            '<camunda:formField id="scan1" label="Scan of national ID card (both sides)" type="file"/>'
            '<camunda:formField id="scan2" label="تصویر تمام صفحات شناسنامه" type="file"/>'
            '<camunda:formField id="code" label="Degree verification code" type="string"/>'
            '</camunda:formData></extensionElements>')
    xml = document(process(task("t", "Upload employment documents", tag="userTask", inner=form)))
    xml = xml.replace("<definitions ", f"<definitions {CAMUNDA} ", 1)
    found = {f.element_id: f for f in detect(model_of(xml)) if f.kind == "paper_document"}
    assert docs(found["t"]) == {"national_card", "shenasnameh"}
    assert {d.source for d in found["t"].documents} == {"form_field"}
    assert "file_field" in found["t"].signals


def test_json_schema_file_fields_of_every_style() -> None:
    schema = {"type": "object", "properties": {
        "a": {"type": "string", "format": "data-url", "title": "تصویر کارت پایان خدمت"},
        "b": {"type": "array", "title": "تصاویر سند مالکیت", "items": {"type": "string", "format": "data-url"}},
        "c": {"type": "string", "title": "عکس ۳×۴"},
        "d": {"type": "string", "title": "کد ملی"}}}
    ui = {"c": {"ui:widget": "file"}}
    xml = document(process(task("t", "بارگذاری مدارک", tag="userTask", inner=(
        '<extensionElements><spiffworkflow:properties>'
        '<spiffworkflow:property name="formJsonSchemaFilename" value="t-schema.json"/>'
        '<spiffworkflow:property name="formUiSchemaFilename" value="t-uischema.json"/>'
        '</spiffworkflow:properties></extensionElements>'))))
    files = {"t-schema.json": json.dumps(schema).encode(), "t-uischema.json": json.dumps(ui).encode()}
    model = read_model(load_bytes(xml.encode(), "spiff.bpmn", read_side=files.get))
    found = {f.element_id: f for f in detect(model) if f.kind == "paper_document"}
    assert docs(found["t"]) == {"military_service_status", "property_deed", "photo"}


# --------------------------------------------------------------------------- lanes and pools


@pytest.mark.parametrize("lane", ["ارباب رجوع", "مراجعه کننده", "شهروند", "Customer", "Citizen", "مالک / متقاضی"])
def test_applicant_lane_names(lane: str) -> None:
    found = in_lanes(["t"], [], task("t", "کپی شناسنامه", tag="manualTask"), applicant_lane=lane)
    assert docs(found["t"]) == {"shenasnameh"}
    assert "applicant_lane" in found["t"].signals


def test_a_document_that_only_qualifies_something_else_is_no_paper() -> None:
    found = in_lanes(["t"], [], task("t", "شرکت در دوره آموزشی کارت بازرگانی", tag="userTask"))
    assert found == {}


def test_agency_send_tasks_and_automated_tasks_are_never_paper() -> None:
    found = in_lanes([], ["s", "x"], task("s", "ارسال کپی شناسنامه", tag="sendTask")
                     + task("x", "ارائه کپی شناسنامه", tag="scriptTask"))
    assert found == {}


def test_subprocess_with_children_leaves_the_finding_to_its_children() -> None:
    body = '<subProcess id="sp" name="ارائه مدارک">' + task("in", "ارائه کپی کارت ملی") + "</subProcess>"
    assert set(paper(body)) == {"in"}


# --------------------------------------------------------------------------- replaceability


def test_replaceability_rule() -> None:
    catalog = default_catalog()
    doc = catalog.documents
    assert replaceable(doc["national_card"], catalog)                       # full
    assert not replaceable(doc["medical_certificate"], catalog)             # none
    assert not replaceable(doc["photo"], catalog)                           # partial, only live-selfie inquiry
    assert replaceable(doc["real_estate_contract"], catalog)                # partial with an inquiry
    assert not replaceable(doc["real_estate_contract"], catalog, informal=True)
    assert replaceable(doc["passport"], catalog)
    assert not replaceable(doc["passport"], catalog, foreign=True)


def test_finding_replaceable_when_any_document_is() -> None:
    found = paper(task("t", "ارائه عکس و کپی کارت ملی", tag="manualTask")
                  + task("f", "بارگذاری تصویر گذرنامه شریک خارجی", tag="userTask")
                  + task("p", "ارائه دو قطعه عکس ۳×۴", tag="manualTask"))
    assert found["t"].replaceable is True
    assert {d.id: d.replaceable for d in found["t"].documents} == {"photo": False, "national_card": True}
    assert found["f"].replaceable is False
    assert found["p"].replaceable is False


# --------------------------------------------------------------------------- output shape


def test_finding_json_matches_the_contract(shared: Path) -> None:
    contract = json.loads((shared / "contracts" / "analysis.schema.json").read_text(encoding="utf-8"))
    item = contract["properties"]["findings"]["items"]
    result = findings(lanes(la=("متقاضی", ["a", "b"])) + task("a", "ارائه اصل شناسنامه", tag="manualTask")
                      + task("b", "مراجعه حضوری و امضای فرم", tag="manualTask"))
    assert {f.kind for f in result} >= {"paper_document", "in_person_visit", "wet_signature"}
    for f in result:
        data = f.to_json()
        jsonschema.validate(data, item)
        assert 0.0 <= data["confidence"] <= 1.0
    first = result[0].to_json()
    assert first["kind"] == "paper_document" and first["element_id"] == "a" and first["process_id"] == "p"
    assert first["documents"] == [{"id": "shenasnameh", "replaceable": True,
                                   "inquiry_services": ["nocr_identity", "nocr_vital_events"],
                                   "issuer": default_catalog().documents["shenasnameh"].issuer_en,
                                   "matched": first["documents"][0]["matched"], "source": "name"}]
    assert "شناسنامه" in first["documents"][0]["matched"]


def test_findings_are_in_document_order() -> None:
    body = "".join(task(f"t{i}", name, tag="manualTask") for i, name in enumerate(
        ["ارائه کپی کارت ملی", "بررسی مدارک", "ارائه شناسنامه", "ارسال نامه به دانشگاه"]))
    lines = [f.line for f in findings(body)]
    assert lines == sorted(lines)


# --------------------------------------------------------------------------- speed


def _big_model(n: int, tag: str) -> Model:
    names = ["ارائه اصل و تصویر شناسنامه و کارت ملی ردیف {i}", "بررسی مدارک پرونده {i}",
             "Upload a scan of the national ID card ({i})", "تحویل پروانه کسب به متقاضی {i}",
             "پرداخت هزینه مرحله {i} از درگاه", "Check the submitted documents for case {i}",
             "دریافت پوشه اماکن از پلیس اماکن و تحویل آن به اتحادیه {i}", "ثبت اطلاعات در سامانه {i}"]
    body = ""
    for i in range(n):
        doc = f"مدارک لازم: اصل شناسنامه، کارت ملی و سند مالکیت {tag}{i}." if i % 3 == 0 else None
        body += task(f"t{i}", names[i % len(names)].format(i=f"{tag}{i}"),
                     tag=("userTask", "manualTask", "task")[i % 3], doc=doc)
    body += flows(*(f"t{i}" for i in range(n)))
    return model_of(document(process(lanes(la=("متقاضی", [f"t{i}" for i in range(0, n, 2)]),
                                           lb=("کارشناس", [f"t{i}" for i in range(1, n, 2)])) + body)))


def test_large_model_is_analysed_whole() -> None:
    """500 activities, every text new: all paper steps found (speed is measured by bench/analyze.py)."""
    result = detect(_big_model(500, "cold"))
    assert len([f for f in result if f.kind == "paper_document"]) > 100


# --------------------------------------------------------------------------- redesigned models


def test_steps_added_by_the_redesign_are_not_paper_steps_again() -> None:
    """An upload fallback the redesign added (panjereh:role) is the once-only path, not a step to replace."""
    ns = 'xmlns:panjereh="https://panjereh.ir/schema/bpmn/1"'
    body = (
        f'<userTask id="fb" name="Upload a copy of the birth certificate" panjereh:role="inquiry_fallback" {ns}/>'
        + task("plain", "Upload a copy of the birth certificate", tag="userTask")
    )
    assert set(paper(body)) == {"plain"}
