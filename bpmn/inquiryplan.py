"""What a once-only redesign does to one paper step, decided before any XML is touched.

For each accepted finding this module answers, from the model and the catalog:

* which inquiry services replace which documents (one service may cover several
  documents; among the services the catalog allows, those whose identifiers the
  process already collects win);
* where each identifier an inquiry needs comes from: a form field of a step that
  always runs before the paper step (a *dominator* in the flow graph, so the
  variable is set on every path), or, when none has it, which earlier form gets
  the field added, or that a new step must ask for it;
* what the document rules (:mod:`bpmn.redesign_rules`) say: clerk or upload
  fallback, consent, preview, timeout;
* whether the paper step disappears (it only asked for the papers now fetched)
  or stays (other documents, other fields, other work), and what in it changes:
  upload fields, data objects and message flows carrying the replaced papers,
  its name and documentation.

The result is a :class:`StepPlan`; :mod:`bpmn.redesign` turns plans into XML.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bpmn.catalog import Catalog, InquiryService
from bpmn.evidence import APPLICANT, ModelContext
from bpmn.formfields import Form, FormField
from bpmn.lexicon import Lexicon
from bpmn.model import SUBPROCESS_TAGS, FlowNode, Model, Process, SequenceFlow
from bpmn.parties import Parties, default_parties
from bpmn.redesign_rules import Rule, Rules

# Steps a redesign may remove outright: simple activities whose only work was taking papers.
REMOVABLE_TAGS = frozenset({"task", "manualTask", "userTask", "receiveTask"})


# --------------------------------------------------------------------------- the plan values

@dataclass(frozen=True)
class Param:
    """One identifier an inquiry sends, and the process variable it is read from."""

    identifier: str
    variable: str              # a Python expression over task data: a field id
    source_step: str | None    # the step whose form holds (or now gets) the field
    added: bool = False        # True when the redesign adds the field to that form
    new_step: bool = False     # True when no earlier form exists: a new step asks for it
    party: str | None = None   # whose identifier, when the step asks papers of several people


@dataclass(frozen=True)
class InquiryPlan:
    """One inquiry replacing one or more documents of a step."""

    service: InquiryService
    documents: tuple[str, ...]
    params: tuple[Param, ...]
    rule: Rule
    party: str | None = None   # the person this inquiry is about (None: the one person of the step)


@dataclass(frozen=True)
class StepPlan:
    """Everything the redesign will do for one paper step."""

    node: FlowNode
    process: Process
    replaced: tuple[str, ...]                 # document ids now obtained by inquiry
    kept: tuple[str, ...]                     # document ids the step still asks for
    inquiries: tuple[InquiryPlan, ...]
    remove: bool                              # the step disappears; else the inquiries precede it
    keep_reason: str | None
    fields_removed: tuple[str, ...]           # upload fields of the step that leave its form
    data_refs_removed: tuple[str, ...]        # data object references feeding it the papers
    message_flows_removed: tuple[str, ...]    # message flows from another pool bringing the papers
    rename: str | None                        # new name of a kept step that named replaced papers
    documentation: str | None                 # new documentation of a kept step, when it changes
    surfaces: Mapping[str, str] = field(default_factory=dict)   # doc id -> how the model wrote it


# --------------------------------------------------------------------------- graph helpers

class FlowGraph:
    """Predecessors and dominators of the flow nodes of one model, computed once per level."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self._dom: dict[tuple[str, str | None, bool], dict[str, int]] = {}
        self._index: dict[tuple[str, str | None, bool], list[str]] = {}
        # Per level: each node's position, minus the size of its dominator set (the sort key
        # "deeper = nearer"), and the mask of steps with a form (what the planners read).
        self._pos: dict[tuple[str, str | None, bool], dict[str, int]] = {}
        self._depth: dict[tuple[str, str | None, bool], list[int]] = {}
        self._forms: dict[tuple[str, str | None], int] = {}
        # A redesign asks for the dominators of each paper step more than once.
        self._memo: dict[tuple[str, str, str | None, bool], list[FlowNode]] = {}

    def _level(self, process: Process, parent: str | None, reverse: bool = False) -> tuple[list[str], dict[str, int]]:
        """Dominator (or, reversed, post-dominator) sets as bit masks over the nodes of one level."""
        key = (process.id, parent, reverse)
        if key in self._dom:
            return self._index[key], self._dom[key]
        members = [n for n in process.nodes.values() if n.parent_id == parent]
        ids = [n.id for n in members]
        pos = {nid: i for i, nid in enumerate(ids)}
        preds: list[list[int]] = [[] for _ in ids]
        edges = [(f.source, f.target) for f in process.flows.values()]
        edges += [(n.attached_to, n.id) for n in members if n.attached_to]
        for a, b in edges:
            if a in pos and b in pos:
                src, dst = (b, a) if reverse else (a, b)
                preds[pos[dst]].append(pos[src])
        if reverse:
            roots = [i for i, p in enumerate(preds) if not p]
        else:
            roots = [i for i, n in enumerate(members)
                     if n.tag == "startEvent" or (not preds[i] and n.tag != "boundaryEvent")]
        full = (1 << len(ids)) - 1
        dom = [full] * len(ids)
        for r in roots:
            dom[r] = 1 << r
        rootset = set(roots)
        # Any visiting order reaches the same (greatest) fixed point; against the flow for
        # post-dominators it takes a pass or two instead of one per step of a long chain.
        order = range(len(ids) - 1, -1, -1) if reverse else range(len(ids))
        changed = True
        while changed:
            changed = False
            for i in order:
                if i in rootset:
                    continue
                acc = full
                for p in preds[i]:
                    acc &= dom[p]
                new = (acc if preds[i] else 0) | (1 << i)
                if new != dom[i]:
                    dom[i] = new
                    changed = True
        result = {nid: dom[pos[nid]] for nid in ids}
        self._dom[key], self._index[key], self._pos[key] = result, ids, pos
        self._depth[key] = [-result[nid].bit_count() for nid in ids]
        if not reverse:
            # Looked up by id, as the dominator lists are (a repeated id finds the first node).
            nodes = process.nodes
            self._forms[(process.id, parent)] = sum(
                1 << i for i, nid in enumerate(ids) if nid not in nodes or nodes[nid].form is not None)
        return ids, result

    def always_reaches(self, process: Process, start: FlowNode, goal: FlowNode) -> bool:
        """Whether every path from ``start`` passes ``goal`` (same level only; else False)."""
        if start.parent_id != goal.parent_id:
            return False
        _ids, pdom = self._level(process, start.parent_id, reverse=True)
        index = self._pos[(process.id, start.parent_id, True)]
        return bool(pdom.get(start.id, 0) >> index[goal.id] & 1) if goal.id in index else False

    def dominators(self, process: Process, node: FlowNode, *, with_form: bool = False) -> list[FlowNode]:
        """Steps that run before ``node`` on every path, nearest first (the node itself excluded).

        Inside a sub-process the dominators of the sub-process in its parent
        level follow those inside it. ``with_form`` keeps only the steps that
        have a form (the same list, filtered), which is all the planners read.
        """
        memo_key = (process.id, node.id, node.parent_id, with_form)
        cached = self._memo.get(memo_key)
        if cached is not None:
            return list(cached)
        out: list[FlowNode] = []
        current: FlowNode | None = node
        while current is not None:
            ids, dom = self._level(process, current.parent_id)
            key = (process.id, current.parent_id, False)
            mask = dom.get(current.id, 0)
            if with_form:
                mask &= self._forms[(process.id, current.parent_id)]
            mine = [i for i in _set_bits(mask) if ids[i] != current.id]
            # The dominators of a node form a chain; more dominators = deeper = nearer.
            # (A stable sort on the bit positions in ascending order, as the sets are listed.)
            depth = self._depth[key]
            mine.sort(key=depth.__getitem__)
            out.extend(process.nodes[ids[i]] for i in mine)
            current = process.nodes.get(current.parent_id) if current.parent_id else None
        self._memo[memo_key] = out
        return list(out)


