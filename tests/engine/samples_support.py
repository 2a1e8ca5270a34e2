"""Running the shared sample models end to end: redesign them, and answer their forms with synthetic people.

The samples' ``test_paths`` (``../shared/samples/specs``) give form answers
per task with made-up national codes; the simulator answers inquiries from
its synthetic population, so the identifiers are replaced by those of real
(synthetic) people, and the identifiers the redesign added to the forms
(birth date, registry plate...) are given as start data.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from bpmn.catalog import default_catalog
from bpmn.detect import detect
from bpmn.load import Source, load_path
from bpmn.model import read_model
from bpmn.redesign import redesign
from engine.population import Person, population

# Every operator the samples call that is not an inquiry (DESIGN §7: --mock).
MOCKS: dict[str, Any] = {
    "municipal/estelam_batch": {"heritage": "clear", "water": "ok", "power": "ok"},
    "gsb/tax_registration": {"registered": True},
    "gsb/post_gnaf": {"valid": True},
    "ssaa/gazette_publish": {"published": True},
    "gsb/tamin_history": {"years": 8},
    "gsb/nocr_vital_events": {"groom": "single", "bride": "single"},
    "tamin/insurance_history": {"years": 30},
    "gsb/exit_ban_and_conscription_status": {"exit_ban": False, "conscription": "served"},
    "gsb/traffic_vehicle": {"stolen": False, "seized": False},
}


def redesigned(path: Path) -> Source:
    """The once-only redesign of a sample model, as a loaded source that can read its (new) forms."""
    (source,) = load_path(path)
    model = read_model(source)
    return redesign(model, detect(model, default_catalog())).as_source(source)


def main_path(shared: Path, model_id: str, scenario: str = "main") -> dict[str, Any]:
    """The form answers of one test path of a sample's spec."""
    spec = yaml.safe_load((shared / "samples" / "specs" / f"{model_id}.yaml").read_text(encoding="utf-8"))
    return dict(spec["test_paths"][scenario])


def subject() -> tuple[Person, Person]:
    """A man with a deed, a vehicle and a bank account, and his spouse (stable for the seed)."""
    pop = population()
    for index in range(len(pop.persons)):
        person = pop.sample_person(index, gender="male", deeds=True, vehicle=True, bank=True)
        spouse = pop.lookup_person((person.facts.get("family") or {}).get("spouse_national_code") or "")
        if spouse is not None:
            return person, spouse
    raise LookupError("no suitable person in the population")


def identifiers(person: Person, spouse: Person) -> dict[str, Any]:
    """Values for the identifier fields the samples and their redesigns use."""
    pop = population()
    deed = next(d for d in pop.deeds if any(o["national_code"] == person.national_code
                                            for o in d["owners_and_shares"]))
    vehicle = next(v for v in pop.vehicles.values() if v["owner"] == person.national_code)
    notarial = next((n for n in pop.notarial.values() if person.national_code in n["parties"]), None)
    company = next(iter(pop.companies.values()))
    out = {
        "national_code": person.national_code, "owner_national_code": person.national_code,
        "groom_national_code": person.national_code, "bride_national_code": spouse.national_code,
        "seller_national_code": person.national_code, "buyer_national_code": spouse.national_code,
        "groom_birth_date": person.birth_date_jalali, "bride_birth_date": spouse.birth_date_jalali,
        "seller_birth_date": person.birth_date_jalali, "buyer_birth_date": spouse.birth_date_jalali,
        "birth_date": person.birth_date_jalali, "mobile": person.mobile or "09120000000",
        "postal_code": person.postal_code, "shop_postal_code": person.postal_code,
        "registry_plate": deed["registry_plate_main_sub"], "registry_plate_main_sub": deed["registry_plate_main_sub"],
        "deed_serial_or_unique_id": deed["deed_serial_or_unique_id"], "plate_number": vehicle["plate"],
        "iban": person.facts["bank"]["iban"], "insurance_no": (person.facts.get("tamin") or {}).get("insurance_no"),
        "legal_entity_national_id": company["legal_entity_national_id"],
    }
    if notarial is not None:
        out.update(document_unique_id=notarial["document_unique_id"],
                   notarial_verification_code=notarial["verification_code"])
    return out


def answers_for(answers: dict[str, Any], ids: dict[str, Any], source: Source) -> dict[str, Any]:
    """The test path's answers with real identifiers, and consent given wherever the redesign asks for it."""
    def fix(mapping: dict[str, Any]) -> dict[str, Any]:
        return {k: (ids[k] if k in ids and ids[k] is not None else v) for k, v in mapping.items()}

    out = {task: [fix(a) for a in value] if isinstance(value, list) else fix(value) for task, value in answers.items()}
    text = source.data.decode("utf-8")
    for task_id in re.findall(r'<bpmn:userTask id="(consent_[^"]+)"', text):
        out[task_id] = {name: True for name in set(re.findall(r"\b(consent_\w+) == True", text))}
    return out
