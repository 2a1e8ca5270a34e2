"""What each simulated agency registry answers: catalog inquiry → answer from the population.

Pure functions, no HTTP: :func:`answer` checks the parameters of one inquiry
against the catalog (names, required inputs, identifier formats and check
digits) and answers it from a :class:`~engine.population.Population`. The
simulator (``engine.simulator``) puts this behind a real HTTP server; a
:class:`~engine.connectors.FakeConnector` can use it in-process.

Parameter names are catalog identifier ids (``national_code``,
``plate_number`` ...; for an "any of" input, whichever id is given) plus the
service's ``context`` items (``live_selfie``, ``explicit_consent`` ...). The
answer's ``data`` has exactly the service's ``returns`` fields: a registry
that answered more than asked would break data minimisation.

Statuses follow the catalog's ``audit_record_schema.result.status``: ``OK``;
``NOT_FOUND`` (no such subject/record); ``SUBJECT_MISMATCH`` (the record
exists but another given identifier does not belong to it: wrong birth date,
wrong owner); ``DENIED`` (no consent, or no legal basis given).
``criterion_result`` of a criterion service is its yes/no field
(``match``, ``has_effective_criminal_record`` ...); for those answering an
amount or rating it is true when the subject is clear (no fines, white
cheque rating, score at least 0.9).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bpmn.catalog import Catalog, InquiryService
from bpmn.errors import PanjerehError
from engine import identifiers as ids
from engine.population import REFERENCE_DAY, Person, Population

OK, NOT_FOUND, SUBJECT_MISMATCH, DENIED = "OK", "NOT_FOUND", "SUBJECT_MISMATCH", "DENIED"


@dataclass(frozen=True)
class Answer:
    """A registry's answer to one inquiry (``data`` holds only the service's ``returns``)."""

    status: str
    data: Mapping[str, Any] = field(default_factory=dict)
    criterion_result: bool | None = None


class BadParameters(PanjerehError):
    """The inquiry's parameters do not fit the catalog (the simulator answers 400)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)


class _Refused(PanjerehError):
    """Internal: stop answering with a non-OK status (never leaves this module)."""

    def __init__(self, status: str) -> None:
        self.status = status
        super().__init__(status)


Params = Mapping[str, Any]
Handler = Callable[[Population, Params], dict[str, Any]]
Sampler = Callable[[Population, int], dict[str, Any]]
_HANDLERS: dict[str, Handler] = {}
_SAMPLES: dict[str, Sampler] = {}
# Context items that are free text or flags, not identifiers: passed through unvalidated.
_CONTEXT_KEYS = ("live_selfie", "explicit_consent", "legal_basis", "purpose", "requesting_agency")


def _service(service_id: str, sample: Sampler) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _HANDLERS[service_id] = fn
        _SAMPLES[service_id] = sample
        return fn
    return register


def handled_services() -> frozenset[str]:
    """The service ids with a dedicated handler (others get a generic person-based answer)."""
    return frozenset(_HANDLERS)


# --- parameter checks -------------------------------------------------------------

def normalize_key(name: str) -> str:
    """A returns field name reduced for matching (``has_x_Y_N`` → ``has_x``, ``status_e.g._…`` → ``status``)."""
    key = name.lower().split("_e.g.")[0]
    for suffix in ("_y_n", "_true_false", "_optional", "_maybe"):
        key = key.removesuffix(suffix)
    return key


def check_parameters(service: InquiryService, catalog: Catalog, params: Params) -> dict[str, Any]:
    """The parameters with identifier values normalised (ASCII digits, trimmed); raises :class:`BadParameters`."""
    allowed = {i for ref in service.inputs for i in ref.ids} | set(service.context) | set(_CONTEXT_KEYS)
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise BadParameters("parameters.unknown", f"{service.id} takes no parameter {unknown[0]!r}")
    out: dict[str, Any] = {}
    for name, value in params.items():
        if name in _CONTEXT_KEYS or name in service.context:
            out[name] = value
            continue
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise BadParameters("parameters.type", f"{name} must be a string")
        text = ids.ascii_digits(str(value)).strip()
        ident = catalog.identifiers.get(name)
        if name == "iban":
            text = text.replace(" ", "").upper()
        if ident is not None and text and not ident.is_valid(text):
            # Never echo the value: it is personal data.
            raise BadParameters("parameters.invalid", f"{name} is not a valid {ident.id}")
        if text:
            out[name] = text
    for ref in service.inputs:
        if not ref.optional and not any(i in out for i in ref.ids):
            raise BadParameters("parameters.missing", f"{service.id} needs {' or '.join(ref.ids)}")
    return out