# Positions of the set bits of each byte value, for reading large bit masks a byte at a time.
_BYTE_BITS = tuple(tuple(k for k in range(8) if b >> k & 1) for b in range(256))


def _set_bits(mask: int) -> list[int]:
    """The positions of the set bits of ``mask``, lowest first."""
    out: list[int] = []
    data = mask.to_bytes((mask.bit_length() + 7) // 8, "little")
    for at, byte in enumerate(data):
        if byte:
            base = at * 8
            out.extend([base + k for k in _BYTE_BITS[byte]])
    return out


def editable_form(node: FlowNode) -> bool:
    """Whether the redesign can add fields to the node's form (Camunda formData, JSON Schema, .form)."""
    form = node.form
    if form is None or form.problem:
        return False
    if form.style == "camunda":
        return True
    if form.style == "spiff":
        return form.ref is not None
    return form.style == "camunda-form" and bool(form.ref) and str(form.ref).endswith(".form")


# --------------------------------------------------------------------------- planning

@dataclass
class _Context:
    model: Model
    catalog: Catalog
    lexicon: Lexicon
    rules: Rules
    graph: FlowGraph
    fallback_overrides: Mapping[str, str]
    lang: str
    evidence: ModelContext
    parties: Parties = field(default_factory=default_parties)
    _fields: dict[str, list[tuple[str, FormField]]] = field(default_factory=dict)
    _counts: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)
    _hosts: set[str] | None = None
    _ends: dict[int, tuple[dict[str | None, list[SequenceFlow]], dict[str | None, list[SequenceFlow]]]] = \
        field(default_factory=dict)

    def is_host(self, node_id: str) -> bool:
        """Whether a boundary event sits on the node."""
        if self._hosts is None:
            self._hosts = {n.attached_to for p in self.model.processes for n in p.nodes.values() if n.attached_to}
        return node_id in self._hosts

    def identifiers_of(self, node: FlowNode) -> list[tuple[str, FormField]]:
        """(identifier id, field) for each non-file field of a step's form, computed once per step."""
        cached = self._fields.get(node.id)
        if cached is None:
            cached = [(ident, f) for f in (node.form.fields if node.form else ())
                      for ident in field_identifiers(self.lexicon, f)]
            self._fields[node.id] = cached
        return cached

    def flow_counts(self, process: Process, node_id: str) -> tuple[int, int]:
        """(incoming, outgoing) sequence flows of a node, counted once per process."""
        if process.id not in self._counts:
            counts: dict[str, list[int]] = {}
            for f in process.flows.values():
                counts.setdefault(f.target or "", [0, 0])[0] += 1
                counts.setdefault(f.source or "", [0, 0])[1] += 1
            self._counts[process.id] = {k: (v[0], v[1]) for k, v in counts.items()}
        return self._counts[process.id].get(node_id, (0, 0))

    def _flow_ends(self, process: Process) -> tuple[dict[str | None, list[SequenceFlow]],
                                                    dict[str | None, list[SequenceFlow]]]:
        ends = self._ends.get(id(process))
        if ends is None:
            outs: dict[str | None, list[SequenceFlow]] = {}
            ins: dict[str | None, list[SequenceFlow]] = {}
            for f in process.flows.values():
                outs.setdefault(f.source, []).append(f)
                ins.setdefault(f.target, []).append(f)
            ends = self._ends[id(process)] = (outs, ins)
        return ends

    def flows_from(self, process: Process, node_id: str) -> list[SequenceFlow]:
        """The process's sequence flows leaving the node, in document order (indexed once per process)."""
        return self._flow_ends(process)[0].get(node_id, [])

    def flows_to(self, process: Process, node_id: str) -> list[SequenceFlow]:
        """The process's sequence flows reaching the node, in document order (indexed once per process)."""
        return self._flow_ends(process)[1].get(node_id, [])

    def data_inputs(self, node: FlowNode) -> list[str]:
        """Data references feeding a step: input associations and (Signavio style) plain associations."""
        refs = list(node.data_inputs)
        refs += [r for r in self.evidence.associated_data.get(node.id, ()) if r not in refs]
        return refs

    def is_applicant_lane(self, name: str | None) -> bool:
        """Whether a lane's name says the applicant works in it (the detector's own reading)."""
        return self.evidence.role_of(name) == APPLICANT


