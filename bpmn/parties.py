"""Whose papers: the people one paper step asks the same document of.

A step may ask one kind of paper of several people: «اصل کارت ملی خریدار و فروشنده»,
"the applicant's and the guarantor's ID cards", «شناسنامه زوجین». The redesign then needs
one inquiry per person, each sending that person's identifiers. ``data/parties.yaml``
lists the party words (fa and en), a few collective words («زوجین» = groom and bride) and
which identifiers are personal. Matching is on whole words of :func:`bpmn.text.normalize`.

Rules (:meth:`Parties.of_document`), per sentence of a step's texts that names the document:

* a *list* of parties: party words joined by «و» / "and" (or a comma), with only filler
  words between («هر دو», "the", the possessive "'s"); «یا» / "or" ends a list, so «پدر یا
  جد پدری زوجه» is one person, not two. A collective word is a list by itself;
* a party right after a mention of the document («کارت ملی فروشنده و کارت ملی خریدار»,
  "ID card of the buyer") or, in English, right before it with a possessive ("buyer's ID").

Only two or more distinct parties count: a document of one person is left as it was.
A form field belongs to the first party its id or label names (``buyer_national_code``,
«کد ملی خریدار»).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jsonschema
import yaml

from bpmn.errors import CatalogError
from bpmn.lexicon import Lexicon
from bpmn.text import normalize

__all__ = ["Parties", "Party", "default_parties", "load_parties"]

DATA_DIR = Path(__file__).resolve().parent / "data"
PARTIES_PATH = DATA_DIR / "parties.yaml"
SCHEMA_PATH = DATA_DIR / "parties.schema.json"
_SENTENCE = re.compile(r"[^.؛;!?؟\n]+")
# How many filler words may stand between a document and its party.
_GAP = 2


@dataclass(frozen=True)
class Party:
    """One kind of person a step may ask papers of."""

    id: str
    label_fa: str
    label_en: str

    def label(self, lang: str) -> str:
        return self.label_fa if lang == "fa" else self.label_en


class Parties:
    """The party vocabulary, compiled for whole-word matching on normalised text."""

    def __init__(self, data: dict) -> None:
        self.personal = frozenset(data["personal_identifiers"])
        self.conjunctions = frozenset(normalize(w) for w in data["conjunctions"])
        self.fillers = frozenset(normalize(w) for w in data["fillers"])
        self.parties = {p["id"]: Party(p["id"], p["label_fa"], p["label_en"]) for p in data["parties"]}
        # token tuple -> (party ids, whether it is a collective word)
        self._words: dict[tuple[str, ...], tuple[tuple[str, ...], bool]] = {}
        for p in data["parties"]:
            for word in (*p["words_fa"], *p["words_en"]):
                self._add(word, (p["id"],), False, english=word in p["words_en"])
        for c in data["collective"]:
            unknown = [i for i in c["parties"] if i not in self.parties]
            if unknown:
                raise CatalogError(f"parties.yaml: collective word for unknown parties {unknown}")
            for word in (*c["words_fa"], *c["words_en"]):
                self._add(word, tuple(c["parties"]), True, english=word in c["words_en"])
        self._longest = max((len(k) for k in self._words), default=1)

    def _add(self, word: str, ids: tuple[str, ...], collective: bool, *, english: bool) -> None:
        tokens = tuple(normalize(word).split())
        if not tokens:
            return
        self._words.setdefault(tokens, (ids, collective))
        if english and not tokens[-1].endswith("s"):
            self._words.setdefault((*tokens[:-1], tokens[-1] + "s"), (ids, collective))

    # ------------------------------------------------------------------ matching

    def _matches(self, tokens: Sequence[str]) -> list[tuple[int, int, tuple[str, ...], bool]]:
        """(first token, end token, party ids, collective) of each party word, longest first at a place."""
        out = []
        i = 0
        while i < len(tokens):
            for size in range(min(self._longest, len(tokens) - i), 0, -1):
                hit = self._words.get(tuple(tokens[i:i + size]))
                if hit is not None:
                    out.append((i, i + size, hit[0], hit[1]))
                    i += size
                    break
            else:
                i += 1
        return out

    def in_text(self, text: str) -> list[str]:
        """Party ids named in a text (collective words expanded), in order, distinct."""
        found: dict[str, None] = {}
        for _, _, ids, _ in self._matches(normalize(text).split()):
            found.update(dict.fromkeys(ids))
        return list(found)

    def of_field(self, field_id: str, label: str | None) -> str | None:
        """The party a form field belongs to: the first one its id, else its label, names."""
        for text in (field_id.replace("_", " ").replace(".", " "), label or ""):
            for _, _, ids, collective in self._matches(normalize(text).split()):
                if not collective:
                    return ids[0]
        return None

    def of_document(self, lexicon: Lexicon, doc_id: str, texts: Iterable[str]) -> tuple[str, ...]:
        """The parties a step asks ``doc_id`` of (two or more), else ``()``; see the module rules."""
        found: dict[str, None] = {}
        for text in texts:
            for sentence in _SENTENCE.findall(text or ""):
                found.update(dict.fromkeys(self._sentence_parties(lexicon, doc_id, sentence)))
        return tuple(found) if len(found) >= 2 else ()

    def _sentence_parties(self, lexicon: Lexicon, doc_id: str, sentence: str) -> list[str]:
        spans = [m for m in lexicon.find_documents(sentence) if m.doc_id == doc_id]
        if not spans:
            return []
        spaced = normalize(sentence)
        tokens = spaced.split()
        matches = self._matches(tokens)
        out: list[str] = []
        # Lists: party words joined by conjunctions (or nothing: a comma) and fillers only.
        run: list[tuple[int, int, tuple[str, ...], bool]] = []
        runs = []
        for m in matches:
            if run and all(t in self.conjunctions or t in self.fillers for t in tokens[run[-1][1]:m[0]]):
                run.append(m)
            else:
                if run:
                    runs.append(run)
                run = [m]
        if run:
            runs.append(run)
        for r in runs:
            ids = [i for m in r for i in m[2]]
            if len(set(ids)) >= 2:
                out += ids
        # A party right after (or, with a possessive, right before) a mention of the document.
        starts = {m[0]: m for m in matches}
        ends = {m[1]: m for m in matches}
        for span in spans:
            first = spaced.count(" ", 0, span.start)
            last = spaced.count(" ", 0, span.end) + 1          # token after the document's name
            j = last
            while j < len(tokens) and j - last <= _GAP and j not in starts and tokens[j] in self.fillers:
                j += 1
            if j in starts:
                out += starts[j][2]
            k = first
            if k >= 2 and tokens[k - 1] == "s" and (k - 1) in ends:
                out += ends[k - 1][2]
        return list(dict.fromkeys(out))


def load_parties(path: str | Path | None = None) -> Parties:
    """Read and check a party vocabulary (the packaged one by default)."""
    file = Path(path) if path is not None else PARTIES_PATH
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
        schema = yaml.safe_load(SCHEMA_PATH.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogError(f"cannot read {file}: {exc}") from exc
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(data), key=lambda e: list(e.path))
    if errors:
        where = "/".join(str(p) for p in errors[0].path)
        raise CatalogError(f"{file}: {where}: {errors[0].message}")
    return Parties(data)


@lru_cache(maxsize=1)
def default_parties() -> Parties:
    """The packaged party vocabulary, read once per process."""
    return load_parties()