def answer(service: InquiryService, catalog: Catalog, params: Params, pop: Population) -> Answer:
    """Answer one inquiry. Raises :class:`BadParameters` when the request is malformed."""
    checked = check_parameters(service, catalog, params)
    handler = _HANDLERS.get(service.id, _generic)
    try:
        values = handler(pop, checked)
    except _Refused as refused:
        return Answer(refused.status)
    normalized = {normalize_key(k): v for k, v in values.items()}
    data = {name: normalized[normalize_key(name)] for name in service.returns if normalize_key(name) in normalized}
    criterion = values.get("_criterion")
    if criterion is None and service.kind == "criterion" and service.returns:
        first = data.get(service.returns[0])
        criterion = first if isinstance(first, bool) else None
    return Answer(OK, data, criterion if service.kind == "criterion" else None)


def sample_parameters(service: InquiryService, pop: Population, index: int = 0) -> dict[str, Any]:
    """Parameters that make ``service`` answer OK: a valid subject for demos and tests."""
    sampler = _SAMPLES.get(service.id)
    if sampler is not None:
        return sampler(pop, index)
    person = pop.sample_person(index)
    return {ref.ids[0]: person.national_code for ref in service.inputs if not ref.optional}


# --- look-up helpers ----------------------------------------------------------------

def _person(pop: Population, p: Params, name: str = "national_code") -> Person:
    person = pop.by_code.get(p.get(name, ""))
    if person is None:
        raise _Refused(NOT_FOUND)
    return person


def _same(given: Any, expected: Any) -> None:
    """A second identifier that does not belong to the subject is a mismatch, not a miss."""
    if given is not None and given != expected:
        raise _Refused(SUBJECT_MISMATCH)


def _birth(p: Params, person: Person) -> None:
    if "birth_date" in p:
        _same(ids.parse_jalali(p["birth_date"]), person.birth_date)


def _party(pop: Population, p: Params) -> tuple[Person | None, dict[str, Any] | None]:
    """The person (national code) or company (legal id) an "any of" input names."""
    if "legal_entity_national_id" in p:
        company = pop.companies.get(p["legal_entity_national_id"])
        if company is None:
            raise _Refused(NOT_FOUND)
        return None, company
    return _person(pop, p), None


def _party_record(person: Person | None, company: Mapping[str, Any] | None, name: str) -> Any:
    """Registry ``name``'s record of whichever party was named."""
    return person.facts.get(name) if person else company.get(name) if company else None


def _party_id(person: Person | None, company: Mapping[str, Any] | None) -> str:
    return person.national_code if person else str(company["legal_entity_national_id"]) if company else ""


def _deed_by_plate(pop: Population, text: str) -> dict[str, Any]:
    """``123 فرعی از 45 اصلی – بخش 11 تهران`` (section optional) or ``45/123`` → the deed."""
    m = re.search(r"(\d+)\s*فرعی\s*از\s*(\d+)\s*اصلی", text) or re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if m is None:
        raise BadParameters("parameters.invalid", "registry_plate_main_sub is not a registry plate")
    sub, main = (m.group(1), m.group(2)) if "فرعی" in text else (m.group(2), m.group(1))
    hit = pop.keys.get(("plate", f"{int(main)}/{int(sub)}"))
    if hit is None:
        raise _Refused(NOT_FOUND)
    deed = hit[1]
    section = re.search(r"بخش\s*(\d+)", text)
    _same(int(section.group(1)) if section else None, deed["section"] if section else None)
    return deed


def _record(pop: Population, kind: str, key: str | None) -> dict[str, Any]:
    rec = pop.secondary(kind, key) if key else None
    if rec is None:
        raise _Refused(NOT_FOUND)
    return rec


def _vehicle(pop: Population, p: Params) -> dict[str, Any]:
    if "plate_number" in p:
        key = ids.plate_key(p["plate_number"])
        if key is None:
            raise BadParameters("parameters.invalid", "plate_number is not a vehicle plate")
        v = pop.vehicles.get(key)
        if v is None:
            raise _Refused(NOT_FOUND)
        _same(p.get("vin", "").upper() or None, v["vin"] if p.get("vin") else None)
        return v
    return _record(pop, "vin", p.get("vin", "").upper())


def _fact(person: Person, name: str) -> dict[str, Any]:
    rec = person.facts.get(name)
    if not rec:
        raise _Refused(NOT_FOUND)
    return rec


def _holder(person: Person) -> dict[str, Any]:
    return {"national_code": person.national_code, "name": person.full_name}


