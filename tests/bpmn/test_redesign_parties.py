"""One paper step asking the same paper of several people: one inquiry per person, each with his identifiers."""

from __future__ import annotations

import json

import jsonschema
import pytest

from bpmn.detect import detect
from bpmn.errors import CatalogError
from bpmn.lexicon import default_lexicon
from bpmn.load import SPIFF_NS
from bpmn.parties import default_parties, load_parties
from bpmn.redesign import PAPER_KIND
from bpmn.validate import validate
from engine.spiff import check_executable
from tests.bpmn.redesign_support import OWN_MODELS, SHARED, outcome, role

SCHEMA = json.loads((SHARED / "contracts" / "redesign.schema.json").read_text())
PARTY = "{https://panjereh.ir/schema/bpmn/1}party"


def _inquiries(o):
    out = {}
    for proc in o.new_model.processes:
        for n in proc.nodes.values():
            if role(n.element) == "inquiry":
                op = n.element.find(f".//{{{SPIFF_NS}}}serviceTaskOperator")
                params = {p.get("id"): p.get("value") for p in op.iter(f"{{{SPIFF_NS}}}parameter")}
                out[n.element.get(PARTY)] = (n.id, op.get("resultVariable"), params)
    return out


def _checks(o):
    assert not [d for d in validate(o.new_model) if d.code.startswith("xsd")]
    before = check_executable(o.model).processes
    after = check_executable(o.new_model)
    assert after.processes == before, [d.message for d in after.diagnostics]
    left = [f.element_id for f in detect(o.new_model) if f.kind == PAPER_KIND and f.replaceable
            and role(o.new_model.node(f.element_id).element) != "inquiry_fallback"]
    assert not left
    jsonschema.validate(o.result.change_log_json("in.bpmn", "out.bpmn"), SCHEMA)


@pytest.mark.parametrize("text, doc, parties", [
    ("مدارک لازم: اصل شناسنامه و اصل کارت ملي خريدار و فروشنده.", "national_card", ("buyer", "seller")),
    ("کارت ملی فروشنده و کارت ملی خریدار", "national_card", ("seller", "buyer")),
    ("ارائه اصل شناسنامه و کارت ملی زوجین", "shenasnameh", ("groom", "bride")),
    ("شناسنامه داماد و عروس", "shenasnameh", ("groom", "bride")),
    ("Submit the applicant's and the guarantor's national ID cards", "national_card", ("applicant", "guarantor")),
    ("national ID cards of the applicant and the guarantor", "national_card", ("applicant", "guarantor")),
    ("ارائه کارت ملی متقاضی", "national_card", ()),
    ("پدر یا جد پدری زوجه باید اجازه‌نامه محضری خود را ارائه کند.", "notarial_consent_undertaking", ()),
    ("حضور خریدار و فروشنده. ارائه کارت ملی.", "national_card", ()),
])
def test_parties_of_a_document(text, doc, parties):
    assert default_parties().of_document(default_lexicon(), doc, [text]) == parties


def test_party_of_a_field_by_id_or_label():
    p = default_parties()
    assert p.of_field("buyer_national_code", None) == "buyer"
    assert p.of_field("nc2", "کد ملي زوجه") == "bride"
    assert p.of_field("national_code", "کد ملی") is None


def test_party_vocabulary_is_checked(tmp_path):
    bad = tmp_path / "parties.yaml"
    bad.write_text("personal_identifiers: []\nconjunctions: []\nfillers: []\nparties: []\ncollective: []\n")
    with pytest.raises(CatalogError):
        load_parties(bad)


def test_seller_and_buyer_each_get_their_own_inquiry():
    o = outcome(OWN_MODELS / "fa_vehicle_sale_parties.bpmn")
    inq = _inquiries(o)
    assert set(inq) == {"seller", "buyer"}
    assert inq["seller"][2] == {"national_code": "seller_national_code", "birth_date": "seller_birth_date"}
    assert inq["buyer"][2] == {"national_code": "buyer_national_code", "birth_date": "buyer_birth_date"}
    assert inq["seller"][1] == "inq_nocr_identity_seller" and inq["buyer"][1] == "inq_nocr_identity_buyer"
    assert "seller" in inq["seller"][0] and "buyer" in inq["buyer"][0]
    # the two inquiries run side by side
    assert "parallelise" in {c.action for c in o.result.changes}
    assert not [c for c in o.result.changes if c.action == "add_identifier_fields"]
    main = next(c for c in o.result.changes if c.action == "replace_with_inquiry")
    assert "buyer_national_code" in main.reason and "seller_national_code" in main.reason
    assert len([c for c in o.result.changes if c.action == "add_fallback"]) == 2
    _checks(o)


def test_english_applicant_and_guarantor():
    o = outcome(OWN_MODELS / "en_loan_guarantor.bpmn")
    inq = _inquiries(o)
    assert set(inq) == {"applicant", "guarantor"}
    assert inq["applicant"][2] == {"national_code": "national_code", "birth_date": "birth_date"}
    assert inq["guarantor"][2] == {"national_code": "guarantor_national_code", "birth_date": "guarantor_birth_date"}
    _checks(o)


def test_a_party_without_an_identifier_field_gets_one_and_it_is_logged():
    o = outcome(OWN_MODELS / "fa_vehicle_sale_buyer_missing.bpmn")
    inq = _inquiries(o)
    assert inq["buyer"][2] == {"national_code": "buyer_national_code", "birth_date": "buyer_birth_date"}
    assert inq["seller"][2] == {"national_code": "seller_national_code", "birth_date": "seller_birth_date"}
    reg = o.new_model.node("t_reg")
    labels = {f.id: f.label for f in reg.form.fields}
    assert labels["buyer_national_code"] == "کد ملی خریدار"
    change = next(c for c in o.result.changes if c.action == "add_identifier_fields")
    assert set(change.added) == {"buyer_national_code", "buyer_birth_date"}
    assert "کد ملی خریدار (buyer_national_code)" in change.reason
    _checks(o)