def field_identifiers(lexicon: Lexicon, f: FormField) -> list[str]:
    """Identifier ids a (non-file) form field holds, by its id or its label."""
    if f.is_file or "[]" in f.id:
        return []
    found = list(lexicon.find_identifiers(f.id.replace("_", " ").replace(".", " ")))
    if f.label:
        found += [i for i in lexicon.find_identifiers(f.label) if i not in found]
    return found


def variable_expression(field_id: str) -> str:
    """The Python expression reading a form field from task data (``a.b`` → ``a['b']``)."""
    head, *rest = field_id.split(".")
    return head + "".join(f"[{part!r}]" for part in rest)


def _available(ctx: _Context, process: Process, node: FlowNode) -> dict[str, tuple[str, str]]:
    """Identifier id -> (variable, step id) for identifiers collected before ``node`` on every path."""
    found: dict[str, tuple[str, str]] = {}
    exact: set[str] = set()
    for dom in ctx.graph.dominators(process, node, with_form=True):
        for ident, f in ctx.identifiers_of(dom):
            is_exact = f.id == ident
            if ident not in found or (is_exact and ident not in exact):
                found[ident] = (variable_expression(f.id), dom.id)
                if is_exact:
                    exact.add(ident)
    return found


def _available_by_party(ctx: _Context, process: Process, node: FlowNode
                        ) -> dict[tuple[str | None, str], tuple[str, str]]:
    """(party or None, identifier id) -> (variable, step), as :func:`_available`, per field's party."""
    found: dict[tuple[str | None, str], tuple[str, str]] = {}
    for dom in ctx.graph.dominators(process, node, with_form=True):
        for ident, f in ctx.identifiers_of(dom):
            key = (ctx.parties.of_field(f.id, f.label), ident)
            if key not in found:
                found[key] = (variable_expression(f.id), dom.id)
    return found


