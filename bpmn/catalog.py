"""The document catalog: documents, issuers, inquiry services, identifiers and phrases.

``bpmn/data/catalog.yaml`` says which papers a citizen is asked for, who issues them
and which inquiry (استعلام) can replace them; ``catalog.schema.json`` describes its
shape. :func:`load_catalog` reads the YAML, validates it against the schema, checks
that every reference resolves and that no name is claimed twice after normalisation,
and returns an immutable :class:`Catalog`. Any problem raises :class:`CatalogError`
naming the file, the entry and what is wrong: a broken catalog is a start-up error,
never something detection should work around.

Matching text against the catalog is :mod:`bpmn.lexicon`'s job; this module only
holds the data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import jsonschema
import yaml

from bpmn.errors import CatalogError
from bpmn.identifiers import is_iban, is_national_code, luhn_ok
from bpmn.text import compact

__all__ = [
    "DEFAULT_PATH", "PHRASE_CATEGORIES", "Catalog", "CatalogError", "Document", "FalseFriend", "Identifier",
    "InputRef", "InquiryService", "NonEvidence", "PhraseSet", "Phrases", "SelfTest", "UmbrellaTerm",
    "default_catalog", "load_catalog",
]

DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_PATH = DATA_DIR / "catalog.yaml"
SCHEMA_PATH = DATA_DIR / "catalog.schema.json"

PHRASE_CATEGORIES = ("request", "qualifier", "quantity", "modality", "internal_processing", "already_inquiry",
                     "output_to_citizen", "payment", "courier", "negation", "applicant_role", "delivery_verb")

# ``<<category>>`` in a phrase pattern stands for the phrases of that category.
PLACEHOLDER = re.compile(r"<<([a-z_]+)>>")


@dataclass(frozen=True)
class InputRef:
    """An identifier an inquiry needs: one id or any of several, whose (role), and whether optional."""

    ids: tuple[str, ...]
    role: str | None = None
    optional: bool = False


@dataclass(frozen=True)
class Identifier:
    """A value that identifies a person, entity or record (کد ملی, کد پستی, شبا...)."""

    id: str
    names_fa: tuple[str, ...]
    names_en: tuple[str, ...]
    format: str
    pattern: str | None
    check: str | None
    note: str | None
    confidence: str
    provenance: str

    def is_valid(self, value: str) -> bool:
        """Whether ``value`` has this identifier's shape (pattern) and check digits, where the catalog knows them."""
        if self.pattern is not None and re.fullmatch(self.pattern, value) is None:
            return False
        return _CHECKS[self.check](value) if self.check else True


@dataclass(frozen=True)
class InquiryService:
    """An electronic inquiry an agency can make instead of asking the citizen for paper."""

    id: str
    name_fa: str
    name_en: str
    provider_fa: str
    provider_en: str
    system: str | None
    inputs: tuple[InputRef, ...]
    context: tuple[str, ...]
    kind: str
    returns: tuple[str, ...]
    confidence: str
    provenance: str
    note: str | None


@dataclass(frozen=True)
class Document:
    """A kind of paper evidence, who issues it, and how far inquiries can replace it."""

    id: str
    category: str
    names_fa: tuple[str, ...]
    names_en: tuple[str, ...]
    issuer_fa: str
    issuer_en: str
    inquiries: tuple[str, ...]
    inputs: tuple[InputRef, ...]
    replaceability: str
    replace_note: str
    confidence: str
    provenance: str


@dataclass(frozen=True)
class UmbrellaTerm:
    """A collective term («مدارک هویتی») standing for several documents, or for an unknown list."""

    id: str
    names_fa: tuple[str, ...]
    names_en: tuple[str, ...]
    expands_to: tuple[str, ...]
    note: str | None

    @property
    def resolved(self) -> bool:
        """False for terms like «مدارک لازم» that name no document: a modeller must list them."""
        return bool(self.expands_to)


@dataclass(frozen=True)
class NonEvidence:
    """Something a citizen supplies that is not evidence another agency holds (forms, drawings...)."""

    id: str
    names_fa: tuple[str, ...]
    names_en: tuple[str, ...]
    action: str


@dataclass(frozen=True)
class FalseFriend:
    """Phrases that contain a document name but do not mean that document (عکس‌برداری)."""

    id: str
    names_fa: tuple[str, ...]
    names_en: tuple[str, ...]
    note: str


@dataclass(frozen=True)
class PhraseSet:
    """The phrases (Persian, English) and regex patterns of one signal category."""

    fa: tuple[str, ...] = ()
    en: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Phrases:
    """Signal phrases around document names, one :class:`PhraseSet` per category."""

    request: PhraseSet
    qualifier: PhraseSet
    quantity: PhraseSet
    modality: PhraseSet
    internal_processing: PhraseSet
    already_inquiry: PhraseSet
    output_to_citizen: PhraseSet
    payment: PhraseSet
    courier: PhraseSet
    negation: PhraseSet
    applicant_role: PhraseSet
    delivery_verb: PhraseSet

    def categories(self) -> Iterator[tuple[str, PhraseSet]]:
        """Yield ``(category, phrase set)`` in the catalog's order."""
        for name in PHRASE_CATEGORIES:
            yield name, getattr(self, name)


