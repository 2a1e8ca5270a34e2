"""Matching catalog terms in BPMN text (bpmn.lexicon)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from bpmn.catalog import SelfTest, default_catalog
from bpmn.lexicon import Lexicon, default_lexicon
from bpmn.text import normalize


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return default_lexicon()


def _docs(lexicon: Lexicon, text: str) -> set[str]:
    return set(lexicon.document_ids(text))


# --------------------------------------------------------------------------- the catalog's own self-tests

@pytest.mark.parametrize("case", default_catalog().self_tests, ids=lambda case: case.text[:40])
def test_catalog_self_test(lexicon: Lexicon, case: SelfTest) -> None:
    assert _docs(lexicon, case.text) == set(case.expected)
    assert bool(lexicon.find_umbrella(case.text, unresolved_only=True)) is case.unresolved
    if case.identifiers:
        assert set(lexicon.find_identifiers(case.text)) == set(case.identifiers)


def test_every_catalog_name_finds_its_own_entry(lexicon: Lexicon) -> None:
    catalog = lexicon.catalog
    for doc in catalog.documents.values():
        for name in (*doc.names_fa, *doc.names_en):
            assert lexicon.document_ids(name) == (doc.id,), name
    for ident in catalog.identifiers.values():
        for name in (*ident.names_fa, *ident.names_en):
            assert lexicon.find_identifiers(name) == [ident.id], name
            assert lexicon.document_ids(name) == (), name
    for term in catalog.umbrella_terms.values():
        for name in (*term.names_fa, *term.names_en):
            assert [m.umbrella_id for m in lexicon.find_umbrella(name)] == [term.id], name
    for entry in catalog.non_evidence.values():
        for name in (*entry.names_fa, *entry.names_en):
            assert [h.id for h in lexicon.phrase_hits(name).non_evidence] == [entry.id], name
            assert lexicon.document_ids(name) == (), name
    for category, phrases in catalog.phrases.categories():
        if category != "delivery_verb":
            for name in (*phrases.fa, *phrases.en):
                assert name in getattr(lexicon.phrase_hits(name), category), (category, name)


# --------------------------------------------------------------------------- the labelled sample models

def _paper_tasks(shared: Path) -> list[tuple[str, list[str], list[str]]]:
    """(task, its texts, labelled docs) for every paper task of the sample specs."""
    out = []
    for spec_file in sorted((shared / "samples" / "specs").glob("*.yaml")):
        spec = yaml.safe_load(spec_file.read_text(encoding="utf-8"))
        labels = json.loads((shared / "samples" / "models" / f"{spec['id']}.labels.json").read_text("utf-8"))
        feeding: dict[str, list[str]] = {}
        for data_object in spec.get("data_objects") or []:
            feeding.setdefault(data_object["to"], []).append(data_object["name"])
        for node in spec["nodes"]:
            label = labels["tasks"].get(node["id"])
            if label and label["paper"]:
                texts = [node.get("name") or "", node.get("doc") or ""]
                texts += [f["label"] for f in node.get("form") or [] if f.get("type") == "file"]
                texts += feeding.get(node["id"], [])
                out.append((f"{spec['id']}.{node['id']}", texts, label["docs"]))
    return out


def test_sample_paper_steps_name_exactly_their_labelled_documents(shared: Path, lexicon: Lexicon) -> None:
    tasks = _paper_tasks(shared)
    assert len(tasks) == 39
    wrong = {}
    for task, texts, labelled in tasks:
        found = set().union(*(_docs(lexicon, text) for text in texts))
        if found != set(labelled):
            wrong[task] = (sorted(found), sorted(labelled))
    assert wrong == {}


# --------------------------------------------------------------------------- variants of one document

@pytest.mark.parametrize(("spelling", "doc_id"), [
    ("کارت ملی", "national_card"), ("كارت ملي", "national_card"), ("کارت‌ملی", "national_card"),
    ("کارتملی", "national_card"), ("ﻛﺎﺭﺕ ﻣﻠﻲ", "national_card"), ("کارت ملّی", "national_card"),
    ("گواهی عدم سوء پیشینه", "criminal_record_certificate"), ("گواهي عدم سوءپيشينه", "criminal_record_certificate"),
    ("گواهی عدم سو پیشینه", "criminal_record_certificate"), ("عدم‌سوء‌پیشینه", "criminal_record_certificate"),
    ("مفاصاحساب مالیاتی", "tax_clearance"), ("مفاصا‌حساب مالياتي", "tax_clearance"),
    ("گواهی ماده ۱۸۶", "tax_clearance"), ("گواهی ماده 186", "tax_clearance"), ("گواهی ماده ١٨٦", "tax_clearance"),
    ("عکس ۳×۴", "photo"), ("عکس 3*4", "photo"), ("عکس ٣x٤", "photo"),
    ("مفاصاحساب تامین اجتماعی", "insurance_clearance"), ("مفاصاحساب تأمین اجتماعی", "insurance_clearance"),
    ("اجاره نامه", "real_estate_contract"), ("اجاره‌نامه", "real_estate_contract"),
    ("اجارهنامه", "real_estate_contract"), ("اجارة نامه", "real_estate_contract"),
    ("گواهینامه رانندگی", "driving_license"), ("گواهی‌نامه رانندگی", "driving_license"),
    ("کارت پایان خدمت", "military_service_status"), ("کارت پایان‌خدمت", "military_service_status"),
    ("سند تک برگ", "property_deed"), ("سند تک‌برگ", "property_deed"), ("سند تکبرگ", "property_deed"),
])
def test_spelling_variants_find_the_same_document(lexicon: Lexicon, spelling: str, doc_id: str) -> None:
    assert _docs(lexicon, spelling) == {doc_id}


# --------------------------------------------------------------------------- whole words

@pytest.mark.parametrize(("text", "expected"), [
    ("ارائه عکس", {"photo"}),
    ("ارائه عکس‌ها", {"photo"}),
    ("ارائه عکسها", {"photo"}),
    ("منعکس کردن نتیجه", set()),
    ("برعکس", set()),
    ("بر عکس روال قبلی", set()),
    ("عکسبرداری از ملک", set()),
    ("عکس‌برداری از ملک", set()),
    ("عکس هوایی ملک", set()),
    ("عکس‌العمل کارشناس", set()),
    ("اصل دیپلم", {"school_diploma"}),
    ("روابط دیپلماتیک", set()),
    ("پس از پایان کارشناسی", set()),
    ("گواهی پایان کار", {"municipal_certificates"}),
    ("معافیت تحصیلی", {"military_service_status"}),
    ("معافیت مالیاتی", set()),
    ("attach a photo", {"photo"}),
    ("attach two photos", {"photo"}),
    ("photocopy of the deed", set()),
    ("photography is not allowed", set()),
    ("Bring your ID", {"national_card", "shenasnameh"}),
    ("a good idea", set()),
    ("he did it", set()),
    ("Diplomatic pouch", set()),
    ("Copy of diploma", {"school_diploma"}),
])
def test_short_and_compound_words(lexicon: Lexicon, text: str, expected: set[str]) -> None:
    assert _docs(lexicon, text) == expected


# --------------------------------------------------------------------------- English

@pytest.mark.parametrize(("text", "expected"), [
    ("BIRTH CERTIFICATE", {"shenasnameh"}),
    ("Birth Certificates of all children", {"shenasnameh"}),
    ("Copies of birth certificates", {"shenasnameh"}),
    ("National ID card (both sides)", {"national_card"}),
    ("police clearance certificate", {"criminal_record_certificate"}),
    ("certificate of good conduct", {"criminal_record_certificate"}),
    ("Tax clearance certificate", {"tax_clearance"}),
    ("proof of address such as a utility bill", {"residence_proof", "utility_bill"}),
    ("three months of bank statements", {"bank_statement"}),
    ("salary slips", {"employment_payslip"}),
    ("payslip", {"employment_payslip"}),
    ("marriage certificate and death certificate", {"marriage_certificate", "death_certificate"}),
    ("notarized power of attorney", {"power_of_attorney"}),
    ("title deed", {"property_deed"}),
    ("rental agreement", {"real_estate_contract"}),
    ("medical fitness certificate", {"medical_certificate"}),
    ("driving licence or driver's license", {"driving_license"}),
    ("vehicle registration card", {"vehicle_ownership"}),
    ("business licence", {"business_license"}),
    ("articles of association", {"company_registration_docs"}),
    ("draft articles of association", set()),
    ("military service completion card or exemption certificate", {"military_service_status"}),
    ("transcript and degree certificate", {"university_degree"}),
])
def test_english_names(lexicon: Lexicon, text: str, expected: set[str]) -> None:
    assert _docs(lexicon, text) == expected


# --------------------------------------------------------------------------- what a match says

def test_longest_match_wins_and_positions_are_in_the_normalised_text(lexicon: Lexicon) -> None:
    text = "ارائه سند مالکیت خودرو و كپي كارت‌ملي"
    matches = lexicon.find_documents(text)
    assert [(m.doc_id, m.matched, m.via) for m in matches] == [
        ("vehicle_ownership", "سند مالکیت خودرو", "name"), ("national_card", "كارت‌ملي", "name")]
    spaced = normalize(text)
    assert [spaced[m.start:m.end] for m in matches] == ["سند مالکیت خودرو", "کارت ملی"]
    assert matches[1].name == "کارت ملی"


def test_plural_endings_are_part_of_the_surface(lexicon: Lexicon) -> None:
    (match,) = lexicon.find_documents("Upload copies of birth certificates.")
    assert match.matched == "birth certificates"
    (match,) = lexicon.find_documents("ارائه عکسها")
    assert match.matched == "عکسها"


def test_identifiers_hide_the_documents_inside_them(lexicon: Lexicon) -> None:
    assert lexicon.find_documents("شماره شناسنامه و سریال پشت کارت ملی") == []
    assert lexicon.find_identifiers("شماره شناسنامه و سریال پشت کارت ملی") == [
        "shenasnameh_no_serial", "national_card_serial"]
    assert lexicon.find_identifiers("کد ملی فروشنده، کد ملی خریدار و کدپستی") == ["national_code", "postal_code"]
    assert lexicon.find_identifiers("National code; Date of birth; Mobile number") == [
        "national_code", "birth_date", "mobile"]


def test_umbrella_terms_expand_and_unresolved_ones_are_reported(lexicon: Lexicon) -> None:
    matches = lexicon.find_documents("بارگذاری مدارک هویتی متقاضی")
    assert {m.doc_id for m in matches} == {"national_card", "shenasnameh"}
    assert all(m.via == "umbrella" and m.umbrella == "مدارک هویتی" and m.umbrella_id == "identity_documents"
               for m in matches)
    assert all(m.matched == "مدارک هویتی" for m in matches)

    text = "ارائه مدارک لازم و مدارک تحصیلی"
    assert [(u.umbrella_id, u.resolved) for u in lexicon.find_umbrella(text)] == [
        ("unspecified_documents", False), ("education_documents", True)]
    (unresolved,) = lexicon.find_umbrella(text, unresolved_only=True)
    assert unresolved.matched == "مدارک لازم" and unresolved.expands_to == ()
    assert _docs(lexicon, text) == {"university_degree", "school_diploma"}


def test_non_evidence_beats_nothing_but_loses_to_a_longer_document(lexicon: Lexicon) -> None:
    hits = lexicon.phrase_hits("تحویل تعهدنامه و نقشه های معماری")
    assert [(h.id, h.name) for h in hits.non_evidence] == [
        ("self_declaration", "تعهدنامه"), ("technical_drawings", "نقشه های معماری")]
    assert "e-signed" in hits.non_evidence[0].action
    assert _docs(lexicon, "تحویل تعهدنامه محضری") == {"notarial_consent_undertaking"}
    assert lexicon.phrase_hits("تحویل تعهدنامه محضری").non_evidence == ()


# --------------------------------------------------------------------------- phrases

def test_request_phrases_and_qualifiers(lexicon: Lexicon) -> None:
    hits = lexicon.phrase_hits("ارائه اصل و کپی کارت ملی الزامی است")
    assert hits.request == ("ارائه", "اصل و کپی", "کپی")
    assert set(hits.qualifier) == {"اصل و کپی", "کپی"}
    assert hits.modality == ("الزامی است",)
    assert hits.internal_processing == hits.payment == hits.output_to_citizen == ()


def test_quantity_patterns(lexicon: Lexicon) -> None:
    assert lexicon.phrase_hits("ارائه ۲ قطعه عکس").quantity == ("2 قطعه",)
    assert lexicon.phrase_hits("دو نسخه کپی شناسنامه").quantity == ("دو نسخه",)
    assert lexicon.phrase_hits("Hand in six recent 3x4 photos").quantity == ("six recent 3x4 photos",)
    assert lexicon.phrase_hits("ارائه عکس").quantity == ()


def test_negative_signals(lexicon: Lexicon) -> None:
    assert lexicon.phrase_hits("بررسی مدارک و تطبیق با اصل").internal_processing == ("بررسی مدارک", "تطبیق با اصل")
    assert lexicon.phrase_hits("استعلام برخط وضعیت نظام وظیفه").already_inquiry == ("استعلام برخط",)
    assert lexicon.phrase_hits("پرداخت هزینه با کارتخوان").payment == ("پرداخت", "کارتخوان")
    assert lexicon.phrase_hits("ارائه فیش لازم نیست").negation == ("لازم نیست",)


def test_output_to_the_applicant_is_recognised_across_words(lexicon: Lexicon) -> None:
    hits = lexicon.phrase_hits("تحویل حکم بازنشستگی و کارت شناسایی بازنشستگی به بیمه‌شده")
    assert "تحویل حکم بازنشستگی و کارت شناسایی بازنشستگی به بیمه شده" in hits.output_to_citizen
    assert "بیمه شده" in hits.applicant_role
    english = lexicon.phrase_hits("Deliver the signed employment decree to the applicant")
    assert english.output_to_citizen == ("deliver the signed employment decree to the applicant",)
    # towards an office, not the applicant: no output
    assert lexicon.phrase_hits("تحویل تصویر شناسنامه و کارت ملی بیمه‌شده به شعبه").output_to_citizen == ()


def test_the_applicant_used_as_a_courier(lexicon: Lexicon) -> None:
    assert lexicon.phrase_hits("دریافت پوشه اماکن از پلیس اماکن و تحویل آن به اتحادیه").courier
    assert lexicon.phrase_hits("اخذ استعلام از شهرداری توسط متقاضی").courier
    assert lexicon.phrase_hits("Obtain a certificate of no criminal record and hand it in to HR").courier
    # taking papers from the applicant is a request, not courier work
    assert lexicon.phrase_hits("دریافت مدارک از متقاضی و ارسال به کارشناس").courier == ()


def test_signal_words_inside_a_document_name_do_not_count(lexicon: Lexicon) -> None:
    assert lexicon.phrase_hits("ارائه گواهی پرداخت جرایم").payment == ()
    assert lexicon.phrase_hits("certificate of no criminal record").internal_processing == ()
    assert lexicon.phrase_hits("record the reply").internal_processing == ("record",)
    # a request qualifier inside a name still counts
    assert "تصویر" in lexicon.phrase_hits("تصویر گواهینامه").qualifier


def test_applicant_roles(lexicon: Lexicon) -> None:
    assert lexicon.phrase_hits("مالک / متقاضی").applicant_role == ("مالک", "متقاضی")
    assert lexicon.phrase_hits("زوجین").applicant_role == ("زوجین",)
    assert lexicon.phrase_hits("Applicant").applicant_role == ("applicant",)
    assert lexicon.phrase_hits("Candidates").applicant_role == ("candidate",)
    assert lexicon.phrase_hits("HR office").applicant_role == ()
    assert lexicon.phrase_hits("ولی این مرحله").applicant_role == ()      # «ولی» = but


def test_find_phrases_gives_positions(lexicon: Lexicon) -> None:
    text = "صدور پروانه کسب"
    spaced = normalize(text)
    phrases = lexicon.find_phrases(text)
    assert [(p.category, spaced[p.start:p.end]) for p in phrases] == [("output_to_citizen", "صدور پروانه")]
    assert lexicon.document_ids(text) == ("business_license",)


# --------------------------------------------------------------------------- speed and caching

def test_results_are_cached_per_text(lexicon: Lexicon) -> None:
    assert lexicon.phrase_hits("ارائه اصل شناسنامه") is lexicon.phrase_hits("ارائه اصل شناسنامه")
    assert default_lexicon() is lexicon


_TEMPLATES = [
    "ارائه اصل و تصویر شناسنامه و کارت ملی {i}", "بارگذاری تصویر کارت پایان خدمت یا معافیت {i}",
    "بررسی مدارک و تطبیق با اصل {i}", "تحویل پروانه کسب به متقاضی {i}", "پرداخت هزینه از درگاه پرداخت {i}",
    "استعلام برخط وضعیت نظام وظیفه {i}", "Upload a scan of the national ID card {i}",
    "Check the submitted documents {i}", "ثبت درخواست در سامانه و دریافت کد رهگیری {i}",
]
_LABELS = ["کد ملی {i}", "تصویر سند مالکیت {i}", "Mobile number {i}", "عکس ۳×۴ رنگی {i}"]
_DOC = "مدارک لازم: اصل شناسنامه، کپی کارت ملی، دو قطعه عکس و گواهی عدم سوء پیشینه؛ نیازی به فیش نیست. {i}"


def test_cached_and_uncached_scans_agree(lexicon: Lexicon) -> None:
    """The per-text cache returns what a fresh scan finds (speed: bench/analyze.py, not a test)."""
    texts = []
    for i in range(500):
        texts.append(_TEMPLATES[i % len(_TEMPLATES)].format(i=i))
        texts += [label.format(i=i) for label in _LABELS[: i % 4]]
        if i % 3 == 0:
            texts.append(_DOC.format(i=i))
    assert len(texts) > 1400
    first = [(lexicon.document_ids(t), lexicon.find_identifiers(t), lexicon.phrase_hits(t)) for t in texts]
    lexicon.clear_cache()
    again = [(lexicon.document_ids(t), lexicon.find_identifiers(t), lexicon.phrase_hits(t)) for t in texts]
    assert first == again
    assert sum(1 for docs, _, _ in first if "shenasnameh" in docs) > 100
