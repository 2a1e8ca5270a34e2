"""Catalog terms compiled once for fast matching in BPMN names, labels and documentation.

A :class:`Lexicon` turns a :class:`~bpmn.catalog.Catalog` into one regular expression
that visits each word start of a normalised text once (:mod:`bpmn.text`) and, at that
position, tries in parallel lookaheads:

* the longest *entity* name there: documents, umbrella terms, identifiers, non-evidence
  inputs and false friends, all in one prefix tree;
* the longest *phrase* there (request verbs, qualifiers, roles, negative signals...);
* each phrase pattern of the catalog (quantities, "deliver … to the applicant", couriers).

Matching rules, on the spaced normal form:

* names match as whole words: they start at a word start and end at a word end,
  optionally followed by a plural ending (ها، های، هایی; English s, es; copy → copies);
* names longer than ``short_key_max`` letters ignore spaces, so «کدپستی» = «کد پستی»
  and «اجارهنامه» = «اجاره‌نامه»; shorter ones («عکس», "id", "photo") must appear exactly;
* overlapping entity matches: the longest wins, so «شماره شناسنامه» (an identifier) hides
  «شناسنامه», «عکس‌برداری» (a false friend) hides «عکس», and «تعهدنامه محضری» (a document)
  beats «تعهدنامه» (a non-evidence input). Losers and false friends are not reported.

Positions (``start``, ``end``) are offsets in :func:`bpmn.text.normalize` of the text;
``matched`` is the surface as written in the original text. Results are cached per text,
so asking for documents, phrases and identifiers of the same label scans it once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from bpmn.catalog import PHRASE_CATEGORIES, PLACEHOLDER, Catalog, default_catalog
from bpmn.text import compact, normalize, normalize_with_offsets

__all__ = ["DocMatch", "Lexicon", "NonEvidenceHit", "PhraseHits", "PhraseMatch", "UmbrellaMatch",
           "default_lexicon"]

# Plural endings a name may carry and still be the same word.
_SUFFIX = "(?:ها|های|هایی|s|es)?"
_END = _SUFFIX + "(?= |$)"
_PLURAL_AT = re.compile(_SUFFIX[:-1] + "(?= |$)")
_NEVER = "(?!)"
# Phrase categories that only feed patterns and are not reported on their own.
_BUILDING_BLOCKS = ("delivery_verb",)
_REPORTED = tuple(c for c in PHRASE_CATEGORIES if c not in _BUILDING_BLOCKS)
_SHOWN = frozenset({"document", "umbrella"})
# Categories whose hits do not count when they sit inside a matched name (see _scan_text).
_NAME_INTERNAL = frozenset({"internal_processing", "payment", "already_inquiry", "output_to_citizen",
                            "applicant_role", "modality", "negation"})


@dataclass(frozen=True, slots=True)
class DocMatch:
    """A document named in a text, directly or through an umbrella term."""

    doc_id: str
    matched: str            # as written in the original text
    start: int              # offsets in normalize(text)
    end: int
    via: str                # "name" or "umbrella"
    name: str               # the catalog spelling that matched (a document name or an umbrella term)
    umbrella: str | None = None      # the umbrella term's catalog spelling, when via == "umbrella"
    umbrella_id: str | None = None


@dataclass(frozen=True, slots=True)
class UmbrellaMatch:
    """An umbrella term found in a text; unresolved ones («مدارک لازم») need a human."""

    umbrella_id: str
    name: str
    matched: str
    start: int
    end: int
    expands_to: tuple[str, ...]

    @property
    def resolved(self) -> bool:
        """True when the term stands for known documents."""
        return bool(self.expands_to)


@dataclass(frozen=True, slots=True)
class NonEvidenceHit:
    """Something supplied that is not evidence (a form, a drawing, a signature) and what to do instead."""

    id: str
    name: str
    action: str


@dataclass(frozen=True, slots=True)
class PhraseHits:
    """Signal phrases found in a text, per category, as catalog spellings (patterns: normalised text)."""

    request: tuple[str, ...] = ()
    qualifier: tuple[str, ...] = ()
    quantity: tuple[str, ...] = ()
    modality: tuple[str, ...] = ()
    internal_processing: tuple[str, ...] = ()
    already_inquiry: tuple[str, ...] = ()
    output_to_citizen: tuple[str, ...] = ()
    payment: tuple[str, ...] = ()
    courier: tuple[str, ...] = ()
    negation: tuple[str, ...] = ()
    applicant_role: tuple[str, ...] = ()
    non_evidence: tuple[NonEvidenceHit, ...] = ()


@dataclass(frozen=True, slots=True)
class PhraseMatch:
    """One signal phrase (or pattern hit) at its place in the normalised text."""

    category: str
    name: str               # catalog spelling; for a pattern, the normalised text it matched
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class _Entity:
    kind: str               # document | umbrella | identifier | non_evidence | false_friend
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class _Scan:
    documents: tuple[DocMatch, ...] = ()
    umbrellas: tuple[UmbrellaMatch, ...] = ()
    identifiers: tuple[str, ...] = ()
    hits: PhraseHits = PhraseHits()
    phrases: tuple[PhraseMatch, ...] = ()


_EMPTY = _Scan()


def _plural_variants(name: str) -> list[str]:
    """English names also match with -ies for -y words («copy of» → «copies of»)."""
    variants = [name]
    for i, word in enumerate(name.split(" ")):
        if re.fullmatch(r"[a-z]*[^aeiou\W]y", word):
            plural = word[:-1] + "ies"
            variants += [" ".join(plural if j == i else w for j, w in enumerate(v.split(" "))) for v in variants]
    return variants


def _trie(atom_lists: Iterable[list[str]]) -> str:
    """One regex for many keys, shared prefixes merged; at each node the longer continuation is tried first."""
    root: dict[str, dict] = {}
    for atoms in atom_lists:
        node = root
        for atom in atoms:
            node = node.setdefault(atom, {})
        node[""] = {}
    if not root:
        return _NEVER

    def emit(node: dict[str, dict]) -> str:
        branches = [atom + emit(child) for atom, child in sorted(node.items()) if atom]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return emit(root)


class _KeySet:
    """Names of one kind, split into space-insensitive long keys and exact short keys."""

    def __init__(self, short_key_max: int) -> None:
        self.short_key_max = short_key_max
        self.lookup: dict[str, object] = {}
        self.long: list[list[str]] = []
        self.short: list[list[str]] = []

    def add(self, name: str, value: object) -> None:
        for variant in _plural_variants(normalize(name)):
            key = variant.replace(" ", "")
            self.lookup.setdefault(key, value)
            if len(key) > self.short_key_max:
                self.long.append([re.escape(key[0])] + [" ?" + re.escape(c) for c in key[1:]])
            else:
                self.short.append([re.escape(c) for c in variant])

    def patterns(self) -> tuple[str, str]:
        return _trie(self.long), _trie(self.short)


class Lexicon:
    """A catalog's names and phrases compiled for matching; build once, use for every text."""

    def __init__(self, catalog: Catalog, *, cache_size: int = 8192) -> None:
        self.catalog = catalog
        entities = _KeySet(catalog.short_key_max)
        sections = (("document", catalog.documents), ("umbrella", catalog.umbrella_terms),
                    ("identifier", catalog.identifiers), ("non_evidence", catalog.non_evidence),
                    ("false_friend", catalog.false_friends))
        for kind, entries in sections:
            for entry in entries.values():
                for name in (*entry.names_fa, *entry.names_en):
                    entities.add(name, _Entity(kind, entry.id, name))

        # A phrase may belong to several categories («کپی برابر اصل»: request and qualifier).
        phrase_keys = _KeySet(catalog.short_key_max)
        categories_of: dict[str, dict[str, str]] = {}
        per_category: dict[str, _KeySet] = {}
        for category, phrase_set in catalog.phrases.categories():
            own = per_category[category] = _KeySet(catalog.short_key_max)
            for name in (*phrase_set.fa, *phrase_set.en):
                own.add(name, name)
                categories_of.setdefault(compact(name), {})[category] = name
        for owners in categories_of.values():
            phrase_keys.add(next(iter(owners.values())), owners)

        def placeholder(match: re.Match[str]) -> str:
            long, short = per_category[match.group(1)].patterns()
            return f"(?:{long}|{short}){_SUFFIX}(?![^ ])"

        # Each lookahead always succeeds (the empty alternative); its group says what starts here.
        entity_long, entity_short = entities.patterns()
        phrase_long, phrase_short = phrase_keys.patterns()
        lookaheads = [f"(?=(?P<el>{entity_long}){_END}|)", f"(?=(?P<es>{entity_short}){_END}|)",
                      f"(?=(?P<pl>{phrase_long}){_END}|)", f"(?=(?P<ps>{phrase_short}){_END}|)"]
        self._pattern_categories: list[str] = []
        for category in PHRASE_CATEGORIES:
            for pattern in getattr(catalog.phrases, category).patterns:
                index = len(self._pattern_categories)
                self._pattern_categories.append(category)
                lookaheads.append(f"(?=(?P<x{index}>{PLACEHOLDER.sub(placeholder, pattern)})(?![^ ])|)")
        # Succeed only where some group matched, so word starts with nothing cost no Python work.
        any_group = "(?!)"
        for name in reversed(re.findall(r"\(\?P<(\w+)>", "".join(lookaheads))):
            any_group = f"(?({name})|{any_group})"
        self._scanner = re.compile("(?<![^ ])" + "".join(lookaheads) + any_group)
        self._entities = entities.lookup
        self._phrases = phrase_keys.lookup
        self._scan = lru_cache(maxsize=cache_size)(self._scan_text)

    # ------------------------------------------------------------------ public API

    def find_documents(self, text: str) -> list[DocMatch]:
        """Documents named in ``text`` by name or by a resolved umbrella term, in order of appearance."""
        return list(self._scan(text).documents)

    def document_ids(self, text: str) -> tuple[str, ...]:
        """The distinct document ids :meth:`find_documents` reports, in order of first appearance."""
        return tuple(dict.fromkeys(m.doc_id for m in self._scan(text).documents))

    def find_umbrella(self, text: str, *, unresolved_only: bool = False) -> list[UmbrellaMatch]:
        """Umbrella terms in ``text``; with ``unresolved_only`` just those naming no document («مدارک لازم»)."""
        return [m for m in self._scan(text).umbrellas if not (unresolved_only and m.resolved)]

    def find_identifiers(self, text: str) -> list[str]:
        """Identifier ids named in ``text`` (a label «کد ملی فروشنده» → ``national_code``), distinct, in order."""
        return list(self._scan(text).identifiers)

    def phrase_hits(self, text: str) -> PhraseHits:
        """Signal phrases in ``text``: request verbs, qualifiers, negative signals, roles, non-evidence."""
        return self._scan(text).hits

    def find_phrases(self, text: str) -> list[PhraseMatch]:
        """The phrase hits of :meth:`phrase_hits` with their positions, for proximity rules («صدور» + a name)."""
        return list(self._scan(text).phrases)

    def clear_cache(self) -> None:
        """Forget the per-text results (they are kept for the last ``cache_size`` distinct texts)."""
        self._scan.cache_clear()

    # ------------------------------------------------------------------ scanning

    def _scan_text(self, text: str) -> _Scan:
        spaced = normalize(text)
        candidates: list[tuple[int, int, int, _Entity]] = []
        phrases: list[PhraseMatch] = []
        for match in self._scanner.finditer(spaced):
            groups = match.groups()
            start = match.start()
            entity_text = _longer(groups[0], groups[1])
            if entity_text:
                key = entity_text.replace(" ", "")
                candidates.append((len(key), start, start + len(entity_text), self._entities[key]))
            phrase_text = _longer(groups[2], groups[3])
            if phrase_text:
                end = start + len(phrase_text)
                for category, name in self._phrases[phrase_text.replace(" ", "")].items():
                    phrases.append(PhraseMatch(category, name, start, end))
            if any(groups[4:]):
                for category, hit in zip(self._pattern_categories, groups[4:], strict=True):
                    if hit:
                        phrases.append(PhraseMatch(category, hit, start, start + len(hit)))
        if not candidates and not phrases:
            return _EMPTY

        spans = _resolve(candidates)
        # A signal word inside a matched name is part of the name: "record" in "criminal record
        # certificate" is no clerk recording, «پرداخت» in «گواهی پرداخت جرایم» no payment step.
        phrases = [p for p in phrases if p.category in _REPORTED and not (
            p.category in _NAME_INTERNAL and any(b <= p.start and p.end <= e for b, e, _ in spans))]
        by_category: dict[str, dict[str, None]] = {category: {} for category in _REPORTED}
        for phrase in phrases:
            by_category[phrase.category][phrase.name] = None

        documents: list[DocMatch] = []
        umbrellas: list[UmbrellaMatch] = []
        identifiers: dict[str, None] = {}
        non_evidence: list[NonEvidenceHit] = []
        # Only documents and umbrella terms report their surface: map offsets back only for them.
        origin = normalize_with_offsets(text)[1] if any(s[2].kind in _SHOWN for s in spans) else ()
        for begin, name_end, entity in spans:
            # The span covers a plural ending too ("certificates"), though the key did not.
            suffix = _PLURAL_AT.match(spaced, name_end)
            end = suffix.end() if suffix else name_end
            surface = text[origin[begin]:origin[end - 1] + 1] if origin else ""
            if entity.kind == "document":
                documents.append(DocMatch(entity.id, surface, begin, end, "name", entity.name))
            elif entity.kind == "umbrella":
                term = self.catalog.umbrella_terms[entity.id]
                umbrellas.append(UmbrellaMatch(term.id, entity.name, surface, begin, end, term.expands_to))
                documents.extend(DocMatch(doc_id, surface, begin, end, "umbrella", entity.name, entity.name,
                                          term.id) for doc_id in term.expands_to)
            elif entity.kind == "identifier":
                identifiers[entity.id] = None
            elif entity.kind == "non_evidence":
                non_evidence.append(NonEvidenceHit(entity.id, entity.name,
                                                   self.catalog.non_evidence[entity.id].action))
        hits = PhraseHits(**{category: tuple(names) for category, names in by_category.items()},
                          non_evidence=tuple(non_evidence))
        return _Scan(tuple(documents), tuple(umbrellas), tuple(identifiers), hits, tuple(phrases))


def _longer(first: str | None, second: str | None) -> str | None:
    if first and second:
        return first if len(first.replace(" ", "")) >= len(second.replace(" ", "")) else second
    return first or second


def _resolve(candidates: list[tuple[int, int, int, _Entity]]) -> list[tuple[int, int, _Entity]]:
    """Keep the longest of overlapping matches (earlier first on ties); return them in text order."""
    accepted: list[tuple[int, int, _Entity]] = []
    for _, start, end, entity in sorted(candidates, key=lambda c: (-c[0], c[1])):
        if all(end <= other_start or start >= other_end for other_start, other_end, _ in accepted):
            accepted.append((start, end, entity))
    accepted.sort(key=lambda span: span[0])
    return accepted


@lru_cache(maxsize=1)
def default_lexicon() -> Lexicon:
    """The lexicon of the packaged catalog, compiled once per process."""
    return Lexicon(default_catalog())