def _valid(jalali: str | None) -> bool:
    parsed = ids.parse_jalali(jalali) if jalali else None
    return parsed is not None and parsed >= REFERENCE_DAY


def _nc(pop: Population, i: int, **criteria: Any) -> Person:
    return pop.sample_person(i, **criteria)


def _generic(pop: Population, p: Params) -> dict[str, Any]:
    """A catalog service without a dedicated handler: confirm the subject, return nulls."""
    for key in ("national_code", "legal_entity_national_id"):
        if key in p:
            _party(pop, p)
            return {}
    raise _Refused(NOT_FOUND)


# --- civil registry (NOCR) -----------------------------------------------------------------

def _id_bd(pop: Population, i: int, **criteria: Any) -> dict[str, Any]:
    person = _nc(pop, i, **criteria)
    return {"national_code": person.national_code, "birth_date": person.birth_date_jalali}


@_service("nocr_identity", _id_bd)
def _nocr_identity(pop: Population, p: Params) -> dict[str, Any]:
    person = _person(pop, p)
    _birth(p, person)
    return {"first_name": person.first_name, "last_name": person.last_name, "father_name": person.father_name,
            "gender": person.gender, "birth_date": person.birth_date_jalali,
            "birth_date_gregorian": person.birth_date_gregorian,
            "shenasnameh_no_serial": person.facts["civil"]["shenasnameh_no_serial"], "alive_status": person.alive,
            "death_date": ids.format_jalali(person.death_date) if person.death_date else None}


def _card_sample(pop: Population, i: int) -> dict[str, Any]:
    person = _nc(pop, i)
    return {**_id_bd(pop, i), "national_card_serial": person.facts["card"]["national_card_serial"]}


@_service("nocr_card_validity", _card_sample)
def _nocr_card(pop: Population, p: Params) -> dict[str, Any]:
    person = _person(pop, p)
    _birth(p, person)
    card = person.facts["card"]
    same = p.get("national_card_serial", "").upper() == card["national_card_serial"]
    return {"card_valid": same and _valid(card["card_expiry"]), "card_expiry": card["card_expiry"] if same else None}


@_service("nocr_face_match", lambda pop, i: {**_card_sample(pop, i), "live_selfie": "data:image/jpeg;base64,AAAA"})
def _nocr_face(pop: Population, p: Params) -> dict[str, Any]:
    person = _person(pop, p)
    _birth(p, person)
    _same(p.get("national_card_serial", "").upper(), person.facts["card"]["national_card_serial"])
    selfie = p.get("live_selfie")
    if not isinstance(selfie, str) or not selfie:
        raise BadParameters("parameters.missing", "nocr_face_match needs live_selfie")
    # Deterministic "biometrics": nine selfies in ten match.
    roll = hashlib.sha256(f"{person.national_code}:{selfie}".encode()).digest()[0]
    score = round(0.90 + roll / 2550, 3) if roll < 230 else round(0.2 + roll / 2550, 3)
    return {"match_score": score, "_criterion": score >= 0.9}


@_service("nocr_vital_events", _id_bd)
def _nocr_vital(pop: Population, p: Params) -> dict[str, Any]:
    person = _person(pop, p)
    _birth(p, person)
    fam = person.facts["family"]
    return {**fam, "death": {"dead": not person.alive,
                             "date": ids.format_jalali(person.death_date) if person.death_date else None}}


@_service("nocr_sahim_family", lambda pop, i: {"national_code": _nc(pop, i).national_code})
def _nocr_sahim(pop: Population, p: Params) -> dict[str, Any]:
    person = _person(pop, p)
    household = [q for q in pop.persons if q.household == person.household and q is not person]
    father = person.facts["civil"]["father_national_code"]
    relatives = []
    for q in household:
        if q.national_code == person.facts["family"]["spouse_national_code"]:
            rel = "spouse"
        elif q.national_code in person.facts["family"]["children"]:
            rel = "child"
        elif q.national_code == father:
            rel = "father"
        elif father and q.facts["civil"]["father_national_code"] == father:
            rel = "sibling"
        else:
            rel = "mother" if q.gender == "female" and person.national_code in q.facts["family"]["children"] \
                else "household"
        relatives.append({"national_code": q.national_code, "name": q.full_name, "relation": rel})
    tree = {"father": father, "spouse": person.facts["family"]["spouse_national_code"],
            "children": person.facts["family"]["children"]}
    return {"relatives": relatives, "family_tree": tree}


@_service("cra_shahkar", lambda pop, i: {"national_code": _nc(pop, i).national_code,
                                         "mobile": _nc(pop, i).mobile})
