"""The once-only pattern as BPMN elements: what replaces (or precedes) one paper step.

For one step (or a run of consecutive replaced steps) :func:`build` adds to the
copied tree, next to the step:

* an *inquiry unit* per inquiry service: ``[consent task → consent gateway] →
  [preview task] → inquiry service task → merge gateway``, with an error
  boundary event and a timer boundary event on the inquiry that meet at a
  gateway before the *fallback* step (a clerk checks the original, or the
  applicant uploads it), whose flow rejoins at the merge gateway; refusing
  consent takes the fallback too;
* a parallel split and join around several units (when asked to);
* a task asking for identifiers nobody collected before (rarely needed: they
  are added to an earlier form when one exists);

and reconnects the step's flows to the new entry and exit. Layout is done
afterwards by :mod:`bpmn.layout` from the :class:`Fragment` returned here.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from lxml import etree

from bpmn.catalog import Catalog
from bpmn.formedit import NewField, camunda_form_data, new_schema, spiff_form_element
from bpmn.inquiryplan import InquiryPlan, StepPlan
from bpmn.load import SPIFF_NS
from bpmn.parties import default_parties
from bpmn.redesign_rules import duration_seconds
from bpmn.rewrite import XSI_NS, Editor, q

TASK = (100.0, 80.0)
GATEWAY = (50.0, 50.0)
EVENT = (36.0, 36.0)


@dataclass
class NewNode:
    """A flow node the redesign added, with what the layout needs to know about it."""

    id: str
    tag: str
    size: tuple[float, float]
    lane: etree._Element | None
    row: str                     # main | fallback | boundary
    unit: int = -1               # which inquiry unit (-1: the step as a whole)
    host: str | None = None      # for boundary events
    label: str = ""              # its name, for the change log
    role: str = ""               # its panjereh:role


@dataclass
class Fragment:
    """What :func:`build` added for one step (or run of steps)."""

    steps: tuple[str, ...]
    anchor: str
    removed: bool
    nodes: list[NewNode] = field(default_factory=list)
    flows: list[tuple[str, str, str]] = field(default_factory=list)     # (id, source, target)
    rewired_in: list[str] = field(default_factory=list)                  # existing flows now ending at entry
    rewired_out: list[str] = field(default_factory=list)                 # existing flows now starting at exit
    removed_ids: list[str] = field(default_factory=list)
    entry: str = ""
    exit: str = ""
    unit_nodes: dict[int, list[str]] = field(default_factory=dict)
    unit_flows: dict[int, list[str]] = field(default_factory=dict)
    step_nodes: list[str] = field(default_factory=list)                  # ids, identifiers, split, join
    step_flows: list[str] = field(default_factory=list)


@dataclass
class Lanes:
    """The lanes a fragment's steps go to."""

    main: etree._Element | None       # where the paper step was: inquiries, gateways
    applicant: etree._Element | None  # consent, preview, uploads
    agency: etree._Element | None     # clerk checks


@dataclass
class Words:
    """New element names in the model's language."""

    lang: str

    def t(self, fa: str, en: str) -> str:
        return fa if self.lang == "fa" else en


def _fa_digits(value: float) -> str:
    return f"{value:g}".translate(str.maketrans("0123456789.", "۰۱۲۳۴۵۶۷۸۹٫"))


FormMaker = Callable[[etree._Element, str, Sequence[NewField]], None]