def _party_params(ctx: _Context, service: InquiryService, party: str, available: Mapping[str, tuple[str, str]],
                  by_party: Mapping[tuple[str | None, str], tuple[str, str]]) -> list[Param]:
    """One party's parameters: its own personal identifiers, the step's shared ones.

    A personal identifier (national code, birth date...) comes from a field of that party
    (``buyer_national_code``, «کد ملی خریدار»); for the applicant a field naming nobody
    will do. When there is none, a field ``<party>_<identifier>`` is added.
    """
    personal = ctx.parties.personal
    params = []
    for ref in service.inputs:
        hit = next(((i, by_party[(party, i)]) for i in ref.ids if i in personal and (party, i) in by_party), None)
        if hit is None and party == "applicant":
            hit = next(((i, by_party[(None, i)]) for i in ref.ids if i in personal and (None, i) in by_party), None)
        if hit is None:
            hit = next(((i, available[i]) for i in ref.ids if i not in personal and i in available), None)
        if hit is not None:
            ident, (var, step) = hit
            params.append(Param(ident, var, step, party=party if ident in personal else None))
        elif not ref.optional:
            ident = ref.ids[0]
            if ident in personal:
                params.append(Param(ident, f"{party}_{ident}", None, added=True, party=party))
            else:
                params.append(Param(ident, ident, None, added=True))
    return params


