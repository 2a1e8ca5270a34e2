"""The detector on our own labelled models (tests/data/labelled), written in other styles.

These models were drawn independently of the shared samples and of the detector: a
Camunda collaboration whose papers arrive on message flows from a "Citizen" pool, a
Signavio export with generic tasks, data objects and a plain association, a Persian model
typed with Arabic letters, no ZWNJ and Persian digits under «ارباب رجوع», a SpiffArena
model with JSON-Schema file fields (array and ``ui:widget`` styles), hard negatives in
both languages, and a property sale where the parties carry certificates between
agencies. Each activity is labelled in ``<model>.labels.json`` (same format as the
shared samples; ``notes`` say why). The figures are reported apart from the samples'.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from bpmn.load import load_path
from bpmn.xsd import check_schema
from tests.bpmn.detect_scoring import LabelledModel, assert_no_paper_step, check_floors, load_labelled, score

FOLDER = Path(__file__).resolve().parents[1] / "data" / "labelled"
DI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"

HARD_NEGATIVES = {
    "en_parking_permit": ["Activity_enter", "Activity_vehicle", "Activity_address", "Activity_originals",
                          "Activity_fee", "Activity_pay", "Activity_police", "Activity_handover", "Activity_email"],
    "en_driving_licence_renewal": ["Task_book", "Task_attend", "Task_bio", "Task_sign", "Task_pay", "Task_enter",
                                   "Task_nocr", "Task_review", "Task_mail", "Task_sms", "Task_court"],
    "fa_housing_arabic_spelling": ["Act_reg", "Act_inq", "Act_check", "Act_sms", "Act_pay", "Act_contract",
                                   "Act_sign", "Act_deliver"],
    "fa_commercial_card_spiff": ["Activity_info", "Activity_review", "Activity_defect", "Activity_inq",
                                 "Activity_course", "Activity_pay", "Activity_issue", "Activity_post"],
    "fa_factory_operating_licence": ["Task_req", "Task_review", "Task_env", "Task_env_reply", "Task_ins",
                                     "Task_staff", "Task_visit", "Task_committee", "Task_pay", "Task_bio",
                                     "Task_deliver", "Task_notify"],
    "fa_property_sale_courier": ["a_letter", "a_muni_visit", "a_tax_visit", "a_check", "a_draft", "a_sign",
                                 "a_fee", "a_summary", "a_deliver"],
}
OTHER_SMELLS = [
    ("en_driving_licence_renewal", "Task_attend", "in_person_visit"),
    ("en_driving_licence_renewal", "Task_sign", "wet_signature"),
    ("en_driving_licence_renewal", "Task_court", "paper_letter"),
    ("en_parking_permit", "Activity_police", "paper_letter"),
    ("fa_factory_operating_licence", "Task_env", "paper_letter"),
    ("fa_property_sale_courier", "a_muni_visit", "in_person_visit"),
    ("fa_property_sale_courier", "a_tax_visit", "citizen_as_courier"),
    ("fa_property_sale_courier", "a_muni_hand", "citizen_as_courier"),
    ("fa_property_sale_courier", "a_sign", "wet_signature"),
]


@pytest.fixture(scope="module")
def scored() -> dict[str, LabelledModel]:
    return {lm.stem: lm for lm in load_labelled(FOLDER)}


def test_at_least_six_models_in_both_languages(scored: dict[str, LabelledModel]) -> None:
    assert len(scored) >= 6
    assert {lm.labels["lang"] for lm in scored.values()} == {"fa", "en"}


def test_precision_and_recall_on_own_models(scored: dict[str, LabelledModel],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    with capsys.disabled():
        missed = check_floors(score(list(scored.values())), "own labelled models")
    assert not missed, "\n".join(missed)


@pytest.mark.parametrize(("model", "task"), [(m, t) for m, ts in HARD_NEGATIVES.items() for t in ts])
def test_hard_negative_is_no_paper_step(scored: dict[str, LabelledModel], model: str, task: str) -> None:
    assert_no_paper_step(scored[model], model, task)


@pytest.mark.parametrize(("model", "task", "kind"), OTHER_SMELLS)
def test_other_smells_reported_as_their_own_kind(scored: dict[str, LabelledModel], model: str, task: str,
                                                 kind: str) -> None:
    assert kind in scored[model].kinds_of(task)


@pytest.mark.parametrize("path", sorted(FOLDER.glob("*.bpmn")), ids=lambda p: p.stem)
def test_models_are_schema_valid_and_fully_drawn(path: Path) -> None:
    """They open in modelers: XSD-valid, and every flow element has a shape or edge."""
    root = load_path(path)[0].root
    assert [d for d in check_schema(root) if d.severity == "error"] == []
    drawn = {el.get("bpmnElement") for el in root.iter(f"{{{DI_NS}}}BPMNShape", f"{{{DI_NS}}}BPMNEdge")}
    wanted = {"task", "userTask", "manualTask", "serviceTask", "scriptTask", "sendTask", "receiveTask",
              "startEvent", "endEvent", "exclusiveGateway", "sequenceFlow", "dataObjectReference",
              "dataStoreReference", "messageFlow", "lane", "participant", "textAnnotation", "association"}
    missing = [el.get("id") for el in root.iter() if isinstance(el.tag, str)
               and etree.QName(el).namespace == BPMN_NS and etree.QName(el).localname in wanted
               and el.get("id") not in drawn]
    assert missing == []


def test_every_activity_is_labelled(scored: dict[str, LabelledModel]) -> None:
    for lm in scored.values():
        assert set(lm.labels["tasks"]) == set(lm.activities), lm.stem
        for truth in lm.labels["tasks"].values():
            if not truth["paper"]:
                assert truth["docs"] == [] and truth["replaceable"] is False, lm.stem