def _shahkar(pop: Population, p: Params) -> dict[str, Any]:
    person, _company = _party(pop, p)
    return {"match": person is not None and person.mobile == p.get("mobile")}


# --- addresses, property, companies -------------------------------------------------------

@_service("post_gnaf", lambda pop, i: {"postal_code": _nc(pop, i).postal_code})
def _gnaf(pop: Population, p: Params) -> dict[str, Any]:
    if not ids.is_valid_postal_code(p["postal_code"]):
        return {"postal_code_valid": False, "address_components": None, "geo_location": None}
    addr = pop.addresses.get(p["postal_code"])
    if addr is None:
        raise _Refused(NOT_FOUND)
    parts = {k: addr[k] for k in ("province", "city", "street", "alley", "plaque", "unit")}
    return {"address_components": parts, "geo_location": addr["geo_location"], "postal_code_valid": True}


@_service("mrud_amlak_eskan", lambda pop, i: {"national_code": _nc(pop, i).national_code,
                                              "postal_code": _nc(pop, i).postal_code})
def _amlak(pop: Population, p: Params) -> dict[str, Any]:
    person = _person(pop, p)
    _same(p.get("postal_code"), person.postal_code)
    addr = pop.addresses[person.postal_code]
    return {"residence_status_owner_or_tenant": addr["tenure"], "dwelling_units": len(person.facts.get("deeds", [])),
            "household_address": pop.address_text(person.postal_code)}


def _deed_sample(pop: Population, i: int) -> dict[str, Any]:
    deed = pop.deeds[i % len(pop.deeds)]
    return {"national_code": deed["owners_and_shares"][0]["national_code"],
            "registry_plate_main_sub": deed["registry_plate_main_sub"],
            "deed_serial_or_unique_id": deed["deed_serial_or_unique_id"]}


@_service("ssaa_property", _deed_sample)
def _property(pop: Population, p: Params) -> dict[str, Any]:
    deed = None
    if "deed_serial_or_unique_id" in p:
        key = p["deed_serial_or_unique_id"]
        deed = _record(pop, "deed_serial", key) if ("deed_serial", key) in pop.keys else _record(pop, "book", key)
    if "registry_plate_main_sub" in p:
        by_plate = _deed_by_plate(pop, p["registry_plate_main_sub"])
        if deed is not None:
            _same(by_plate["deed_serial_or_unique_id"], deed["deed_serial_or_unique_id"])
        deed = by_plate
    if deed is None:
        deeds = _person(pop, p).facts.get("deeds") or []
        deed = deeds[0] if deeds else None
    if deed is None:
        raise _Refused(NOT_FOUND)
    if "national_code" in p and p["national_code"] not in {o["national_code"] for o in deed["owners_and_shares"]}:
        raise _Refused(SUBJECT_MISMATCH)
    return {k: deed[k] for k in ("owners_and_shares", "area", "encumbrances_mortgage_seizure", "deed_status")}


def _notarial_sample(pop: Population, i: int) -> dict[str, Any]:
    doc = list(pop.notarial.values())[i % len(pop.notarial)]
    return {"document_unique_id": doc["document_unique_id"], "notarial_verification_code": doc["verification_code"],
            "national_code": doc["parties"][0]}


@_service("ssaa_notarial_doc", _notarial_sample)
def _notarial(pop: Population, p: Params) -> dict[str, Any]:
    doc = pop.notarial.get(p.get("document_unique_id", ""))
    if doc is None:
        raise _Refused(NOT_FOUND)
    _same(p.get("notarial_verification_code"), doc["verification_code"])
    if "national_code" in p and p["national_code"] not in doc["parties"]:
        raise _Refused(SUBJECT_MISMATCH)
    return {"document_type": doc["document_type"], "parties": doc["parties"], "date": doc["date"],
            "status": doc["status"]}


def _contract_sample(pop: Population, i: int) -> dict[str, Any]:
    c = list(pop.contracts.values())[i % len(pop.contracts)]
    return {"contract_tracking_code": c["tracking_code"], "national_code": c["parties"][-1]}


@_service("ssaa_real_estate_contract", _contract_sample)
def _contract(pop: Population, p: Params) -> dict[str, Any]:
    c = pop.contracts.get(p.get("contract_tracking_code") or p.get("document_unique_id", ""))
    if c is None:
        raise _Refused(NOT_FOUND)
    if "national_code" in p and p["national_code"] not in c["parties"]:
        raise _Refused(SUBJECT_MISMATCH)
    return {k: c[k] for k in ("parties", "property", "term", "status")}


