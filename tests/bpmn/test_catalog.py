"""The packaged document catalog (bpmn.catalog): content, integrity checks and failures."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from bpmn.catalog import DEFAULT_PATH, Catalog, default_catalog, load_catalog
from bpmn.errors import CatalogError, PanjerehError


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return default_catalog()


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return yaml.load(DEFAULT_PATH.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)


def test_catalog_error_is_a_panjereh_error() -> None:
    assert issubclass(CatalogError, PanjerehError)


def test_default_catalog_is_loaded_once(catalog: Catalog) -> None:
    assert default_catalog() is catalog
    assert catalog.path == str(DEFAULT_PATH)


def test_catalog_has_its_sections(catalog: Catalog) -> None:
    assert len(catalog.documents) >= 50
    assert len(catalog.services) >= 45
    assert len(catalog.identifiers) >= 30
    assert {"identity_documents", "unspecified_documents"} <= set(catalog.umbrella_terms)
    assert {"application_form", "technical_drawings", "live_capture", "introduction_letter"} <= set(
        catalog.non_evidence)
    assert catalog.short_key_max >= 4
    assert len(catalog.self_tests) >= 12


def test_lookup_helpers(catalog: Catalog) -> None:
    shenasnameh = catalog.document("shenasnameh")
    assert shenasnameh.issuer_en == "NOCR"
    assert "شناسنامه" in shenasnameh.names_fa
    assert "birth certificate" in shenasnameh.names_en
    assert [s.id for s in catalog.services_for("shenasnameh")] == ["nocr_identity", "nocr_vital_events"]
    assert catalog.services_for("bank_statement") == ()
    with pytest.raises(KeyError):
        catalog.document("no_such_document")


def test_catalog_is_read_only(catalog: Catalog) -> None:
    with pytest.raises(TypeError):
        catalog.documents["x"] = catalog.document("photo")  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        catalog.document("photo").replaceability = "full"  # type: ignore[misc]


def test_every_reference_resolves(catalog: Catalog) -> None:
    for doc in catalog.documents.values():
        assert set(doc.inquiries) <= set(catalog.services), doc.id
        assert all(i in catalog.identifiers for ref in doc.inputs for i in ref.ids), doc.id
        if doc.replaceability != "none":
            assert doc.inquiries and doc.inputs, doc.id
    for service in catalog.services.values():
        assert all(i in catalog.identifiers for ref in service.inputs for i in ref.ids), service.id
    for term in catalog.umbrella_terms.values():
        assert set(term.expands_to) <= set(catalog.documents), term.id


def test_every_service_replaces_some_document_except_the_prospective_health_record(catalog: Catalog) -> None:
    used = {sid for doc in catalog.documents.values() for sid in doc.inquiries}
    assert set(catalog.services) - used == {"health_records"}


def test_roles_and_alternatives_are_kept(catalog: Catalog) -> None:
    deed_inputs = {ref.ids: ref for ref in catalog.document("property_deed").inputs}
    assert deed_inputs[("national_code",)].role == "owner"
    tax = catalog.services["tax_186"]
    assert tax.inputs[0].ids == ("national_code", "legal_entity_national_id")
    assert tax.inputs[1].optional
    assert "explicit_consent" in catalog.services["health_records"].context


def test_every_sample_label_document_is_in_the_catalog(shared: Path, catalog: Catalog) -> None:
    labelled: set[str] = set()
    for labels in sorted((shared / "samples" / "models").glob("*.labels.json")):
        for task in json.loads(labels.read_text(encoding="utf-8"))["tasks"].values():
            labelled.update(task["docs"])
    assert len(labelled) >= 20
    assert labelled <= set(catalog.documents), labelled - set(catalog.documents)


def test_research_catalog_documents_are_all_carried_over(shared: Path, catalog: Catalog) -> None:
    research = yaml.safe_load((shared / "catalog" / "inquiry_catalog.yaml").read_text(encoding="utf-8"))
    assert {d["id"] for d in research["documents"]} <= set(catalog.documents)
    assert {s["id"] for s in research["inquiry_services"]} == set(catalog.services)


@pytest.mark.parametrize(("identifier", "value", "valid"), [
    ("national_code", "0012345679", True),
    ("national_code", "0012345678", False),      # wrong check digit
    ("national_code", "1111111111", False),      # all the same digit
    ("national_code", "12345", False),
    ("national_code", "۰۰۱۲۳۴۵۶۷۹", True),       # Persian digits are digits
    ("iban", "IR820540102680020817909002", True),
    ("iban", "IR820540102680020817909003", False),
    ("bank_card_no", "6037991234567893", True),
    ("bank_card_no", "6037991234567890", False),
    ("mobile", "09121234567", True),
    ("mobile", "9121234567", False),
    ("postal_code", "1234567890", True),
    ("birth_date", "1370/01/01", True),
    ("birth_date", "1370/13/01", False),
    ("economic_code", "anything goes", True),    # no pattern known: nothing to reject
])
def test_identifier_validation(catalog: Catalog, identifier: str, value: str, valid: bool) -> None:
    assert catalog.identifiers[identifier].is_valid(value) is valid


def test_check_digit_algorithms_reject_malformed_values_without_raising(catalog: Catalog) -> None:
    for identifier in ("national_code", "iban", "bank_card_no"):
        unchecked = dataclasses.replace(catalog.identifiers[identifier], pattern=None)
        assert unchecked.is_valid("12x4-") is False


# --------------------------------------------------------------------------- broken catalogs

def _broken(tmp_path: Path, raw: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> Path:
    data = json.loads(json.dumps(raw))      # a deep copy
    change(data)
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.dump(data, Dumper=yaml.CSafeDumper, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _entry(data: dict[str, Any], section: str, entry_id: str) -> dict[str, Any]:
    return next(e for e in data[section] if e["id"] == entry_id)


def test_an_unchanged_copy_loads(tmp_path: Path, raw: dict[str, Any]) -> None:
    catalog = load_catalog(_broken(tmp_path, raw, lambda data: None))
    assert set(catalog.documents) == set(default_catalog().documents)


@pytest.mark.parametrize(("change", "message"), [
    pytest.param(lambda d: _entry(d, "documents", "shenasnameh")["inquiries"].append("nocr_nonexistent"),
                 r"documents 'shenasnameh': unknown inquiry service 'nocr_nonexistent'", id="unknown-inquiry"),
    pytest.param(lambda d: _entry(d, "documents", "passport").update(replaceability="sometimes"),
                 r"documents 'passport': 'sometimes' is not one of \['full', 'partial', 'none'\] "
                 r"at documents/\d+/replaceability", id="schema-enum"),
    pytest.param(lambda d: _entry(d, "documents", "photo").pop("issuer_en"),
                 r"documents 'photo': 'issuer_en' is a required property", id="schema-required"),
    pytest.param(lambda d: _entry(d, "documents", "driving_license").update(inquiries=[]),
                 r"documents 'driving_license': \[\] should be non-empty", id="replaceable-without-inquiry"),
    pytest.param(lambda d: d.pop("phrases"),
                 r"catalog: 'phrases' is a required property", id="schema-missing-section"),
    pytest.param(lambda d: _entry(d, "inquiry_services", "post_gnaf")["inputs"].append("postal_cod"),
                 r"inquiry_services 'post_gnaf': unknown identifier 'postal_cod'", id="unknown-identifier"),
    pytest.param(lambda d: _entry(d, "umbrella_terms", "identity_documents")["expands_to"].append("id_card"),
                 r"umbrella_terms 'identity_documents': unknown document 'id_card'", id="umbrella-unknown-doc"),
    pytest.param(lambda d: _entry(d, "documents", "school_diploma")["inputs"].append("mobile"),
                 r"documents 'school_diploma': input 'mobile' is not used by any of its inquiries",
                 id="input-no-inquiry-uses"),
    # a name that differs from another only by Arabic letters and ZWNJ is the same key
    pytest.param(lambda d: _entry(d, "documents", "shenasnameh")["names_fa"].append("كارت\u200cملي"),
                 "documents 'shenasnameh': name 'كارت\u200cملي' is also in documents 'national_card'",
                 id="arabic-zwnj-duplicate"),
    pytest.param(lambda d: _entry(d, "documents", "photo")["names_fa"].append("عكس"),
                 r"documents 'photo': name 'عكس' is twice", id="duplicate-in-entry"),
    pytest.param(lambda d: _entry(d, "documents", "postal_code_certificate")["names_fa"].append("کدپستی"),
                 r"identifiers 'postal_code': name 'کد پستی' is also in documents 'postal_code_certificate'",
                 id="name-claimed-by-identifier"),
    pytest.param(lambda d: d["documents"].append(dict(_entry(d, "documents", "photo"), names_fa=["x1"],
                                                      names_en=["x2"])),
                 r"documents 'photo': the id is used twice", id="duplicate-id"),
    pytest.param(lambda d: _entry(d, "identifiers", "mobile").update(pattern="^09(\\d{9}$"),
                 r"identifiers 'mobile': invalid regular expression", id="bad-regex"),
    pytest.param(lambda d: d["phrases"]["quantity"]["patterns"].append("(\\d+) نسخه"),
                 r"phrases 'quantity': pattern .* has a capturing group", id="capturing-group"),
    pytest.param(lambda d: d["phrases"]["courier"]["patterns"].append("<<nobody>> x"),
                 r"phrases 'courier': pattern refers to <<nobody>>", id="unknown-placeholder"),
    pytest.param(lambda d: d["self_tests"].append({"text": "متن", "expected": ["nothing_like_this"]}),
                 r"self_tests 'متن': unknown document 'nothing_like_this'", id="self-test-unknown-doc"),
])
def test_a_broken_catalog_names_the_file_entry_and_problem(
        tmp_path: Path, raw: dict[str, Any], change: Callable[[dict[str, Any]], None], message: str) -> None:
    path = _broken(tmp_path, raw, change)
    with pytest.raises(CatalogError, match=message) as caught:
        load_catalog(path)
    assert str(path) in str(caught.value)


def test_invalid_yaml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("documents: [unclosed\n", encoding="utf-8")
    with pytest.raises(CatalogError, match=r"bad\.yaml: not valid YAML"):
        load_catalog(bad)
    with pytest.raises(CatalogError, match=r"missing\.yaml: cannot read the catalog"):
        load_catalog(tmp_path / "missing.yaml")