@dataclass(frozen=True)
class SelfTest:
    """A text and what the lexicon must find in it (run by the test suite)."""

    text: str
    expected: tuple[str, ...]
    unresolved: bool = False
    identifiers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Catalog:
    """The loaded, validated catalog. Mappings are read-only and keyed by id."""

    path: str
    version: int
    source: str
    short_key_max: int
    documents: Mapping[str, Document]
    services: Mapping[str, InquiryService]
    identifiers: Mapping[str, Identifier]
    umbrella_terms: Mapping[str, UmbrellaTerm]
    non_evidence: Mapping[str, NonEvidence]
    false_friends: Mapping[str, FalseFriend]
    phrases: Phrases
    self_tests: tuple[SelfTest, ...] = ()

    def document(self, doc_id: str) -> Document:
        """Return the document ``doc_id``; ``KeyError`` if the catalog has none."""
        return self.documents[doc_id]

    def services_for(self, doc_id: str) -> tuple[InquiryService, ...]:
        """Return the inquiry services that can replace document ``doc_id`` (empty when none can)."""
        return tuple(self.services[sid] for sid in self.documents[doc_id].inquiries)


# --------------------------------------------------------------------------- identifier checks

_CHECKS = {"iran_national_code": is_national_code, "iso13616_mod97": is_iban, "luhn": luhn_ok}


# --------------------------------------------------------------------------- loading

def _input(value: str | Mapping[str, Any]) -> InputRef:
    if isinstance(value, str):
        return InputRef((value,))
    ids = (value["id"],) if "id" in value else tuple(value["any_of"])
    return InputRef(ids, value.get("role"), bool(value.get("optional", False)))


def _read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"{path}: cannot read the catalog: {exc.strerror or exc}") from exc
    try:
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path}: not valid YAML: {exc}") from exc


@lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def _entry_name(data: Any, error_path: list[Any]) -> str:
    """Say where a schema error is: ``section 'entry id'`` when the entry has an id (or a text)."""
    if not error_path:
        return "catalog"
    section, rest = str(error_path[0]), error_path[1:]
    entries = data.get(section) if isinstance(data, dict) else None
    if rest and isinstance(rest[0], int) and isinstance(entries, list):
        entry = entries[rest[0]]
        label = entry.get("id") or entry.get("text") if isinstance(entry, dict) else None
        return f"{section} '{label}'" if isinstance(label, str) else f"{section}[{rest[0]}]"
    return f"{section} '{rest[0]}'" if rest else section


