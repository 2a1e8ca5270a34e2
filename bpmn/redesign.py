"""Once-only redesign: paper steps become electronic inquiries, the diagram stays as drawn.

:func:`redesign` takes a model and its findings (from :mod:`bpmn.detect`) and
returns a :class:`Redesign`: the new model bytes, the form files it changed
(always under new names, so the originals stay valid for the old version),
and a change log a manager can review item by item (DESIGN.md §3).

For every accepted paper step (the pattern, per document rules in
``data/redesign_rules.yaml``):

1. the step is replaced by, or preceded by, one inquiry ``serviceTask`` per
   issuer service (``spiffworkflow:serviceTaskOperator id="inquiry/<service>"``
   with parameters read from the process variables holding the identifiers the
   service needs; identifiers nobody collects yet are added to an earlier form);
2. an error boundary event and a timer boundary event on each inquiry lead to
   a fallback (a clerk checks the original, or the applicant uploads it) that
   rejoins the main flow at a merge gateway;
3. several inquiries of one step (or of consecutive replaced steps) run in
   parallel;
4. a consent (or preview) task precedes the inquiry where the rules say so;
5. upload fields, data objects and message flows carrying the replaced papers
   leave the step; a step still asking for other papers stays with only those.

Everything else in the file is kept byte for byte as far as XML allows; new
shapes go into free space (:mod:`bpmn.layout`). This module is pure: it reads
nothing but the model's own files and writes nothing.

Modules: :mod:`bpmn.inquiryplan` decides, :mod:`bpmn.fragment` builds the
elements, :mod:`bpmn.layout` and :mod:`bpmn.placement` draw them,
:mod:`bpmn.formedit` edits forms, :mod:`bpmn.rewrite` does the XML surgery.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from types import MappingProxyType
from typing import Any, Protocol

from bpmn.catalog import Catalog, default_catalog
from bpmn.formedit import FormStore, NewField
from bpmn.fragment import Builder, Lanes, Words, camunda_or_spiff_form
from bpmn.gcpause import paused_gc
from bpmn.inquiryplan import StepPlan, make_context, plan_step
from bpmn.layout import Layout
from bpmn.lexicon import Lexicon, default_lexicon
from bpmn.load import CAMUNDA_NS, SPIFF_NS, Source, load_bytes
from bpmn.model import FlowNode, Model, Process
from bpmn.redesign_log import Change, ChangeLog
from bpmn.redesign_rules import FALLBACK_KINDS, Rules, default_rules, is_duration
from bpmn.rewrite import PANJEREH_NS, Editor, all_ids
from bpmn.stepedit import edit_kept_step, missing_fields, source_identifiers, upload_ids

SCHEMA_ID = "panjereh.redesign/1"
PAPER_KIND = "paper_document"
_PERSIAN = re.compile(r"[\u0600-\u06ff]")


class HitLike(Protocol):
    id: str
    replaceable: bool
    inquiry_services: Sequence[str]
    matched: str | None


class FindingLike(Protocol):
    kind: str
    element_id: str
    replaceable: bool
    documents: Sequence[Any]


@dataclass(frozen=True)
class Choices:
    """What the analyst or manager chose.

    ``only``: finding element ids to apply (None: every replaceable finding);
    ``fallback``: document id → ``clerk`` or ``upload``, overriding the rules;
    ``parallel``: run several inquiries of a step side by side;
    ``timeout``: an ISO 8601 duration for every inquiry's timer, overriding the rules;
    ``make_room``: when a step's new elements do not fit between its neighbours, move
    everything to their right instead of spreading them over free space (by default
    nothing drawn moves, except around a sub-process that has to grow).
    """

    only: frozenset[str] | None = None
    fallback: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    parallel: bool = True
    timeout: str | None = None
    make_room: bool = False

    def __post_init__(self) -> None:
        if self.timeout is not None and not is_duration(self.timeout):
            raise ValueError(f"timeout {self.timeout!r} is not an ISO 8601 duration such as PT2M")
        for doc, kind in self.fallback.items():
            if kind not in FALLBACK_KINDS:
                raise ValueError(f"fallback for {doc!r} must be one of {FALLBACK_KINDS}, not {kind!r}")


@dataclass(frozen=True)
class Redesign:
    """The result of one redesign."""

    data: bytes
    files: Mapping[str, bytes]
    changes: tuple[Change, ...]
    steps_replaced: int = 0
    documents_eliminated: int = 0
    kept: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        """Whether the model differs from the input at all."""
        return bool(self.changes)

    def summary(self) -> dict[str, Any]:
        """The contract's ``summary``."""
        return {"steps_replaced": self.steps_replaced, "documents_eliminated": self.documents_eliminated,
                "kept": list(self.kept)}

    def change_log_json(self, source: str, output: str) -> dict[str, Any]:
        """The ``panjereh.redesign/1`` change log (contracts/redesign.schema.json)."""
        return change_log_json(self, source, output)

    def as_source(self, original: Source, name: str | None = None) -> Source:
        """The redesigned model as a :class:`Source`: new form files first, then the original's."""
        files = dict(self.files)

        def read(ref: str) -> bytes | None:
            return files[ref] if ref in files else original.side_file(ref)

        return load_bytes(self.data, name or original.name, read_side=read)


