"""Reading one label or documentation text: what action it names, on what, in which direction.

:mod:`bpmn.detect` asks every text of an activity (name, documentation, a text
annotation, a form label, a data object or message name) the same questions:
does it *demand* papers from the applicant, hand something *out*, only *review*
what was handed in, pay, notify, sign, capture biometrics, visit in person,
send a letter, fetch a certificate from another agency? The catalog's lexicon
(:mod:`bpmn.lexicon`) says which documents and which signal phrases a text
contains, but not where; this module adds the order that decides meaning.

A text is cut into *clauses* at punctuation and before «و/and» followed by an
action verb («مراجعه حضوری … و ارائه …», "obtain … and hand it in"). The first
action verb of a clause is its *head*: a Persian task name is a noun phrase led
by a verbal noun («بررسی مدارک» = reviewing documents), an English one an
imperative; a Persian sentence puts its verb last, but then it is usually the
only action verb. A clause without any verb continues the one before it, so
«مدارک لازم: اصل شناسنامه، کارت ملی» is one demand. Vocabulary comes from the
catalog's phrase lists, plus the few action words detection needs that are not
document signals (:mod:`bpmn.vocabulary`).

Everything here is pure and cached per text: large models repeat labels.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Generic, TypeVar

from bpmn.lexicon import DocMatch, Lexicon, NonEvidenceHit, PhraseHits, PhraseMatch
from bpmn.text import compact, normalize
from bpmn.vocabulary import LETTER_FA, Vocabulary

__all__ = ["Clause", "Reader", "Reading", "read_text", "reader_for"]

_HIT_FIELDS = frozenset(PhraseHits.__dataclass_fields__) - {"non_evidence"}
_CONTEXT_WORDS = 3
_MARK_RE = re.compile(r"(?<![^ ])zzsep(?![^ ])")
_MARK_LEN = len("zzsep ")
_NOT_SPACE = re.compile(r"[^ ]")
# Clause breaks. Not line breaks (modellers wrap long names anywhere: «تحویل پروانه⏎به متقاضی») and
# not commas, which separate the items of one list («تحویل پروانه، کارت و حکم به متقاضی»).
_SEP = re.compile(r"[.;:!?؛()\[\]\u061f]+")
_MARK = " zzsep "
_SPLIT_WORDS = ("و", "and", "then", "سپس", "تا")
_SPLIT_HEADS = frozenset({"request", "transfer", "receive", "fetch", "internal", "inquiry", "payment", "notify",
                          "visit", "sign", "biometric", "create", "entry", "output", "courier"})


_T = TypeVar("_T")


class _lazy(Generic[_T]):
    """A computed-once attribute of a frozen value (``functools.cached_property`` without its lock,
    which costs more than most of these computations on Python 3.11)."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn
        self.name = fn.__name__

    def __get__(self, obj: Any, owner: type | None = None) -> _T:
        if obj is None:
            return self  # type: ignore[return-value]
        value = self.fn(obj)
        obj.__dict__[self.name] = value
        return value


@dataclass(frozen=True)
class Clause:
    """One clause of a text and what it does.

    The markers (direction, letter, negation...) are computed on first use: most clauses
    of a large model are never asked about most of them.
    """

    text: str                      # normalised
    masked: str                    # the same with document names blanked
    start: int                     # offsets in the normalised whole text
    end: int
    head: str | None               # first action category, or None for a verbless clause
    actions: tuple[str, ...]       # every action category in order
    hits: PhraseHits
    participle: bool               # the head is a past participle («ارائه شده»)
    nounreq_head: bool             # the head is a copy/scan noun opening the clause («اسکن مدارک»)
    vocab: Vocabulary = field(repr=False, compare=False)

    def _in_text(self, pattern: re.Pattern[str]) -> bool:
        return pattern.search(self.text) is not None

    def _in_masked(self, pattern: re.Pattern[str]) -> bool:
        return pattern.search(self.masked) is not None

    @_lazy
    def negated(self) -> bool:
        """«لازم نیست», «نمی‌آورد», "not required", "does not bring" (outside document names)."""
        return bool(self.hits.negation) or self._in_masked(self.vocab.negation)

    @_lazy
    def to_role(self) -> bool:
        """Goes to the applicant: «به متقاضی», "to the applicant"."""
        return self._in_text(self.vocab.to_role)

    @_lazy
    def from_role(self) -> bool:
        """Comes from the applicant: «از متقاضی», "from the applicant"."""
        return self._in_text(self.vocab.from_role)

    @_lazy
    def by_role(self) -> bool:
        """The applicant acts: «توسط متقاضی», "by the applicant"."""
        return self._in_text(self.vocab.by_role)

    @_lazy
    def to_agency(self) -> bool:
        """Goes to an office or desk: «به اتحادیه», "to HR"."""
        return self._in_text(self.vocab.to_agency)

    @_lazy
    def from_agency(self) -> bool:
        """Comes from an office: «از پلیس اماکن», "from the university"."""
        return self._in_text(self.vocab.from_agency)

    @_lazy
    def letter(self) -> bool:
        """A letter or notice («نامه», «اعلامیه», "letter"), not a compound like «اجاره‌نامه»."""
        return self._in_masked(self.vocab.letter) or self._in_masked(LETTER_FA)

    @_lazy
    def electronic(self) -> bool:
        """Electronic, online, through a system."""
        return self._in_text(self.vocab.electronic)

    @_lazy
    def internal_note(self) -> bool:
        """An internal memo («داخلی», "internal")."""
        return self._in_text(self.vocab.internal_note)

    @_lazy
    def generic_docs(self) -> bool:
        """«مدارک», "documents" outside any catalog name."""
        return self._in_masked(self.vocab.generic_docs)

    @property
    def has_docs(self) -> bool:
        """A catalog document is named in this clause."""
        return self.text != self.masked

    @_lazy
    def certificate(self) -> bool:
        """Something paper-like to fetch: a catalog document, a certificate, an inquiry answer."""
        return self.has_docs or self._in_text(self.vocab.certificate)