def _validate_schema(path: Path, data: Any) -> None:
    errors = sorted(_validator().iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(top level)"
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        raise CatalogError(f"{path}: {_entry_name(data, list(first.absolute_path))}: {first.message} "
                           f"at {where}{more}")


def _build(path: Path, data: dict[str, Any]) -> Catalog:
    def by_id(section: str, make: Any) -> Mapping[str, Any]:
        out: dict[str, Any] = {}
        for raw in data[section]:
            if raw["id"] in out:
                raise CatalogError(f"{path}: {section} '{raw['id']}': the id is used twice")
            out[raw["id"]] = make(raw)
        return MappingProxyType(out)

    identifiers = by_id("identifiers", lambda r: Identifier(
        r["id"], tuple(r["names_fa"]), tuple(r["names_en"]), r["format"], r.get("pattern"), r.get("check"),
        r.get("note"), r["confidence"], r["provenance"]))
    services = by_id("inquiry_services", lambda r: InquiryService(
        r["id"], r["name_fa"], r["name_en"], r["provider_fa"], r["provider_en"], r.get("system"),
        tuple(_input(i) for i in r["inputs"]), tuple(r.get("context", ())), r["kind"], tuple(r["returns"]),
        r["confidence"], r["provenance"], r.get("note")))
    documents = by_id("documents", lambda r: Document(
        r["id"], r["category"], tuple(r["names_fa"]), tuple(r["names_en"]), r["issuer_fa"], r["issuer_en"],
        tuple(r["inquiries"]), tuple(_input(i) for i in r["inputs"]), r["replaceability"], r["replace_note"],
        r["confidence"], r["provenance"]))
    umbrellas = by_id("umbrella_terms", lambda r: UmbrellaTerm(
        r["id"], tuple(r["names_fa"]), tuple(r["names_en"]), tuple(r["expands_to"]), r.get("note")))
    non_evidence = by_id("non_evidence_inputs", lambda r: NonEvidence(
        r["id"], tuple(r["names_fa"]), tuple(r["names_en"]), r["action"]))
    false_friends = by_id("false_friends", lambda r: FalseFriend(
        r["id"], tuple(r["names_fa"]), tuple(r["names_en"]), r["note"]))
    phrases = Phrases(**{name: PhraseSet(*(tuple(body.get(key, ())) for key in ("fa", "en", "patterns")))
                         for name, body in data["phrases"].items()})
    self_tests = tuple(SelfTest(t["text"], tuple(t["expected"]), bool(t.get("unresolved", False)),
                                tuple(t.get("identifiers", ()))) for t in data["self_tests"])
    meta = data["meta"]
    return Catalog(str(path), meta["version"], meta["source"], meta["short_key_max"], documents, services,
                   identifiers, umbrellas, non_evidence, false_friends, phrases, self_tests)


def _check_references(catalog: Catalog) -> None:
    path = catalog.path

    def need(known: Mapping[str, Any], ids: Iterable[str], where: str, what: str) -> None:
        for ref in ids:
            if ref not in known:
                raise CatalogError(f"{path}: {where}: unknown {what} '{ref}'")

    for service in catalog.services.values():
        for ref in service.inputs:
            need(catalog.identifiers, ref.ids, f"inquiry_services '{service.id}'", "identifier")
    for doc in catalog.documents.values():
        where = f"documents '{doc.id}'"
        need(catalog.services, doc.inquiries, where, "inquiry service")
        consumed = {i for sid in doc.inquiries for ref in catalog.services[sid].inputs for i in ref.ids}
        for ref in doc.inputs:
            need(catalog.identifiers, ref.ids, where, "identifier")
            missing = [i for i in ref.ids if doc.inquiries and i not in consumed]
            if missing:
                raise CatalogError(f"{path}: {where}: input '{missing[0]}' is not used by any of its inquiries "
                                   f"({', '.join(doc.inquiries)})")
    for term in catalog.umbrella_terms.values():
        need(catalog.documents, term.expands_to, f"umbrella_terms '{term.id}'", "document")
    for test in catalog.self_tests:
        need(catalog.documents, test.expected, f"self_tests '{test.text}'", "document")
        need(catalog.identifiers, test.identifiers, f"self_tests '{test.text}'", "identifier")
    for ident in catalog.identifiers.values():
        if ident.pattern is not None:
            _compile(path, f"identifiers '{ident.id}'", ident.pattern)


def _check_names(catalog: Catalog) -> None:
    """Every name must be a distinct key after normalisation, across all sections that name things."""
    owners: dict[str, str] = {}
    sections: list[tuple[str, Iterable[Any]]] = [
        ("documents", catalog.documents.values()), ("umbrella_terms", catalog.umbrella_terms.values()),
        ("identifiers", catalog.identifiers.values()), ("non_evidence_inputs", catalog.non_evidence.values()),
        ("false_friends", catalog.false_friends.values())]
    for section, entries in sections:
        for entry in entries:
            where = f"{section} '{entry.id}'"
            for name in (*entry.names_fa, *entry.names_en):
                _claim(catalog.path, owners, name, where)
    for category, phrase_set in catalog.phrases.categories():
        where = f"phrases '{category}'"
        seen: dict[str, str] = {}
        for name in (*phrase_set.fa, *phrase_set.en):
            _claim(catalog.path, seen, name, where)
        for pattern in phrase_set.patterns:
            for ref in PLACEHOLDER.findall(pattern):
                phrases_of = getattr(catalog.phrases, ref, None) if ref in PHRASE_CATEGORIES else None
                if phrases_of is None or not (phrases_of.fa or phrases_of.en):
                    raise CatalogError(f"{catalog.path}: {where}: pattern refers to <<{ref}>>, "
                                       "which is not a phrase category with phrases")
            if _compile(catalog.path, where, PLACEHOLDER.sub("x", pattern)).groups:
                # The lexicon reads its own groups by position; a pattern must not add any.
                raise CatalogError(f"{catalog.path}: {where}: pattern {pattern!r} has a capturing group; "
                                   "use (?:...)")


def _claim(path: str, owners: dict[str, str], name: str, where: str) -> None:
    key = compact(name)
    if not key:
        raise CatalogError(f"{path}: {where}: name '{name}' is empty after normalisation")
    if key in owners:
        other = owners[key]
        same = "twice" if other == where else f"also in {other}"
        raise CatalogError(f"{path}: {where}: name '{name}' is {same} (names are compared after normalisation)")
    owners[key] = where


def _compile(path: str, where: str, pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise CatalogError(f"{path}: {where}: invalid regular expression {pattern!r}: {exc}") from exc


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Load, validate and check the catalog at ``path`` (the packaged one by default).

    Raises :class:`CatalogError` naming the file, the entry and the problem.
    """
    file = Path(path) if path is not None else DEFAULT_PATH
    data = _read(file)
    _validate_schema(file, data)
    catalog = _build(file, data)
    _check_references(catalog)
    _check_names(catalog)
    return catalog


@lru_cache(maxsize=1)
def default_catalog() -> Catalog:
    """The packaged catalog, loaded once per process."""
    return load_catalog()