def change_log_json(result: Redesign, source: str, output: str) -> dict[str, Any]:
    """The ``panjereh.redesign/1`` change log of ``result``."""
    return {"schema": SCHEMA_ID, "source": source, "output": output,
            "changes": [c.to_json() for c in result.changes], "summary": result.summary()}


def model_language(model: Model) -> str:
    """``fa`` when the model's names are written in Persian (Arabic script), else ``en``."""
    names = [n.name for p in model.processes for n in p.nodes.values() if n.name]
    persian = sum(1 for n in names if _PERSIAN.search(n))
    return "fa" if names and persian * 2 >= len(names) else "en"


def model_form_style(model: Model) -> str:
    """``spiff`` when the model's forms are JSON-Schema files, else ``camunda`` (formData)."""
    styles = [n.form.style for p in model.processes for n in p.nodes.values() if n.form is not None]
    return "spiff" if "spiff" in styles else "camunda"


@paused_gc
def redesign(model: Model, findings: Sequence[FindingLike], choices: Choices | None = None,
             catalog: Catalog | None = None, *, lexicon: Lexicon | None = None,
             rules: Rules | None = None) -> Redesign:
    """Apply the replaceable findings (or those in ``choices.only``) to ``model``.

    A model with nothing to change comes back as the very same bytes.
    """
    choices = choices or Choices()
    catalog = catalog or default_catalog()
    if lexicon is None:
        lexicon = default_lexicon() if catalog is default_catalog() else Lexicon(catalog)
    rules = rules or default_rules()
    lang = model_language(model)
    # Steps a redesign added (fallback uploads above all) are never redesigned again:
    # a second run over a redesigned model changes nothing.
    paper = [f for f in findings if f.kind == PAPER_KIND and model.node(f.element_id) is not None
             and not _added_by_redesign(model.node(f.element_id))]
    selected = [f for f in paper if f.replaceable and (choices.only is None or f.element_id in choices.only)]
    kept: list[str] = [f.element_id for f in paper if not f.replaceable]
    ctx = make_context(model, catalog, lexicon, rules, choices.fallback, lang)
    plans: list[StepPlan] = []
    log = ChangeLog(lang, catalog)
    order = {nid: i for i, nid in enumerate(n for p in model.processes for n in p.nodes)}
    id_counts = Counter(all_ids(model.source.root))
    for f in sorted(selected, key=lambda f: order.get(f.element_id, 0)):
        node = model.node(f.element_id)
        process = model.process(node.process_id)
        why = None
        if id_counts[node.id] > 1:
            why = ("شناسه این مرحله در فایل تکراری است" if lang == "fa" else
                   "its id is used twice in the file, so which element to change is ambiguous")
        elif node.kind != "activity" or process is None:
            why = "این عنصر مرحله کاری نیست" if lang == "fa" else "the element is not an activity"
        if why is not None:
            kept.append(node.id)
            log.keep_step(node, why)
            continue
        plan = plan_step(ctx, process, node, f.documents)
        if isinstance(plan, str):
            kept.append(node.id)
            log.keep_step(node, plan)
            continue
        plans.append(plan)
    if not plans:
        return Redesign(model.source.data, MappingProxyType({}), tuple(log.changes), 0, 0,
                        tuple(dict.fromkeys(kept)))
    style = model_form_style(model)
    namespaces = [PANJEREH_NS, SPIFF_NS] + ([CAMUNDA_NS] if style == "camunda" else [])
    editor = Editor(model.source.root, namespaces)
    store = FormStore(model.source.side_file)
    stem = PurePosixPath(model.source.name.replace("\\", "/").rsplit("!", 1)[-1]).name
    stem = re.sub(r"(\.bpmn2?|\.bpmn20\.xml|\.xml)$", "", stem, flags=re.IGNORECASE) or "model"
    builder = Builder(editor, catalog, Words(lang), camunda_or_spiff_form(editor, style, store.files, stem,
                                                                         store.taken),
                      choices.parallel, choices.timeout)
    layout = Layout(editor, choices.make_room)
    removed_all: list[str] = []
    paper_ids = {f.element_id for f in paper}
    for group in _groups(ctx, plans, choices.parallel):
        widened_before = len(layout.result.widened)
        room_before = len(layout.result.room)
        group = [source_identifiers(ctx, store, editor, plan, log, paper_ids) for plan in group]
        missing = missing_fields(catalog, group, lang)
        for plan in group:
            if not plan.remove:
                edit_kept_step(editor, store, plan, log)
            elif plan.message_flows_removed:
                log.message_flows(plan)   # removed with the step by the fragment builder
        first = group[0].node.id
        anchor = editor.bounds(first)
        plane = editor.plane_of(first)
        uploads = upload_ids(group, lexicon)
        lanes = _lanes(editor, ctx, group[0])
        if anchor is not None and plane is not None:
            lanes = layout.choose_lanes(lanes, anchor, plane, _width_needed(group, lanes, choices.parallel, missing),
                                        group[0].remove, removed_all)
        frag = builder.build(group, lanes, missing, uploads)
        removed_all += frag.removed_ids + [d for p in group for d in p.data_refs_removed]
        layout.place_fragment(frag, anchor, plane, removed_all)
        log.fragment(group, frag, missing, layout.result.widened[widened_before:], layout.result.room[room_before:])
    kept += [p.node.id for p in plans if p.kept]
    return Redesign(editor.serialize(), MappingProxyType(dict(store.files)), tuple(log.changes),
                    len(plans), sum(len(p.replaced) for p in plans), tuple(dict.fromkeys(kept)))


