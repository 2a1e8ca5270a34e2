"""Paper-document findings: which activities make the applicant supply which documents.

:func:`detect` reads a :class:`~bpmn.model.Model` and returns :class:`Finding`
values, in document order. The main kind is ``paper_document``: the activity
makes the applicant (or his attorney) supply documents, named by catalog id,
with their issuer, the inquiries that could replace them and the text or field
that named them. Other process smells are reported as their own kinds by
:mod:`bpmn.smells` (``in_person_visit``, ``wet_signature``, ``paper_letter``,
``citizen_as_courier``) so that they never dilute the paper-document list.

How a paper step is recognised
------------------------------
An activity is a candidate only through a *channel* by which papers reach the
agency: a clause of its name, documentation or a linked text annotation that
demands them (:func:`bpmn.evidence.clause_kind` reads direction, negation and the
verb that leads), a file-upload form field, a data object flowing in, a message
from the applicant's pool, or a verbless name in the applicant's own lane. The
channel must carry something: a catalog document (umbrella terms expanded), a
non-evidence item (drawings, an undertaking), or an unresolved list («مدارک
لازم» with nothing listed). Automated tasks (service, script, business rule) and
agency send tasks are never paper steps.

Confidence is the clamped sum of the weights in :data:`WEIGHTS` over the signals
found (each signal counts once); a finding is emitted from :data:`THRESHOLD`.
Findings on an unresolved list alone are capped at :data:`UNRESOLVED_CAP`.

Each document is reported with its inquiry services, issuer and whether an inquiry
can replace it here (the rule is in :mod:`bpmn.findings`); the finding is
replaceable when any of its documents is.
"""

from __future__ import annotations

from bpmn.catalog import Catalog, default_catalog
from bpmn.evidence import APPLICANT, Inflow, ModelContext
from bpmn.findings import DocumentHit, Finding, document_hit, replaceable
from bpmn.lexicon import DocMatch, Lexicon, default_lexicon
from bpmn.model import FlowNode, Model
from bpmn.signals import Reading
from bpmn.smells import smells

__all__ = ["THRESHOLD", "UNRESOLVED_CAP", "WEIGHTS", "DocumentHit", "Finding", "detect", "replaceable"]

WEIGHTS: dict[str, float] = {
    # channels: how papers reach the agency
    "request_verb": 0.30,
    "file_field": 0.35,
    "data_object_in": 0.35,
    "data_object_out": 0.35,
    "message_flow_in": 0.35,
    "applicant_lane": 0.15,
    "applicant_pool": 0.15,
    # what is supplied
    "document_name": 0.40,
    "umbrella_term": 0.35,
    "non_catalog_evidence": 0.30,
    "unresolved_document_list": 0.20,
    # corroboration
    "form_qualifier": 0.10,
    "quantity": 0.05,
    "modality": 0.05,
    "manual_task": 0.05,
    "receive_task": 0.05,
    "courier": 0.05,
    "documentation": 0.0,       # where the demand was written (informative)
    "annotation": 0.0,
    "self_authored": 0.0,       # a document the applicant drafted earlier in the process
    # counter-evidence that does not rule the step out
    "internal_processing": -0.15,
}
THRESHOLD = 0.5
UNRESOLVED_CAP = 0.55
AUTOMATED = frozenset({"serviceTask", "scriptTask", "businessRuleTask"})
# Non-evidence ids that are live captures, not papers handed over.
_CAPTURES = frozenset({"live_capture"})


class _Evidence:
    """What one activity's texts and surroundings say, gathered before scoring."""

    def __init__(self) -> None:
        self.signals: dict[str, None] = {}
        self.docs: dict[str, tuple[str, str]] = {}          # doc id -> (matched, source)
        self.courier_docs: dict[str, tuple[str, str]] = {}
        self.handover_docs: dict[str, tuple[str, str]] = {}
        self.mentions: dict[str, tuple[str, str]] = {}
        self.negated: set[str] = set()
        self.non_catalog: list[str] = []
        self.unresolved = False
        self.request = False
        self.courier = False
        self.veto = False
        self.name_paper = False
        self.context: dict[str, tuple[bool, bool]] = {}    # doc id -> (foreign, informal)

    def add(self, signal: str) -> None:
        self.signals[signal] = None

    def take(self, target: dict[str, tuple[str, str]], reading: Reading, match: DocMatch, source: str,
             whole: str | None = None) -> None:
        # A field label, data object or message is reported whole; in a sentence, the words that matched.
        target.setdefault(match.doc_id, (whole or match.matched, source))
        foreign, informal = reading.context(match)
        was = self.context.get(match.doc_id, (False, False))
        self.context[match.doc_id] = (was[0] or foreign, was[1] or informal)
        if match.via == "umbrella" and target is self.docs:
            self.add("umbrella_term")