def _company_sample(pop: Population, i: int) -> dict[str, Any]:
    return {"legal_entity_national_id": list(pop.companies)[i % len(pop.companies)]}


@_service("ssaa_legal_entity", _company_sample)
def _legal_entity(pop: Population, p: Params) -> dict[str, Any]:
    _, company = _party(pop, p)
    return dict(company or {})


# --- judiciary, police ---------------------------------------------------------------------

@_service("judiciary_criminal_record", lambda pop, i: {"national_code": _nc(pop, i).national_code})
def _criminal(pop: Population, p: Params) -> dict[str, Any]:
    rec = _fact(_person(pop, p), "criminal")
    return {"has_effective_criminal_record": rec["has_effective_record"], "certificate_tracking_no": rec["tracking_no"]}


@_service("judiciary_sana", lambda pop, i: {"national_code": _nc(pop, i).national_code})
def _sana(pop: Population, p: Params) -> dict[str, Any]:
    person, company = _party(pop, p)
    rec = _party_record(person, company, "sana")
    return {"registered": bool(rec and rec["registered"])}


def _judgment_sample(pop: Population, i: int) -> dict[str, Any]:
    j = list(pop.judgments.values())[i % len(pop.judgments)]
    return {"judgment_no": j["case_or_judgment_no"], "national_code": j["national_code"]}


@_service("judiciary_case", _judgment_sample)
def _judgment(pop: Population, p: Params) -> dict[str, Any]:
    j = pop.judgments.get(p.get("judgment_no", ""))
    if j is None:
        raise _Refused(NOT_FOUND)
    _same(p.get("national_code"), j["national_code"])
    return {"judgment_summary": j["judgment_summary"], "finality": j["finality"]}


@_service("conscription_status", lambda pop, i: {"national_code": _nc(pop, i, gender="male").national_code})
def _conscription(pop: Population, p: Params) -> dict[str, Any]:
    person = _person(pop, p)
    rec = person.facts.get("military") or {"status": "not_applicable", "exemption_type": None, "card_serial": None}
    return dict(rec)


def _passport_sample(pop: Population, i: int) -> dict[str, Any]:
    person = _nc(pop, i, passport=True)
    return {"national_code": person.national_code, "mobile": person.mobile}


@_service("passport_status", _passport_sample)
def _passport(pop: Population, p: Params) -> dict[str, Any]:
    person = _person(pop, p)
    _same(p.get("mobile"), person.mobile)
    rec = person.facts.get("passport") or {"passport_no": None, "validity": None, "exit_ban": False}
    return dict(rec)


def _vehicle_sample(pop: Population, i: int) -> dict[str, Any]:
    person = _nc(pop, i, vehicle=True)
    v = person.facts["vehicle"]
    return {"national_code": person.national_code, "plate_number": ids.format_plate(v["plate"]), "vin": v["vin"]}


@_service("traffic_vehicle", _vehicle_sample)
def _traffic_vehicle(pop: Population, p: Params) -> dict[str, Any]:
    v = _vehicle(pop, p)
    _same(p.get("national_code"), v["owner"])
    owner = pop.by_code[v["owner"]]
    return {"owner": _holder(owner), "vehicle_spec": v["vehicle_spec"],
            "card_and_document_status": v["card_and_document_status"], "plate_history": v["plate_history"]}


def _fines_sample(pop: Population, i: int) -> dict[str, Any]:
    person = _nc(pop, i, vehicle=True)
    return {"plate_number": ids.format_plate(person.facts["vehicle"]["plate"]),
            "national_code": person.national_code, "mobile": person.mobile}


@_service("traffic_fines", _fines_sample)
def _fines(pop: Population, p: Params) -> dict[str, Any]:
    v = _vehicle(pop, p)
    _same(p.get("national_code"), v["owner"])
    _same(p.get("mobile"), pop.by_code[v["owner"]].mobile)
    return {"unpaid_fines_amount": v["unpaid_fines_amount"], "_criterion": v["unpaid_fines_amount"] == 0}


def _licence_sample(pop: Population, i: int) -> dict[str, Any]:
    person = _nc(pop, i, licence=True)
    return {"national_code": person.national_code, "mobile": person.mobile}


@_service("traffic_license", _licence_sample)
def _licence(pop: Population, p: Params) -> dict[str, Any]:
    person = _person(pop, p)
    _same(p.get("mobile"), person.mobile)
    rec = _fact(person, "licence")
    _same(p.get("driving_licence_no"), rec["licence_no"] if "driving_licence_no" in p else None)
    return {k: rec[k] for k in ("licence_class", "validity", "penalty_points")}