def _added_by_redesign(node: FlowNode) -> bool:
    el = node.element
    return el is not None and el.get(f"{{{PANJEREH_NS}}}role") is not None


def _groups(ctx: Any, plans: list[StepPlan], parallel: bool) -> list[list[StepPlan]]:
    """Plans in runs: consecutive removed steps joined by a single flow share one parallel block."""
    groups: list[list[StepPlan]] = []
    for plan in plans:
        if parallel and groups and _consecutive(ctx, groups[-1][-1], plan):
            groups[-1].append(plan)
        else:
            groups.append([plan])
    return groups


def _consecutive(ctx: Any, a: StepPlan, b: StepPlan) -> bool:
    if not (a.remove and b.remove) or a.process.id != b.process.id or a.node.parent_id != b.node.parent_id:
        return False
    if a.node.lane_id != b.node.lane_id:
        return False
    # The flows looked up by end, not scanned: a large model has many paper steps.
    outs = ctx.flows_from(a.process, a.node.id)
    ins = ctx.flows_to(b.process, b.node.id)
    return len(outs) == 1 and len(ins) == 1 and outs[0].target == b.node.id


def _width_needed(group: Sequence[StepPlan], lanes: Lanes, parallel: bool, missing: Sequence[NewField]) -> float:
    """A rough width of a fragment's main row, to choose a lane it fits in."""
    units = [inq for plan in group for inq in plan.inquiries]
    per_unit = []
    for inq in units:
        width = 220.0
        fallback_lane = lanes.agency if inq.rule.fallback == "clerk" else lanes.applicant
        if fallback_lane is lanes.main:
            width += 220.0
        if inq.rule.consent:
            width += 220.0
        if inq.rule.preview:
            width += 135.0
        per_unit.append(width)
    total = (max(per_unit) + 170.0) if parallel and len(units) > 1 else sum(per_unit)
    return total + (135.0 if missing else 0.0)


def _lanes(editor: Editor, ctx: Any, plan: StepPlan) -> Lanes:
    """Which lane takes the inquiries, the applicant's steps and the clerk's checks."""
    process, node = plan.process, plan.node
    main = editor.lane_of(node.id)
    if main is None:
        return Lanes(None, None, None)
    lanes = {lid: lane for lid, lane in process.lanes.items()}

    def el(lid: str | None):
        return editor.element(lid) if lid else None

    here = lanes.get(node.lane_id or "")
    applicant_ids = [lid for lid, lane in lanes.items() if ctx.is_applicant_lane(lane.name)]
    if here is not None and ctx.is_applicant_lane(here.name):
        agency = _downstream_lane(ctx, process, node, set(applicant_ids))
        agency = agency or next((lid for lid in lanes if lid not in applicant_ids), None)
        return Lanes(main, main, el(agency) if agency else main)
    applicant = el(applicant_ids[0]) if applicant_ids else None
    return Lanes(main, applicant if applicant is not None else main, main)


def _downstream_lane(ctx: Any, process: Process, node: FlowNode, applicant: set[str]) -> str | None:
    """The lane of the nearest step after ``node`` that the applicant does not perform."""
    seen = {node.id}
    frontier = [node.id]
    while frontier:
        nxt = []
        for nid in frontier:
            for f in ctx.flows_from(process, nid):
                if f.target and f.target not in seen:
                    seen.add(f.target)
                    target = process.nodes.get(f.target)
                    if target is None:
                        continue
                    if target.lane_id and target.lane_id not in applicant:
                        return target.lane_id
                    nxt.append(f.target)
        frontier = nxt
    return None


__all__ = [
    "SCHEMA_ID", "Change", "Choices", "Redesign", "change_log_json", "model_form_style", "model_language",
    "redesign",
]