def _missing(service: InquiryService, available: Mapping[str, Any]) -> list[str]:
    return [ref.ids[0] for ref in service.inputs if not ref.optional and not any(i in available for i in ref.ids)]


def choose_services(ctx: _Context, docs: Sequence[tuple[str, Sequence[str]]],
                    available: Mapping[str, Any]) -> dict[str, list[str]]:
    """Service id -> the documents it replaces; per document the service missing fewest identifiers."""
    chosen: dict[str, list[str]] = {}
    for doc_id, offered in docs:
        options = [s for s in offered if s in ctx.catalog.services]
        if not options:
            continue
        best = min(options, key=lambda s: (len(_missing(ctx.catalog.services[s], available)),
                                           0 if s in chosen else 1, options.index(s)))
        chosen.setdefault(best, []).append(doc_id)
    return chosen


def _file_field_docs(ctx: _Context, f: FormField) -> set[str]:
    text = " ".join(t for t in (f.label, f.id.replace("_", " "), f.description) if t)
    return set(ctx.lexicon.document_ids(text))


def _surface(ctx: _Context, node: FlowNode, doc_id: str, texts: Sequence[str]) -> str:
    """How the model names a document: the words matched in its texts, else the catalog's name."""
    for via in ("name", "umbrella"):
        for text in (node.name or "", node.documentation, *texts):
            for m in ctx.lexicon.find_documents(text):
                if m.doc_id == doc_id and m.via == via and len(m.matched) <= 60:
                    return m.matched
    doc = ctx.catalog.documents.get(doc_id)
    if doc is None:
        return doc_id
    names = doc.names_fa if ctx.lang == "fa" else doc.names_en
    return names[0] if names else doc_id


_SENTENCE = re.compile(r"[^.؛;!?؟\n]+[.؛;!?؟\n]*")


def rewrite_documentation(ctx: _Context, text: str, replaced: set[str], kept: Sequence[str],
                          surfaces: Mapping[str, str]) -> str | None:
    """Documentation without the demands for replaced papers (None when it named none of them)."""
    if not replaced & set(ctx.lexicon.document_ids(text)):
        return None
    out: list[str] = []
    for sentence in _SENTENCE.findall(text):
        ids = set(ctx.lexicon.document_ids(sentence))
        if not ids & replaced:
            out.append(sentence)
        elif ids & set(kept):
            names = ("، " if ctx.lang == "fa" else ", ").join(surfaces[d] for d in kept if d in ids)
            out.append(f"مدارک لازم: {names}. " if ctx.lang == "fa" else f"Required: {names}. ")
    note = ("(مدارکی که پیش‌تر در این مرحله خواسته می‌شد اکنون با استعلام برخط گرفته می‌شود.)"
            if ctx.lang == "fa" else "(Papers formerly asked for here are now obtained by online inquiry.)")
    body = "".join(out).strip()
    return f"{body}\n{note}" if body else note