def detect(model: Model, catalog: Catalog | None = None, *, lexicon: Lexicon | None = None) -> list[Finding]:
    """All findings of a model, in document order (paper documents and the other smells).

    ``catalog`` defaults to the packaged one; ``lexicon`` to the catalog's compiled
    lexicon (pass one to reuse it across many models built from a custom catalog).
    """
    if lexicon is None:
        lexicon = default_lexicon() if catalog is None or catalog is default_catalog() else Lexicon(catalog)
    catalog = catalog or lexicon.catalog
    ctx = ModelContext(model, lexicon)
    findings: list[Finding] = []
    for proc in model.processes:
        for node in proc.activities:
            if node.role:
                # Added by the redesign (an inquiry, or the fallback taken only when the
                # inquiry fails): already once-only, not a step to replace again.
                continue
            paper = _paper_finding(node, ctx, catalog)
            if paper is not None:
                findings.append(paper)
            findings.extend(smells(node, ctx, catalog, paper))
    return findings


# --------------------------------------------------------------------------- gathering


def _paper_finding(node: FlowNode, ctx: ModelContext, catalog: Catalog) -> Finding | None:
    performer = ctx.performer[node.id]
    if node.tag in AUTOMATED or node.id in ctx.has_children or node.id in ctx.handed_over:
        return None
    if node.tag == "sendTask" and performer != APPLICANT:
        return None
    ev = _Evidence()
    name_kinds = _read_texts(node, ctx, ev)
    if ev.veto:
        return None
    # «تحویل X» with nobody to say which way: X goes out if this activity answers the applicant's
    # pool or the process issued X earlier; otherwise it comes in.
    if node.id not in ctx.outgoing_to_applicant:
        for doc_id, where in ev.handover_docs.items():
            if not ctx.issued_before(doc_id, node.id):
                ev.docs.setdefault(doc_id, where)
    _structural(node, ctx, ev, name_kinds)
    documents = _documents(node, ctx, catalog, ev)
    if not (ev.request or ev.signals.keys() & {"file_field", "data_object_in", "data_object_out",
                                                "message_flow_in", "applicant_lane", "applicant_pool"}):
        return None
    if documents:
        ev.add("document_name")
    elif ev.non_catalog:
        ev.add("non_catalog_evidence")
    elif ev.unresolved:
        ev.add("unresolved_document_list")
    else:
        return None
    if performer == APPLICANT:
        ev.add(f"applicant_{ctx.performer_source[node.id]}")
    if node.tag == "manualTask":
        ev.add("manual_task")
    elif node.tag == "receiveTask":
        ev.add("receive_task")
    if ev.courier and documents:
        ev.add("courier")
    if not ev.request and name_kinds & {"internal", "entry"}:
        ev.add("internal_processing")
    score = min(1.0, max(0.0, sum(WEIGHTS.get(s, 0.0) for s in ev.signals)))
    if not documents and not ev.non_catalog:
        score = min(score, UNRESOLVED_CAP)
    score = round(score, 2)
    if score < THRESHOLD:
        return None
    return Finding("paper_document", node.id, node.process_id, node.tag, node.name, node.line, score,
                   any(d.replaceable for d in documents), tuple(documents), tuple(ev.signals))


def _read_texts(node: FlowNode, ctx: ModelContext, ev: _Evidence) -> set[str]:
    """Name, documentation and annotations: demands, courier trips, negations and mentions."""
    performer = ctx.performer[node.id]
    name_kinds: set[str] = set()
    sources = [(node.name, "name"), (node.documentation, "documentation")]
    sources += [(text, "annotation") for text in ctx.annotations.get(node.id, ())]
    for text, source in sources:
        reading = ctx.read(text)
        if reading is None:
            continue
        if reading.not_involved:
            ev.veto = True
            return name_kinds
        kinds = ctx.kinds(reading, performer)
        if source == "name":
            name_kinds.update(kinds)
        _read_clauses(reading, kinds, source, ev)
    return name_kinds