class Builder:
    """Adds the pattern's elements for one step to the editor's tree."""

    def __init__(self, editor: Editor, catalog: Catalog, words: Words, add_form: FormMaker,
                 parallel: bool, timeout: str | None) -> None:
        self.ed = editor
        self.catalog = catalog
        self.w = words
        self.add_form = add_form
        self.parallel = parallel
        self.timeout = timeout
        self.cursor: etree._Element | None = None
        self.xsi = editor.prefix(XSI_NS)
        bpmn_prefix = editor.prefix("http://www.omg.org/spec/BPMN/20100524/MODEL")
        self.formal = f"{bpmn_prefix}:tFormalExpression" if bpmn_prefix else "tFormalExpression"

    # -- small element factories ------------------------------------------------

    def _put(self, el: etree._Element) -> None:
        """Insert after the previous new element, so the fragment reads in order in the file."""
        self.ed.insert_after(self.cursor, el)
        self.cursor = el

    def _node(self, frag: Fragment, tag: str, base: str, name: str | None, lane: etree._Element | None,
              row: str, unit: int, role: str, replaces: str, size: tuple[float, float],
              **attrs: str) -> etree._Element:
        nid = self.ed.new_id(base)
        el = self.ed.make(tag, nid, name, **attrs)
        self.ed.mark(el, role, replaces)
        self._put(el)
        frag.nodes.append(NewNode(nid, tag, size, lane, row, unit, label=name or "", role=role))
        (frag.unit_nodes.setdefault(unit, []) if unit >= 0 else frag.step_nodes).append(nid)
        if row != "boundary":
            self.ed.add_to_lane(lane, nid)
        return el

    def _flow(self, frag: Fragment, source: str, target: str, unit: int, name: str | None = None,
              condition: str | None = None) -> str:
        fid = self.ed.new_id(f"Flow_{source}_{target}")
        el = self.ed.make("sequenceFlow", fid, name, sourceRef=source, targetRef=target)
        self.ed.mark(el, "flow")
        if condition is not None:
            cond = self.ed.make("conditionExpression")
            if self.xsi:
                cond.set(q("type", XSI_NS), self.formal)
            cond.text = condition
            el.append(cond)
        self._put(el)
        self.ed.register_flow(el)
        frag.flows.append((fid, source, target))
        (frag.unit_flows.setdefault(unit, []) if unit >= 0 else frag.step_flows).append(fid)
        return fid

    def _doc_names(self, doc_ids: Sequence[str], surfaces: dict[str, str]) -> str:
        sep = " و " if self.w.lang == "fa" else " and "
        return sep.join(surfaces.get(d, d) for d in doc_ids)

    # -- the pattern ----------------------------------------------------------

    def build(self, plans: Sequence[StepPlan], lanes: Lanes, missing_ids: Sequence[NewField],
              upload_ids: dict[str, str]) -> Fragment:
        """Add the elements for ``plans`` (one step, or consecutive steps all removed)."""
        first = plans[0]
        pid = first.node.id
        frag = Fragment(tuple(p.node.id for p in plans), pid, first.remove)
        self.cursor = self.ed.element(plans[-1].node.id)
        chain: list[tuple[str, str]] = []
        if len(self.ed.flows_of(pid, "targetRef")) > 1:
            # Several flows met at the step (a loop back, a merge drawn without a gateway):
            # an explicit merge gateway takes them, as the step did.
            entry = self._node(frag, "exclusiveGateway", f"merge_{pid}", None, lanes.main, "main", -1,
                               "entry_merge", pid, GATEWAY)
            chain.append((entry.get("id"), entry.get("id")))
        if missing_ids:
            ids_el = self._node(frag, "userTask", f"ids_{pid}",
                                self.w.t("ثبت اطلاعات لازم برای استعلام", "Enter the details the inquiries need"),
                                lanes.applicant if lanes.applicant is not None else lanes.main, "main", -1,
                                "identifiers", pid, TASK)
            self.add_form(ids_el, ids_el.get("name"), missing_ids)
            chain.append((ids_el.get("id"), ids_el.get("id")))
        units = [(plan, inq) for plan in plans for inq in plan.inquiries]
        ends = [self._unit(frag, plan, inq, index, lanes, upload_ids) for index, (plan, inq) in enumerate(units)]
        if len(ends) > 1 and self.parallel:
            split = self._node(frag, "parallelGateway", f"split_{pid}", None, lanes.main, "main", -1,
                               "parallel_split", pid, GATEWAY)
            join = self._node(frag, "parallelGateway", f"join_{pid}", None, lanes.main, "main", -1,
                              "parallel_join", pid, GATEWAY)
            for entry, exit_ in ends:
                self._flow(frag, split.get("id"), entry, -1)
                self._flow(frag, exit_, join.get("id"), -1)
            chain.append((split.get("id"), join.get("id")))
        else:
            chain.extend(ends)
        for (_, a_exit), (b_entry, _) in itertools.pairwise(chain):
            self._flow(frag, a_exit, b_entry, -1)
        frag.entry, frag.exit = chain[0][0], chain[-1][1]
        self._rewire(frag, plans)
        return frag

    def _unit(self, frag: Fragment, plan: StepPlan, inq: InquiryPlan, index: int, lanes: Lanes,
              upload_ids: dict[str, str]) -> tuple[str, str]:
        """One inquiry with its consent, boundaries, fallback and merge; returns (entry, exit)."""
        pid, svc = plan.node.id, inq.service.id
        w = self.w
        rule = inq.rule
        timeout = self.timeout or rule.timeout
        docs = self._doc_names(inq.documents, dict(plan.surfaces))
        provider = inq.service.provider_fa if w.lang == "fa" else inq.service.provider_en
        # One person's inquiry among several: ids, variables and names say whose it is.
        key = svc if inq.party is None else f"{svc}_{inq.party}"
        who = ""
        if inq.party is not None:
            label = default_parties().parties[inq.party].label(w.lang)
            docs = w.t(f"{docs} {label}", f"{docs} of the {label}")
            who = w.t(f" ({label})", f" ({label})")
        front = lanes.applicant if lanes.applicant is not None else lanes.main
        consent = gate = preview = None
        if rule.consent:
            consent = self._node(frag, "userTask", f"consent_{pid}_{key}",
                                 w.t(f"رضایت متقاضی به استعلام از {provider}",
                                     f"Applicant consents to the inquiry at {provider}"),
                                 front, "main", index, "consent", pid, TASK)
            self.add_form(consent, consent.get("name"), [NewField(
                f"consent_{key}", w.t(f"موافقم که اطلاعات لازم از {provider} استعلام شود",
                                      f"I agree that the agency asks {provider} for this information"), "boolean")])
            gate = self._node(frag, "exclusiveGateway", f"consent_{pid}_{key}_given",
                              w.t("رضایت داد؟", "Consent given?"), front, "main", index, "consent_gateway", pid,
                              GATEWAY)
        if rule.preview:
            preview = self._node(frag, "userTask", f"preview_{pid}_{key}",
                                 w.t(f"تأیید اطلاعات استعلام از {provider} توسط متقاضی",
                                     f"Applicant confirms the details sent to {provider}"),
                                 front, "main", index, "preview", pid, TASK)
            self.add_form(preview, preview.get("name"), [NewField(
                f"confirm_{key}", w.t("اطلاعاتی که برای استعلام فرستاده می‌شود درست است",
                                      "The details sent for the inquiry are right"), "boolean")])
        inquiry = self._node(frag, "serviceTask", f"inq_{pid}_{key}",
                             (inq.service.name_fa if w.lang == "fa" else inq.service.name_en) + who,
                             lanes.main, "main", index, "inquiry", pid, TASK)
        iid = inquiry.get("id")
        self.ed.mark(inquiry, "inquiry", pid, documents=" ".join(inq.documents), service=svc,
                     **({"party": inq.party} if inq.party else {}))
        ext = etree.SubElement(inquiry, q("extensionElements"))
        op = etree.SubElement(ext, q("serviceTaskOperator", SPIFF_NS))
        op.set("id", f"inquiry/{svc}")
        op.set("resultVariable", f"inq_{key}")
        params = etree.SubElement(op, q("parameters", SPIFF_NS))
        for p in inq.params:
            par = etree.SubElement(params, q("parameter", SPIFF_NS))
            par.set("id", p.identifier)
            par.set("type", "str")
            par.set("value", p.variable)
        self.ed.tidy(inquiry)
        error = self._node(frag, "boundaryEvent", f"{iid}_error", w.t("خطا", "Error"), None,
                           "boundary", index, "inquiry_error", pid, EVENT, attachedToRef=iid)
        frag.nodes[-1].host = iid
        etree.SubElement(error, q("errorEventDefinition")).set("id", self.ed.new_id(f"{error.get('id')}_def"))
        minutes = duration_seconds(timeout) / 60
        timer = self._node(frag, "boundaryEvent", f"{iid}_timeout",
                           w.t(f"{_fa_digits(minutes)} دقیقه", f"{minutes:g} min"), None,
                           "boundary", index, "inquiry_timeout", pid, EVENT, attachedToRef=iid)
        frag.nodes[-1].host = iid
        tdef = etree.SubElement(timer, q("timerEventDefinition"))
        tdef.set("id", self.ed.new_id(f"{timer.get('id')}_def"))
        dur = etree.SubElement(tdef, q("timeDuration"))
        if self.xsi:
            dur.set(q("type", XSI_NS), self.formal)
        # SpiffWorkflow evaluates the duration as a Python expression: a quoted string.
        dur.text = f"'{timeout}'"
        for el in (error, timer):
            self.ed.tidy(el)
        merge = self._node(frag, "exclusiveGateway", f"{iid}_merge", None, lanes.main, "main", index,
                           "inquiry_merge", pid, GATEWAY)
        fb_lane = lanes.agency if rule.fallback == "clerk" else lanes.applicant
        if fb_lane is None:
            fb_lane = lanes.main
        failed = self._node(frag, "exclusiveGateway", f"{iid}_failed", None, fb_lane, "fallback", index,
                            "fallback_join", pid, GATEWAY)
        if rule.fallback == "clerk":
            name = w.t(f"بررسی اصل {docs} توسط کارمند (استعلام پاسخ نداد)",
                       f"Clerk checks the original {docs} (the inquiry did not answer)")
            fields = [NewField(f"checked_{key}", w.t(f"اصل {docs} دیده شد و معتبر است",
                                                      f"The original {docs} was seen and is valid"), "boolean")]
        else:
            name = w.t(f"بارگذاری تصویر {docs} توسط متقاضی (استعلام پاسخ نداد)",
                       f"Applicant uploads {docs} (the inquiry did not answer)")
            fields = [NewField(_upload_id(upload_ids.get(d) or f"{d}_file", inq.party),
                               w.t(f"تصویر {plan.surfaces.get(d, d)}", f"Scan of {plan.surfaces.get(d, d)}") + who,
                               "file")
                      for d in inq.documents]
        fallback = self._node(frag, "userTask", f"fallback_{pid}_{key}", name, fb_lane, "fallback", index,
                              "inquiry_fallback", pid, TASK)
        self.ed.mark(fallback, "inquiry_fallback", pid, documents=" ".join(inq.documents), fallback=rule.fallback,
                     service=svc)
        self.add_form(fallback, name, fields)
        mid, fid_ = merge.get("id"), failed.get("id")
        entry = (consent if consent is not None else preview if preview is not None else inquiry).get("id")
        if consent is not None and gate is not None:
            self._flow(frag, consent.get("id"), gate.get("id"), index)
            nxt = (preview if preview is not None else inquiry).get("id")
            self._flow(frag, gate.get("id"), nxt, index, w.t("بله", "yes"), f"consent_{key} == True")
            gate.set("default", self._flow(frag, gate.get("id"), fid_, index, w.t("خیر", "no")))
        if preview is not None:
            self._flow(frag, preview.get("id"), iid, index)
        self._flow(frag, iid, mid, index)
        self._flow(frag, error.get("id"), fid_, index)
        self._flow(frag, timer.get("id"), fid_, index)
        self._flow(frag, fid_, fallback.get("id"), index)
        self._flow(frag, fallback.get("id"), mid, index)
        return entry, mid

    def _rewire(self, frag: Fragment, plans: Sequence[StepPlan]) -> None:
        """Point the steps' flows at the fragment and remove what it replaces."""
        first, last = plans[0], plans[-1]
        for flow in self.ed.flows_of(first.node.id, "targetRef"):
            if len(plans) > 1 and flow.get("sourceRef") == last.node.id:
                continue
            self.ed.set_flow_end(flow, "targetRef", frag.entry)
            frag.rewired_in.append(flow.get("id"))
        if last.remove:
            for flow in self.ed.flows_of(last.node.id, "sourceRef"):
                self.ed.set_flow_end(flow, "sourceRef", frag.exit)
                frag.rewired_out.append(flow.get("id"))
        else:
            new = self._flow(frag, frag.exit, last.node.id, -1)
            self.ed.set_refs(self.ed.element(last.node.id), "incoming", [new])
        # flows between consecutive removed steps disappear with them
        for a, b in itertools.pairwise(plans):
            for flow in self.ed.flows_of(a.node.id, "sourceRef"):
                if flow.get("targetRef") == b.node.id:
                    frag.removed_ids.append(flow.get("id"))
                    self.ed.remove_di(flow.get("id"))
                    self.ed.remove(flow)
        ins: dict[str, list[str]] = {}
        outs: dict[str, list[str]] = {}
        for fid, src, dst in frag.flows:
            outs.setdefault(src, []).append(fid)
            ins.setdefault(dst, []).append(fid)
        # A flow without an id (the file is broken there) cannot be listed by id.
        for fid in frag.rewired_in:
            if fid:
                ins.setdefault(frag.entry, []).append(fid)
        for fid in frag.rewired_out:
            if fid:
                outs.setdefault(frag.exit, []).append(fid)
        for node in frag.nodes:
            el = self.ed.element(node.id)
            self.ed.set_refs(el, "incoming", ins.get(node.id, []))
            self.ed.set_refs(el, "outgoing", outs.get(node.id, []))
            self.ed.tidy(el)
        for plan in plans:
            if plan.remove:
                for mid in plan.message_flows_removed:
                    self.ed.remove_di(mid)
                    flow = self.ed.element(mid)
                    if flow is not None:
                        self.ed.remove(flow)
                self.ed.drop_from_lanes(plan.node.id)
                self.ed.remove_di(plan.node.id)
                self.ed.remove(self.ed.element(plan.node.id))
                frag.removed_ids.append(plan.node.id)


def _upload_id(field_id: str, party: str | None) -> str:
    """The upload fallback's field: the step's own upload field, or one per person when several."""
    return field_id if party is None else f"{field_id}_{party}"


def camunda_or_spiff_form(editor: Editor, style: str, new_files: dict[str, bytes], stem: str,
                          taken: Callable[[str], bool]) -> FormMaker:
    """A :data:`FormMaker` writing new forms in the model's style (formData, or a JSON-Schema file)."""

    def add(task: etree._Element, title: str, fields: Sequence[NewField]) -> None:
        ext = task.find(q("extensionElements"))
        if ext is None:
            ext = editor.make("extensionElements")
            task.insert(0, ext)
        if style == "spiff":
            name = f"{stem}.{task.get('id')}-schema.json"
            n = 1
            while taken(name) or name in new_files:
                n += 1
                name = f"{stem}.{task.get('id')}_{n}-schema.json"
            new_files[name] = new_schema(title, fields)
            ext.append(spiff_form_element(name))
        else:
            ext.append(camunda_form_data(fields))   # the camunda prefix is declared by the redesign
        editor.tidy(task)

    return add