def plan_step(ctx: _Context, process: Process, node: FlowNode, hits: Sequence[Any]) -> StepPlan | str:
    """The plan for one paper step, or the reason (text) why nothing can be done."""
    replace_hits = [h for h in hits if h.replaceable and any(s in ctx.catalog.services for s in h.inquiry_services)]
    if not replace_hits:
        return "no document of this step can be replaced by an inquiry the catalog knows"
    # After an event-based gateway only events and receive tasks may follow: no inquiry fits there.
    sources = [process.nodes.get(f.source or "") for f in ctx.flows_to(process, node.id)]
    if not sources:
        return ("هیچ جریانی به این مرحله نمی‌رسد (آغاز فرایند یا جبران است) و چیزی پیش از آن اجرا نمی‌شود"
                if ctx.lang == "fa" else
                "no sequence flow leads to it (it starts its level or handles compensation), so nothing can run "
                "before it")
    if any(s is None or s.parent_id != node.parent_id for s in sources):
        return ("جریانی از بیرون زیرفرایند (یا از عنصری ناموجود) به این مرحله می‌رسد؛ مدل در این‌جا خراب است"
                if ctx.lang == "fa" else
                "a sequence flow reaches it across a sub-process border (or from nothing): the model is broken here")
    if any(s is not None and s.tag == "eventBasedGateway" for s in sources):
        return ("پس از دروازه رویدادمحور فقط رویداد یا دریافت پیام می‌آید و استعلام آن‌جا جا ندارد"
                if ctx.lang == "fa" else
                "it follows an event-based gateway, where only events and receive tasks may come, not an inquiry")
    replaced_ids = tuple(dict.fromkeys(h.id for h in replace_hits))
    kept_ids = tuple(dict.fromkeys(h.id for h in hits if h.id not in replaced_ids))
    available = _available(ctx, process, node)
    by_service = choose_services(ctx, [(h.id, tuple(h.inquiry_services)) for h in replace_hits], available)
    replaced_set = set(replaced_ids)

    form: Form | None = node.form
    fields_removed: list[str] = []
    other_fields: list[FormField] = []
    if form is not None:
        for f in form.fields:
            docs = _file_field_docs(ctx, f) if f.is_file else set()
            if f.is_file and docs and docs <= replaced_set:
                fields_removed.append(f.id)
            else:
                other_fields.append(f)
    data_removed = []
    for ref_id in ctx.data_inputs(node):
        ref = process.data.get(ref_id)
        text = " ".join(t for t in ((ref.name or "") if ref else "", ref.documentation if ref else "") if t)
        docs = set(ctx.lexicon.document_ids(text))
        if docs and docs <= replaced_set:
            data_removed.append(ref_id)
    flows_removed = []
    for mf in ctx.model.message_flows:
        if mf.target == node.id:
            docs = set(ctx.lexicon.document_ids(mf.name or ""))
            if docs and docs <= replaced_set:
                flows_removed.append(mf.id)

    name_docs = set(ctx.lexicon.document_ids(node.name or ""))
    about_docs = bool(name_docs & replaced_set) or (form is not None and form.fields and not other_fields) \
        or (node.tag == "receiveTask" and bool(flows_removed))
    keep_reason = _keep_reason(ctx, process, node, kept_ids, other_fields, data_removed, about_docs)
    remove = keep_reason is None
    if remove:
        # Every message flow touching a removed step goes with it.
        flows_removed = [mf.id for mf in ctx.model.message_flows if node.id in (mf.source, mf.target)]

    texts = [h.matched for h in hits if h.matched]
    texts += [f.label or "" for f in (form.fields if form is not None else ())]
    texts += [(process.data[r].name or "") for r in ctx.data_inputs(node) if r in process.data]
    texts += [mf.name or "" for mf in ctx.model.message_flows if mf.target == node.id]
    surfaces = {d: _surface(ctx, node, d, texts) for d in (*replaced_ids, *kept_ids)}
    rename = documentation = None
    if not remove:
        request = ctx.lexicon.phrase_hits(node.name or "").request
        if name_docs & replaced_set and (request or not name_docs - replaced_set):
            rename = _new_name(ctx, kept_ids, other_fields, surfaces)
        documentation = rewrite_documentation(ctx, node.documentation, replaced_set, kept_ids, surfaces) \
            if node.documentation else None

    # Papers asked of several people: which people, per document (none for the usual single person).
    party_texts = [node.name or "", node.documentation, *ctx.evidence.annotations.get(node.id, ()), *texts]
    parties = {d: ctx.parties.of_document(ctx.lexicon, d, party_texts) for d in replaced_ids}
    by_party = _available_by_party(ctx, process, node) if any(parties.values()) else {}
    inquiries = []
    for sid, docs in by_service.items():
        service = ctx.catalog.services[sid]
        plain = [d for d in docs if not parties[d]]
        if plain:
            params = []
            for ref in service.inputs:
                hit = next((i for i in ref.ids if i in available), None)
                if hit is not None:
                    var, step = available[hit]
                    params.append(Param(hit, var, step))
                elif not ref.optional:
                    params.append(Param(ref.ids[0], ref.ids[0], None, added=True))
            rule = ctx.rules.for_documents(plain, ctx.fallback_overrides)
            inquiries.append(InquiryPlan(service, tuple(plain), tuple(params), rule))
        # One inquiry per person the papers are asked of, each with that person's identifiers.
        for party in dict.fromkeys(p for d in docs for p in parties[d]):
            mine = [d for d in docs if party in parties[d]]
            rule = ctx.rules.for_documents(mine, ctx.fallback_overrides)
            inquiries.append(InquiryPlan(service, tuple(mine), tuple(_party_params(ctx, service, party, available,
                                                                                    by_party)), rule, party))
    return StepPlan(node, process, replaced_ids, kept_ids, tuple(inquiries), remove, keep_reason,
                    tuple(fields_removed), tuple(data_removed), tuple(flows_removed), rename, documentation,
                    surfaces)