@_service("central_insurance_tpl", lambda pop, i: {"plate_number": _vehicle_sample(pop, i)["plate_number"]})
def _tpl(pop: Population, p: Params) -> dict[str, Any]:
    v = _vehicle(pop, p)
    _same(p.get("insurance_policy_no"), v["tpl"]["policy_no"] if "insurance_policy_no" in p else None)
    return {k: v["tpl"][k] for k in ("policy_valid", "insurer", "expiry")}


@_service("municipal_estelam", lambda pop, i: {"municipal_file_no": pop.deeds[i % len(pop.deeds)]["municipal_file_no"]})
def _municipal(pop: Population, p: Params) -> dict[str, Any]:
    if "municipal_file_no" in p:
        deed = _record(pop, "municipal_file", p["municipal_file_no"])
    elif "registry_plate_main_sub" in p:
        deed = _deed_by_plate(pop, p["registry_plate_main_sub"])
    else:
        found = [d for d in pop.deeds if d["postal_code"] == p.get("postal_code")]
        if not found:
            raise _Refused(NOT_FOUND)
        deed = found[0]
    return dict(deed["municipal"])


@_service("municipal_vehicle_toll", lambda pop, i: {k: v for k, v in _vehicle_sample(pop, i).items() if k != "vin"})
def _toll(pop: Population, p: Params) -> dict[str, Any]:
    v = _vehicle(pop, p)
    _same(p.get("national_code"), v["owner"])
    return {"tolls_paid": v["tolls_paid"]}


# --- tax, social security, welfare --------------------------------------------------------

@_service("tax_186", lambda pop, i: {"national_code": _nc(pop, i).national_code})
def _tax186(pop: Population, p: Params) -> dict[str, Any]:
    person, company = _party(pop, p)
    tax = _party_record(person, company, "tax")
    if "economic_code" in p and tax["economic_code"] is not None:
        _same(p["economic_code"], tax["economic_code"])
    return {"clearance": tax["clearance"], "debt_amount": tax["debt_amount"]}


def _tax187_sample(pop: Population, i: int) -> dict[str, Any]:
    deed = pop.deeds[i % len(pop.deeds)]
    return {"national_code": deed["owners_and_shares"][0]["national_code"],
            "registry_plate_main_sub": deed["registry_plate_main_sub"]}


@_service("tax_187", _tax187_sample)
def _tax187(pop: Population, p: Params) -> dict[str, Any]:
    person = _person(pop, p)
    if "registry_plate_main_sub" in p:
        deed = _deed_by_plate(pop, p["registry_plate_main_sub"])
        if person.national_code not in {o["national_code"] for o in deed["owners_and_shares"]}:
            raise _Refused(SUBJECT_MISMATCH)
        return {"transfer_tax_paid": deed["transfer_tax_paid"]}
    v = _vehicle(pop, p)
    _same(person.national_code, v["owner"])
    return {"transfer_tax_paid": v["transfer_tax_paid"]}


@_service("tax_registration", lambda pop, i: _company_sample(pop, i))
def _tax_registration(pop: Population, p: Params) -> dict[str, Any]:
    person, company = _party(pop, p)
    tax = _party_record(person, company, "tax")
    return {"registered": tax["registered"], "economic_code": tax["economic_code"],
            "tax_file_status": tax["tax_file_status"]}


@_service("tamin_history", lambda pop, i: {"national_code": _nc(pop, i, tamin=True).national_code,
                                           "insurance_no": _nc(pop, i, tamin=True).facts["tamin"]["insurance_no"]})
def _tamin_history(pop: Population, p: Params) -> dict[str, Any]:
    rec = _fact(_person(pop, p), "tamin")
    _same(p.get("insurance_no"), rec["insurance_no"] if "insurance_no" in p else None)
    return {k: rec[k] for k in ("insured_periods_by_workshop", "days", "wages", "workshop_codes")}


@_service("tamin_clearance", lambda pop, i: {"workshop_code": list(pop.workshops)[i % len(pop.workshops)]})
def _tamin_clearance(pop: Population, p: Params) -> dict[str, Any]:
    if "workshop_code" in p:
        ws = pop.workshops.get(p["workshop_code"])
        if ws is None:
            raise _Refused(NOT_FOUND)
        no_debt = ws["no_debt"]
    else:
        person, company = _party(pop, p)
        no_debt = pop.workshops[company["workshop_code"]]["no_debt"] if company else person is not None
    if "registry_plate_main_sub" in p:
        _deed_by_plate(pop, p["registry_plate_main_sub"])
    return {"no_debt": no_debt}