def _read_clauses(reading: Reading, kinds: tuple[str, ...], source: str, ev: _Evidence) -> None:
    demanded = False
    for index, (clause, kind) in enumerate(zip(reading.clauses, kinds, strict=True)):
        if kind == "negated" and clause.generic_docs:
            # «مدرکی بارگذاری نمی‌شود», "no documents need to be submitted": the supplying itself is denied.
            ev.veto = True
            return
        if kind == "courier_demand":
            ev.courier = True
        if kind in ("demand", "handover", "courier_demand"):
            demanded = True
            ev.request = True
            ev.add("request_verb")
            if source != "name":
                ev.add(source)
            hits = clause.hits
            if hits.qualifier:
                ev.add("form_qualifier")
            if hits.quantity:
                ev.add("quantity")
            if hits.modality:
                ev.add("modality")
            ev.non_catalog += [h.id for h in hits.non_evidence if h.id not in _CAPTURES]
            if index in reading.unresolved or clause.generic_docs:
                ev.unresolved = True
        elif kind == "courier":
            ev.courier = True
    for index, match in reading.docs:
        kind = kinds[index] if index < len(kinds) else "mention"
        if kind in ("demand", "courier_demand"):
            ev.take(ev.docs, reading, match, source)
        elif kind == "handover":
            ev.take(ev.handover_docs, reading, match, source)
        elif kind == "courier":
            ev.take(ev.courier_docs, reading, match, source)
        elif kind == "negated":
            ev.negated.add(match.doc_id)
        elif kind == "mention":
            ev.take(ev.mentions, reading, match, source)
            if source == "name" and (reading.plain[:match.start].count(" ") <= 1
                                     or reading.clauses[index].hits.qualifier):
                ev.name_paper = True
    if demanded and ev.courier:
        # "obtain X … and hand it in": what was fetched is what is handed in; a certificate the
        # catalog does not know is still paper from another agency, of unknown kind.
        for doc_id, where in ev.courier_docs.items():
            ev.docs.setdefault(doc_id, where)
        if not ev.courier_docs:
            ev.unresolved = True


def _structural(node: FlowNode, ctx: ModelContext, ev: _Evidence, name_kinds: set[str]) -> None:
    """Form file fields, data objects, applicant messages and the applicant's own lane."""
    form = node.form
    files = form.file_fields if form is not None else ()
    for field in files:
        ev.add("file_field")
        label = " ".join(t for t in (field.label, field.description) if t) or field.id.replace("_", " ")
        _read_inflow(Inflow(label, "form_field", field.id), ctx, ev)
    for inflow in ctx.inflows(node):
        ev.add("data_object_in" if inflow.source == "data_object" else "message_flow_in")
        _read_inflow(inflow, ctx, ev)
    for inflow in ctx.applicant_outflows(node):
        ev.add("data_object_out")
        _read_inflow(inflow, ctx, ev)
    adopt = bool(files) or ev.request
    # A verbless name in the applicant's own lane that *is* a paper («کپی شناسنامه», "ID card and
    # birth certificate"): the document leads the name or carries a copy/original qualifier. A
    # document that only qualifies something else («دوره آموزشی کارت بازرگانی») does not count.
    verbless = not name_kinds - {"mention", "visit"}
    if ctx.performer[node.id] == APPLICANT and verbless and ev.name_paper:
        adopt = True
        ev.add("applicant_" + ctx.performer_source[node.id])
    if adopt:
        # "Upload identity documents" with the list in the documentation or an annotation.
        for doc_id, where in ev.mentions.items():
            ev.docs.setdefault(doc_id, where)


def _read_inflow(inflow: Inflow, ctx: ModelContext, ev: _Evidence) -> None:
    reading = ctx.read(inflow.text)
    if reading is None:
        return
    negated = {i for i, c in enumerate(reading.clauses) if c.negated}
    for index, match in reading.docs:
        if index not in negated:
            ev.take(ev.docs, reading, match, inflow.source, inflow.text.strip())
    for index, clause in enumerate(reading.clauses):
        if index in negated:
            continue
        ev.non_catalog += [h.id for h in clause.hits.non_evidence if h.id not in _CAPTURES]
        if index in reading.unresolved or clause.generic_docs:
            ev.unresolved = True
        if clause.hits.qualifier:
            ev.add("form_qualifier")


# --------------------------------------------------------------------------- documents


def _documents(node: FlowNode, ctx: ModelContext, catalog: Catalog, ev: _Evidence) -> list[DocumentHit]:
    out: list[DocumentHit] = []
    for doc_id, (matched, source) in ev.docs.items():
        if doc_id in ev.negated and source in ("name", "documentation", "annotation"):
            continue
        if ctx.drafted_before(doc_id, node.id):
            # The applicant's own drafts (articles he filled in earlier) are content, not evidence.
            ev.non_catalog.append(doc_id)
            ev.add("self_authored")
            continue
        if source in ("data_object", "message_flow") and ctx.issued_before(doc_id, node.id):
            continue  # the process's own output travelling on
        document = catalog.documents.get(doc_id)
        if document is None:
            continue
        foreign, informal = ev.context.get(doc_id, (False, False))
        out.append(document_hit(document, catalog, matched, source, foreign=foreign, informal=informal))
        if source in ("documentation", "annotation"):
            ev.add(source)
    return out