def _keep_reason(ctx: _Context, process: Process, node: FlowNode, kept: Sequence[str],
                 other_fields: Sequence[FormField], data_removed: Sequence[str], about_docs: bool) -> str | None:
    """Why the step must stay (None: it only took the papers now fetched, so it goes)."""
    fa = ctx.lang == "fa"
    if kept:
        return "مدارک دیگری که استعلام ندارند همچنان در این مرحله گرفته می‌شود" if fa else \
            "it still takes papers that no inquiry replaces"
    if node.tag not in REMOVABLE_TAGS or node.tag in SUBPROCESS_TAGS:
        return "این نوع مرحله کار دیگری هم انجام می‌دهد" if fa else "a step of this kind does other work too"
    el = node.element
    ins, outs = ctx.flow_counts(process, node.id)
    structural = (
        ctx.is_host(node.id)
        or (el is not None and any(str(c.tag).endswith(("loopCharacteristics", "LoopCharacteristics"))
                                   for c in el))
        or node.data_outputs
        or set(ctx.data_inputs(node)) - set(data_removed)
        or node.attrs.get("isForCompensation") == "true"
        or outs != 1
        or ins == 0
        or any(mf.source == node.id for mf in ctx.model.message_flows)
    )
    if structural:
        return "این مرحله به بخش‌های دیگر فرایند گره خورده است" if fa else \
            "the step is tied to other parts of the process (events, loops, data or several flows)"
    if other_fields:
        labels = ("، " if fa else ", ").join(f.label or f.id for f in other_fields)
        return f"فرم آن فیلدهای دیگری هم دارد: {labels}" if fa else f"its form asks for other things too: {labels}"
    if not about_docs:
        return "کار این مرحله چیزی جز گرفتن مدارک است" if fa else "the step does other work besides taking the papers"
    return None


def _new_name(ctx: _Context, kept: Sequence[str], fields: Sequence[FormField],
              surfaces: Mapping[str, str]) -> str:
    fa = ctx.lang == "fa"
    sep = " و " if fa else " and "
    parts = []
    if kept:
        parts.append(("ارائه " if fa else "Submit ") + sep.join(surfaces[d] for d in kept))
    labels = [f.label or f.id for f in fields if not f.is_file]
    if labels:
        parts.append(("تکمیل " if fa else "fill in ") + ("، " if fa else ", ").join(labels))
    if not parts:
        return "ادامه رسیدگی" if fa else "Continue"
    text = sep.join(parts)
    return text[0].upper() + text[1:]


def make_context(model: Model, catalog: Catalog, lexicon: Lexicon, rules: Rules,
                 fallback_overrides: Mapping[str, str], lang: str) -> _Context:
    """The shared state of planning one model."""
    return _Context(model, catalog, lexicon, rules, FlowGraph(model), fallback_overrides, lang,
                    ModelContext(model, lexicon))