@dataclass(frozen=True)
class Reading:
    """A whole text read once: its clauses and the documents it names (with clause index)."""

    text: str
    normal: str                                  # normalised, with clause marks
    masked: str                                  # the same with document names blanked
    clauses: tuple[Clause, ...]
    docs: tuple[tuple[int, DocMatch], ...]       # (clause index, match)
    unresolved: tuple[int, ...]                  # clause indexes with an unresolved umbrella term
    vocab: Vocabulary = field(repr=False, compare=False)

    @_lazy
    def plain(self) -> str:
        """:func:`normalize` of the text: the frame of the lexicon's offsets."""
        return normalize(self.text)

    @_lazy
    def not_involved(self) -> bool:
        """"The applicant is not involved", «مدرکی بارگذاری نمی‌شود»: nothing is asked here."""
        return self.vocab.not_involved.search(self.masked) is not None

    def context(self, match: DocMatch) -> tuple[bool, bool]:
        """Whether the words around a document name say it is foreign or informal.

        Only the few words next to the name count: «گذرنامه شریک خارجی», «اجاره‌نامه عادی»,
        "foreign partner's passport"; the process being «عادی» (ordinary) says nothing.
        """
        before = " ".join(self.plain[:match.start].split(" ")[-_CONTEXT_WORDS - 1:])
        after = " ".join(self.plain[match.end:].split(" ")[:_CONTEXT_WORDS + 1])
        near = f"{before} {after}"
        return (self.vocab.foreign.search(near) is not None, self.vocab.informal.search(near) is not None)


def _split_points(normal: str, actions: list[tuple[int, int, str]]) -> list[int]:
    """Where clauses start: after a separator mark, and before «و/and» + an action verb."""
    points = [0]
    points += [m.start() for m in _MARK_RE.finditer(normal)]
    for begin, _, category in actions:
        if category in _SPLIT_HEADS:
            before = normal[:begin].rstrip().rsplit(" ", 1)[-1]
            if before in _SPLIT_WORDS:
                points.append(begin - len(before) - 1)
    return sorted(set(points))


def _share(phrases: list[tuple[int, PhraseMatch]], non_evidence: tuple[NonEvidenceHit, ...],
           masked: str, begin: int, end: int) -> PhraseHits:
    """The phrase hits of one clause, from the positioned hits of the whole text (scanned once)."""
    found: dict[str, dict[str, None]] = {}
    for pos, phrase in phrases:
        if begin <= pos < end:
            found.setdefault(phrase.category, {})[phrase.name] = None
    # Non-evidence hits carry no position: keep those whose name is in this clause, outside document names.
    packed = masked.replace(" ", "")
    mine = tuple(h for h in non_evidence if compact(h.name) in packed)
    return PhraseHits(**{c: tuple(v) for c, v in found.items() if c in _HIT_FIELDS}, non_evidence=mine)


