"""Findings as data: what :mod:`bpmn.detect` reports, in the shape of the analysis contract.

A :class:`Finding` is one smell at one element; a ``paper_document`` finding lists the
:class:`DocumentHit` values it demands. Both serialise with ``to_json()`` to exactly the
``findings`` items of ``contracts/analysis.schema.json``.

Replaceability of one document (:func:`replaceable`): catalog ``full`` → true,
``none`` → false; ``partial`` → true when at least one of its inquiry services works
without a live capture or explicit consent (service ``context`` ``live_selfie`` or
``explicit_consent``: a new photo, a medical test), unless the activity says the
paper is foreign or informal («خارجی», «عادی»), which no domestic registry holds.
A finding is replaceable when any of its documents is.

``issuer`` is the catalog's English issuer name: reports are read by tools and by
people in both languages, and the document id leads back to the Persian name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bpmn.catalog import Catalog, Document

__all__ = ["DocumentHit", "Finding", "document_hit", "replaceable"]

# Inquiries that need the applicant present or his explicit consent cannot stand in for a paper.
_NEEDS_PERSON = frozenset({"live_selfie", "explicit_consent"})


@dataclass(frozen=True)
class DocumentHit:
    """One document an activity demands, and whether an inquiry can replace it."""

    id: str
    replaceable: bool
    inquiry_services: tuple[str, ...] = ()
    issuer: str | None = None
    matched: str | None = None      # the words, field label, data object or message that named it
    source: str | None = None       # name | documentation | annotation | form_field | data_object | message_flow

    def to_json(self) -> dict[str, Any]:
        """The contract's document shape (contracts/analysis.schema.json)."""
        return {"id": self.id, "replaceable": self.replaceable, "inquiry_services": list(self.inquiry_services),
                "issuer": self.issuer, "matched": self.matched, "source": self.source}


@dataclass(frozen=True)
class Finding:
    """A smell found at one element: a paper step, an in-person visit, a wet signature..."""

    kind: str
    element_id: str
    process_id: str
    element_type: str
    name: str | None
    line: int | None
    confidence: float
    replaceable: bool
    documents: tuple[DocumentHit, ...] = ()
    signals: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The contract's finding shape (contracts/analysis.schema.json)."""
        return {"kind": self.kind, "element_id": self.element_id, "process_id": self.process_id,
                "element_type": self.element_type, "name": self.name, "line": self.line,
                "confidence": self.confidence, "replaceable": self.replaceable,
                "documents": [d.to_json() for d in self.documents], "signals": list(self.signals)}


def replaceable(document: Document, catalog: Catalog, *, foreign: bool = False, informal: bool = False) -> bool:
    """Whether an inquiry can replace this document here (catalog rating, and context for partial ones)."""
    if document.replaceability == "full":
        return True
    if document.replaceability == "none":
        return False
    usable = [s for s in catalog.services_for(document.id) if not _NEEDS_PERSON & set(s.context)]
    return bool(usable) and not foreign and not informal


def document_hit(document: Document, catalog: Catalog, matched: str | None, source: str | None, *,
                 foreign: bool = False, informal: bool = False) -> DocumentHit:
    """A document as reported: inquiry services, English issuer, and replaceability in this context."""
    return DocumentHit(document.id, replaceable(document, catalog, foreign=foreign, informal=informal),
                       tuple(document.inquiries), document.issuer_en, matched, source)
