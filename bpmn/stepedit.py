"""Edits to existing steps a redesign makes: earlier forms gain identifiers, kept steps lose papers.

* :func:`source_identifiers` puts the identifiers an inquiry needs, and no
  earlier step asks for, into the nearest earlier form (preferring the
  registration form that already asks for the others); :func:`missing_fields`
  lists those for a new step when no earlier form exists;
* :func:`edit_kept_step` takes from a step that stays its upload fields, data
  objects and message flows for the replaced papers, renames it when its name
  asked for them, and rewrites its documentation;
* :func:`upload_ids` remembers which upload field carried which paper, so an
  upload fallback keeps the variable name later steps may read.

Each edit is logged on the :class:`~bpmn.redesign_log.ChangeLog`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from bpmn.catalog import Catalog
from bpmn.formedit import FormStore, NewField
from bpmn.inquiryplan import StepPlan, editable_form
from bpmn.lexicon import Lexicon
from bpmn.load import BPMN_NS
from bpmn.parties import default_parties
from bpmn.redesign_log import ChangeLog
from bpmn.rewrite import Editor


def source_identifiers(ctx: Any, store: FormStore, editor: Editor, plan: StepPlan, log: ChangeLog,
                        paper_steps: set[str]) -> StepPlan:
    """Identifiers nobody collects yet go to the nearest earlier form; the plan records where."""
    # Steps removed by an earlier fragment are gone from the tree; they cannot take fields.
    doms = [d for d in ctx.graph.dominators(plan.process, plan.node, with_form=True)
            if editable_form(d) and editor.element(d.id) is not None]
    # Prefer a form that already asks for this inquiry's identifiers (the registration step),
    # then any form that is not itself a paper step, nearest first.
    used = {p.source_step for inq in plan.inquiries for p in inq.params if p.source_step}
    doms.sort(key=lambda d: (d.id not in used, d.id in paper_steps))
    target = doms[0] if doms else None
    if target is None:
        return plan
    inquiries = []
    additions: list[NewField] = []
    # Required only when the paper step follows on every path: a conditional step's
    # identifiers must not block applicants who never reach it.
    required = ctx.graph.always_reaches(plan.process, target, plan.node)
    for inq in plan.inquiries:
        params = []
        for p in inq.params:
            if p.added and p.source_step is None:
                ident = ctx.catalog.identifiers.get(p.identifier)
                label = _label(ident, ctx.lang, p.identifier, p.party)
                additions.append(NewField(p.variable, label, "string", required, ident.pattern if ident else None))
                p = dataclasses.replace(p, source_step=target.id)
            params.append(p)
        inquiries.append(dataclasses.replace(inq, params=tuple(params)))
    if additions:
        unique = list({f.id: f for f in additions}.values())
        form = target.form
        _, added, files = store.edit(editor.element(target.id), form.style, form.ref, form.ui_ref, (), unique)
        log.identifier_fields(plan, target, unique, added, files)
    return dataclasses.replace(plan, inquiries=tuple(inquiries))


def missing_fields(catalog: Catalog, group: Sequence[StepPlan], lang: str) -> list[NewField]:
    """Identifier fields for a new step, when no earlier form could take them."""
    out: dict[str, NewField] = {}
    for plan in group:
        for inq in plan.inquiries:
            for p in inq.params:
                if p.added and p.source_step is None and p.variable not in out:
                    ident = catalog.identifiers.get(p.identifier)
                    label = _label(ident, lang, p.identifier, p.party)
                    out[p.variable] = NewField(p.variable, label, "string", True, ident.pattern if ident else None)
    return list(out.values())


def _label(ident: Any, lang: str, fallback: str, party: str | None = None) -> str:
    """A form label for an identifier field, from the catalog's names (and whose it is: «کد ملی خریدار»)."""
    names = (ident.names_fa if lang == "fa" else ident.names_en) if ident is not None else ()
    text = names[0] if names else fallback
    if party is not None:
        who = default_parties().parties[party].label(lang)
        text = f"{text} {who}" if lang == "fa" else f"{text} of the {who}"
    return text[:1].upper() + text[1:]


