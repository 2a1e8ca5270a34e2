"""Process smells other than paper documents, each reported as its own finding kind.

DESIGN.md §2 asks for more than paper steps. These kinds are kept apart from
``paper_document`` so that a reader (and the redesign) can trust that list:

* ``in_person_visit`` — the applicant must come to an office («مراجعه حضوری»,
  «حضور … در دفترخانه», "attend … in person");
* ``wet_signature`` — the applicant signs on paper («امضای دفتر …», "sign the
  form in front of the clerk");
* ``paper_letter`` — a paper letter between agencies («ارسال نامه به دانشگاه»,
  "send a letter to the police station", a written reply), not electronic and
  not an internal memo;
* ``citizen_as_courier`` — the applicant is sent to fetch a certificate or an
  inquiry answer from another agency («دریافت پوشه اماکن از پلیس اماکن»,
  "obtain a certificate … and hand it in"). When he also hands it in, the same
  activity is a ``paper_document`` too.

Each finding names its evidence in ``signals``; confidence is a fixed base per
kind, raised when the performer is known to be the applicant.
"""

from __future__ import annotations

from bpmn.catalog import Catalog
from bpmn.evidence import AGENCY, APPLICANT, ModelContext
from bpmn.findings import Finding, document_hit
from bpmn.model import FlowNode

__all__ = ["smells"]

_BASE = {"in_person_visit": 0.65, "wet_signature": 0.65, "paper_letter": 0.7, "citizen_as_courier": 0.7}
_AUTOMATED = frozenset({"serviceTask", "scriptTask", "businessRuleTask"})
_NOT_LETTER = frozenset({"demand", "courier", "courier_demand", "negated", "notify", "payment", "biometric"})


def smells(node: FlowNode, ctx: ModelContext, catalog: Catalog, paper: Finding | None) -> list[Finding]:
    """The non-paper findings of one activity, in a fixed kind order."""
    if node.tag in _AUTOMATED or node.id in ctx.has_children:
        return []
    performer = ctx.performer[node.id]
    found: dict[str, list[str]] = {}
    courier_docs: dict[str, tuple[str, str]] = {}
    for text, source in ((node.name, "name"), (node.documentation, "documentation")):
        reading = ctx.read(text)
        if reading is None or (reading.not_involved and source == "documentation"):
            continue
        kinds = ctx.kinds(reading, performer)
        for index, (clause, kind) in enumerate(zip(reading.clauses, kinds, strict=True)):
            if clause.head not in ("visit", "sign") and "sign" not in clause.actions and not clause.letter \
                    and kind not in ("courier", "courier_demand"):
                continue
            role_named = bool(ctx.vocab.roles.search(clause.text))
            if kind in ("visit", "demand") and clause.head == "visit" and not clause.negated \
                    and (performer != AGENCY or role_named):
                found.setdefault("in_person_visit", []).append(f"{source}:visit")
            by_applicant = performer == APPLICANT or role_named or (performer != AGENCY and source == "name")
            if "sign" in (clause.head, *clause.actions) and not clause.negated and by_applicant:
                found.setdefault("wet_signature", []).append(f"{source}:signature")
            # A letter the agency writes, sends or receives; one the applicant brings is a paper document.
            if clause.letter and not clause.electronic and not clause.internal_note and performer != APPLICANT \
                    and not clause.to_role and kind not in _NOT_LETTER:
                found.setdefault("paper_letter", []).append(f"{source}:letter")
            if clause.head == "visit" and performer != AGENCY and (clause.letter or "inquiry" in clause.actions):
                # «مراجعه به شهرداری با نامه استعلام»: he carries the agencies' inquiry himself.
                found.setdefault("citizen_as_courier", []).append(f"{source}:carries_inquiry")
            if kind in ("courier", "courier_demand"):
                found.setdefault("citizen_as_courier", []).append(f"{source}:fetch_from_agency")
                for i, match in reading.docs:
                    if i == index:
                        courier_docs.setdefault(match.doc_id, (match.matched, source))
    out: list[Finding] = []
    for kind in ("in_person_visit", "wet_signature", "paper_letter", "citizen_as_courier"):
        if kind not in found:
            continue
        signals = list(dict.fromkeys(found[kind]))
        confidence = _BASE[kind]
        if performer == APPLICANT and kind != "paper_letter":
            signals.append("applicant_" + ctx.performer_source[node.id])
            confidence += 0.15
        documents = ()
        if kind == "citizen_as_courier":
            documents = tuple(document_hit(catalog.documents[d], catalog, matched, where)
                              for d, (matched, where) in courier_docs.items() if d in catalog.documents)
            if paper is not None:
                signals.append("handed_in")
                confidence += 0.1
        out.append(Finding(kind, node.id, node.process_id, node.tag, node.name, node.line,
                           round(min(confidence, 1.0), 2), any(d.replaceable for d in documents), documents,
                           tuple(signals)))
    return out