def _clause(text: str, masked: str, start: int, vocab: Vocabulary, hits: PhraseHits,
            actions: list[tuple[int, int, str]]) -> Clause:
    """One clause; ``masked`` is the same text with document names blanked, so that the
    «no» of "certificate of no criminal record" or the «نامه» of «اجاره‌نامه» mark nothing.
    ``hits`` are the phrase hits and ``actions`` the action words (whole-text offsets) of this clause."""
    head: str | None = None
    participle = nounreq = False
    for begin, stop, category in actions:
        # A copy/scan noun leads only when it opens the clause («تصویر شناسنامه»); elsewhere it qualifies.
        if category == "nounreq" and begin != start:
            continue
        head = "request" if category == "nounreq" else category
        nounreq = category == "nounreq"
        after = text[stop - start:].lstrip().split(" ", 1)[0]
        participle = head in ("request", "transfer") and bool(vocab.participle.fullmatch(after))
        break
    return Clause(text, masked, start, start + len(text), head,
                  tuple(c for _, _, c in actions if c != "nounreq"), hits, participle, nounreq, vocab)


def _read(text: str, vocab: Vocabulary, lexicon: Lexicon) -> Reading:
    marked = _SEP.sub(_MARK, text)
    normal = normalize(marked)
    # The lexicon reads the text as written (a name may run across a bracket: «سند مالکیت (برگ سبز)»);
    # its offsets are moved into the marked text by skipping the separator marks.
    marks = [m.start() for m in _MARK_RE.finditer(normal)] if marked is not text else []

    def place(pos: int) -> int:
        for mark in marks:
            if mark <= pos:
                pos += _MARK_LEN
        return pos

    matches = [(place(m.start), m) for m in lexicon.find_documents(text)]
    masked_text = normal
    for begin, match in matches:
        stop = begin + match.end - match.start
        masked_text = masked_text[:begin] + _NOT_SPACE.sub("z", masked_text[begin:stop]) + masked_text[stop:]
    actions = [(m.start(), m.end(), vocab.category_of[m.group(0)]) for m in vocab.actions.finditer(normal)]
    points = _split_points(normal, actions)
    bounds: list[tuple[int, int]] = []
    for begin, end in zip(points, [*points[1:], len(normal)], strict=True):
        piece = normal[begin:end]
        if marks:
            piece = _MARK_RE.sub(lambda m: " " * len(m.group(0)), piece)
        stripped = piece.strip()
        if stripped:
            first = begin + len(piece) - len(piece.lstrip())
            bounds.append((first, first + len(stripped)))
    whole = lexicon.phrase_hits(text)
    phrases = [(place(p.start), p) for p in lexicon.find_phrases(text)] if len(bounds) > 1 else []
    clauses = []
    for first, last in bounds:
        own_masked = masked_text[first:last]
        # One clause (most names): the lexicon's hits for the whole text are this clause's hits.
        hits = whole if len(bounds) == 1 else _share(phrases, whole.non_evidence, own_masked, first, last)
        own_actions = [a for a in actions if first <= a[0] < last]
        clauses.append(_clause(normal[first:last], own_masked, first, vocab, hits, own_actions))

    def clause_at(pos: int) -> int:
        for i, clause in enumerate(clauses):
            if clause.start <= pos <= clause.end:
                return i
        return max(len(clauses) - 1, 0)

    docs = tuple((clause_at(begin), match) for begin, match in matches)
    unresolved = tuple(clause_at(place(u.start)) for u in lexicon.find_umbrella(text, unresolved_only=True))
    return Reading(text, normal, masked_text, tuple(clauses), docs, unresolved, vocab)


class Reader:
    """Readings of texts with one lexicon's vocabulary, cached per text.

    It holds its lexicon weakly, so that the registry below can drop both together.
    """

    def __init__(self, lexicon: Lexicon) -> None:
        self._lexicon = weakref.ref(lexicon)
        self.vocab = Vocabulary(lexicon.catalog)
        self.read = lru_cache(maxsize=16384)(self._read)

    def _read(self, text: str) -> Reading:
        lexicon = self._lexicon()
        if lexicon is None:  # only reachable through a reader kept after its lexicon was dropped
            raise ReferenceError("the lexicon of this reader no longer exists")
        return _read(text, self.vocab, lexicon)


# One reader per lexicon, dropped with it: compiling the vocabulary takes a few milliseconds.
_READERS: weakref.WeakKeyDictionary[Lexicon, Reader] = weakref.WeakKeyDictionary()


def reader_for(lexicon: Lexicon) -> Reader:
    """The reader for a lexicon (built on first use)."""
    reader = _READERS.get(lexicon)
    if reader is None:
        reader = _READERS[lexicon] = Reader(lexicon)
    return reader


def read_text(text: str, lexicon: Lexicon) -> Reading:
    """Read one text with the lexicon's vocabulary (cached per text)."""
    return reader_for(lexicon).read(text)