def _person_only(pop: Population, i: int, **criteria: Any) -> dict[str, Any]:
    return {"national_code": _nc(pop, i, **criteria).national_code}


@_service("health_coverage", _person_only)
def _health_coverage(pop: Population, p: Params) -> dict[str, Any]:
    rec = _fact(_person(pop, p), "health")
    return {"covered": rec["covered"], "insurer": rec["insurer"] if rec["covered"] else None}


@_service("pakna", lambda pop, i: _person_only(pop, i, pakna=True))
def _pakna(pop: Population, p: Params) -> dict[str, Any]:
    return dict(_fact(_person(pop, p), "pakna"))


@_service("pension_status", _person_only)
def _pension(pop: Population, p: Params) -> dict[str, Any]:
    person = _person(pop, p)
    return dict(person.facts.get("pension") or {"pensioner": False, "pension_type": None, "amount": 0})


@_service("welfare_status", _person_only)
def _welfare(pop: Population, p: Params) -> dict[str, Any]:
    return dict(_fact(_person(pop, p), "welfare"))


@_service("isargaran", _person_only)
def _isargar(pop: Population, p: Params) -> dict[str, Any]:
    return dict(_person(pop, p).facts.get("isargar") or {"status_type": None, "percentage": None})


# --- education, licences, permits -----------------------------------------------------------

def _degree_sample(pop: Population, i: int) -> dict[str, Any]:
    return {"degree_verification_code": _nc(pop, i, degrees=True).facts["degrees"][0]["verification_code"]}


@_service("saorg_degree", _degree_sample)
def _saorg(pop: Population, p: Params) -> dict[str, Any]:
    deg = _record(pop, "degree", p.get("degree_verification_code"))
    return {"holder": _holder(pop.by_code[deg["holder"]]), **{k: deg[k] for k in
            ("degree", "field", "institution", "graduation_date")}}


@_service("education_status", _person_only)
def _education(pop: Population, p: Params) -> dict[str, Any]:
    rec = _fact(_person(pop, p), "education")
    return {"enrolled": rec["enrolled"],
            "degrees": [{k: d[k] for k in ("degree", "field", "institution", "graduation_date")}
                        for d in rec["degrees"]]}


@_service("medu_records", lambda pop, i: _person_only(pop, i, diploma=True))
def _medu(pop: Population, p: Params) -> dict[str, Any]:
    rec = _fact(_person(pop, p), "education")
    if not rec["diploma"]:
        raise _Refused(NOT_FOUND)
    return {"diploma": rec["diploma"], "grades": rec["grades"]}


@_service("tvto_certificate", lambda pop, i: _person_only(pop, i, tvto=True))
def _tvto(pop: Population, p: Params) -> dict[str, Any]:
    certs = _person(pop, p).facts.get("tvto", {}).get("certificates", [])
    if "skill_certificate_no" in p:
        certs = [c for c in certs if c["certificate_no"] == p["skill_certificate_no"]]
        if not certs:
            raise _Refused(SUBJECT_MISMATCH)
    return {"certificates": certs}


def _professional_sample(pop: Population, i: int) -> dict[str, Any]:
    person = _nc(pop, i, professional=True)
    return {"membership_no": person.facts["professional"]["membership_no"], "national_code": person.national_code}


@_service("professional_registry", _professional_sample)
def _professional(pop: Population, p: Params) -> dict[str, Any]:
    person = _person(pop, p)
    rec = _record(pop, "membership", p.get("membership_no"))
    _same(rec, person.facts.get("professional"))
    return {"licence_valid": rec["licence_valid"], "grade": rec["grade"]}


def _guild_sample(pop: Population, i: int) -> dict[str, Any]:
    person = _nc(pop, i, guild=True)
    return {"guild_id": person.facts["guild"]["guild_id"], "national_code": person.national_code}


@_service("asnaf_license", _guild_sample)
def _asnaf(pop: Population, p: Params) -> dict[str, Any]:
    person = _person(pop, p)
    rec = _record(pop, "guild", p.get("guild_id"))
    _same(rec, person.facts.get("guild"))
    return {k: rec[k] for k in ("licence_valid", "guild_category", "address", "expiry")}


def _holder_param(holder: str) -> dict[str, str]:
    return {"legal_entity_national_id" if len(holder) == 11 else "national_code": holder}


def _permit_sample(pop: Population, i: int) -> dict[str, Any]:
    permits = [rec for (kind, _), (_, rec) in pop.keys.items() if kind == "permit"]
    rec = permits[i % len(permits)]
    return {"permit_no": rec["permit_no"], **_holder_param(rec["holder"])}