def upload_ids(group: Sequence[StepPlan], lexicon: Lexicon) -> dict[str, str]:
    """Document id → the upload field that carried it, so an upload fallback keeps the variable name."""
    out: dict[str, str] = {}
    for plan in group:
        form = plan.node.form
        if form is None:
            continue
        for f in form.fields:
            if f.is_file:
                text = " ".join(t for t in (f.label, f.id.replace("_", " ")) if t)
                for doc in lexicon.document_ids(text):
                    out.setdefault(doc, f.id)
    return out


def edit_kept_step(editor: Editor, store: FormStore, plan: StepPlan, log: ChangeLog) -> None:
    """A step that stays: its uploads, data objects and message flows for the replaced papers go."""
    el = editor.element(plan.node.id)
    form = plan.node.form
    if plan.fields_removed and form is not None:
        removed, _, files = store.edit(el, form.style, form.ref, form.ui_ref, plan.fields_removed, ())
        log.upload_fields(plan, removed, files)
    if plan.data_refs_removed:
        log.data_objects(plan, _remove_data_refs(editor, plan))
    if plan.message_flows_removed:
        for mid in plan.message_flows_removed:
            editor.remove_di(mid)
            target = editor.element(mid)
            if target is not None:
                editor.remove(target)
        log.message_flows(plan)
    if plan.rename:
        log.renamed(plan, el.get("name") or "")
        el.set("name", plan.rename)
    if plan.documentation is not None:
        docs = [d for d in el.iterchildren(f"{{{BPMN_NS}}}documentation")]
        old = "\n".join("".join(d.itertext()) for d in docs)
        if docs:
            for d in docs[1:]:
                editor.remove(d)
            for child in list(docs[0]):
                docs[0].remove(child)
            docs[0].text = plan.documentation
        log.documentation(plan, old)


def _remove_data_refs(editor: Editor, plan: StepPlan) -> list[str]:
    """Remove the data input associations (and orphaned data objects) carrying replaced papers."""
    bpmn = f"{{{BPMN_NS}}}"
    el = editor.element(plan.node.id)
    removed: list[str] = []
    wanted = set(plan.data_refs_removed)
    for assoc in list(el.iterchildren(f"{bpmn}dataInputAssociation")):
        sources = {(s.text or "").strip() for s in assoc.iterchildren(f"{bpmn}sourceRef")}
        if sources and sources <= wanted:
            if assoc.get("id"):
                editor.remove_di(assoc.get("id"))
                removed.append(assoc.get("id"))
            editor.remove(assoc)
    # Plain associations (artifacts) drawn between the data object and the step, either way round.
    for assoc in list(editor.root.iter(f"{bpmn}association")):
        ends = {assoc.get("sourceRef"), assoc.get("targetRef")}
        if plan.node.id in ends and ends & wanted:
            if assoc.get("id"):
                editor.remove_di(assoc.get("id"))
                removed.append(assoc.get("id"))
            editor.remove(assoc)
    still_used = {(s.text or "").strip() for s in editor.root.iter(f"{bpmn}sourceRef", f"{bpmn}targetRef")}
    still_used |= {a.get(end) for a in editor.root.iter(f"{bpmn}association") for end in ("sourceRef", "targetRef")}
    for ref_id in plan.data_refs_removed:
        if ref_id in still_used:
            continue
        ref = editor.element(ref_id)
        if ref is None:
            continue
        obj_id = ref.get("dataObjectRef")
        editor.remove_di(ref_id)
        editor.remove(ref)
        removed.append(ref_id)
        if obj_id and not any(r.get("dataObjectRef") == obj_id for r in editor.root.iter(
                f"{bpmn}dataObjectReference")):
            obj = editor.element(obj_id)
            if obj is not None:
                editor.remove(obj)
                removed.append(obj_id)
    return removed