@_service("mojavez_permit", _permit_sample)
def _permit(pop: Population, p: Params) -> dict[str, Any]:
    rec = _record(pop, "permit", p.get("permit_no"))
    _same(p.get("national_code") or p.get("legal_entity_national_id"), rec["holder"])
    holder = pop.by_code.get(rec["holder"])
    return {"permit_valid": rec["permit_valid"], "expiry": rec["expiry"],
            "holder": _holder(holder) if holder else {"legal_entity_national_id": rec["holder"],
                                                      "name": pop.companies[rec["holder"]]["name"]}}


def _iccima_sample(pop: Population, i: int) -> dict[str, Any]:
    cards = [rec for (kind, _), (_, rec) in pop.keys.items() if kind == "iccima"]
    rec = cards[i % len(cards)]
    return {"commercial_card_no": rec["card_no"], **_holder_param(rec["holder"])}


@_service("iccima_card", _iccima_sample)
def _iccima(pop: Population, p: Params) -> dict[str, Any]:
    rec = _record(pop, "iccima", p.get("commercial_card_no"))
    _same(p.get("national_code") or p.get("legal_entity_national_id"), rec["holder"])
    return {"card_valid": rec["card_valid"], "expiry": rec["expiry"]}


# --- banks, utilities, payments, others -----------------------------------------------------

def _iban_sample(pop: Population, i: int) -> dict[str, Any]:
    person = _nc(pop, i, bank=True)
    return {**_id_bd(pop, i, bank=True), "iban": person.facts["bank"]["iban"]}


@_service("cbi_iban_match", _iban_sample)
def _iban(pop: Population, p: Params) -> dict[str, Any]:
    person = _person(pop, p)
    _birth(p, person)
    bank = person.facts.get("bank") or {}
    match = p.get("iban") == bank.get("iban") if "iban" in p else p.get("bank_card_no") == bank.get("card")
    return {"match": match, "account_holder": person.full_name if match else None}


@_service("cbi_cheque", lambda pop, i: _person_only(pop, i, cheque=True))
def _cheque(pop: Population, p: Params) -> dict[str, Any]:
    person, company = _party(pop, p)
    rec = _party_record(person, company, "cheque") or {"colour_rating": "white", "bounced_count": 0}
    if "sayad_id" in p:
        owner = _record(pop, "sayad", p["sayad_id"])["owner"]
        _same(owner, _party_id(person, company))
    return {"colour_rating": rec["colour_rating"], "bounced_count": rec["bounced_count"],
            "_criterion": rec["colour_rating"] == "white"}


@_service("utility_bill_lookup", lambda pop, i: {"bill_id": list(pop.bills)[i % len(pop.bills)]})
def _bill(pop: Population, p: Params) -> dict[str, Any]:
    bill = pop.bills.get(p.get("bill_id", ""))
    if bill is None:
        raise _Refused(NOT_FOUND)
    return {"bill_amount": bill["bill_amount"], "address": bill["address"]}


@_service("fida_foreigners", lambda pop, i: {"fida_code": list(pop.foreigners)[i % len(pop.foreigners)]})
def _fida(pop: Population, p: Params) -> dict[str, Any]:
    rec = pop.foreigners.get(p.get("fida_code", ""))
    if rec is None:
        raise _Refused(NOT_FOUND)
    return {"residence_status": rec["residence_status"], "validity": rec["validity"]}


@_service("police_amaken", lambda pop, i: {"national_code": _nc(pop, i).national_code,
                                           "postal_code": _nc(pop, i).postal_code})
def _amaken(pop: Population, p: Params) -> dict[str, Any]:
    return {"cleared": _fact(_person(pop, p), "amaken")["cleared"]}


@_service("health_records", lambda pop, i: {**_person_only(pop, i), "explicit_consent": True})
def _health_records(pop: Population, p: Params) -> dict[str, Any]:
    person = _person(pop, p)
    # Sensitive data: without the subject's explicit consent the registry refuses.
    if p.get("explicit_consent") is not True:
        raise _Refused(DENIED)
    return {"fit_unfit_or_test_done": _fact(person, "health")["fit"]}


@_service("payment_gateway", lambda pop, i: {"payment_id": list(pop.payments)[i % len(pop.payments)]})
def _payment(pop: Population, p: Params) -> dict[str, Any]:
    rec = pop.payments.get(p.get("payment_id", ""))
    if rec is None:
        raise _Refused(NOT_FOUND)
    return {"paid": rec["paid"], "amount": rec["amount"], "trace_no": rec["trace_no"]}
