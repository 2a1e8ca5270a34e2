"""The change log of a redesign: one reviewable item per change, in plain words.

Each :class:`Change` names the paper step it serves, what was done, which
documents and inquiry services are involved, which element ids were added or
removed, and why, in the model's language (Persian or English). Names of model
elements appear in «guillemets» followed by their id, so Persian and Latin
runs do not mix on a line. Every added id appears in exactly one item, so a
reviewer (or the web UI's overlay) can attribute each new shape to its reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bpmn.catalog import Catalog
from bpmn.formedit import NewField
from bpmn.fragment import Fragment
from bpmn.inquiryplan import InquiryPlan, StepPlan
from bpmn.model import FlowNode
from bpmn.parties import default_parties
from bpmn.redesign_rules import duration_seconds

# Which change item an added node belongs to, by its panjereh:role.
_GROUP = {
    "inquiry": "main", "inquiry_merge": "main", "entry_merge": "main",
    "inquiry_error": "fallback", "inquiry_timeout": "fallback", "fallback_join": "fallback",
    "inquiry_fallback": "fallback",
    "consent": "consent", "consent_gateway": "consent", "preview": "preview",
    "parallel_split": "parallel", "parallel_join": "parallel", "identifiers": "identifiers",
}


@dataclass(frozen=True)
class Change:
    """One reviewable item of the change log."""

    element_id: str
    action: str
    documents: tuple[str, ...] = ()
    inquiry_services: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        """The contract's shape (contracts/redesign.schema.json, ``changes`` items)."""
        return {
            "element_id": self.element_id,
            "action": self.action,
            "documents": list(self.documents),
            "inquiry_services": list(self.inquiry_services),
            "added": list(self.added),
            "removed": list(self.removed),
            "reason": self.reason,
        }


def _q(name: str | None) -> str:
    return f"«{' '.join((name or '').split())}»" if name else ""


class ChangeLog:
    """Collects the changes of one redesign in the order a reviewer reads them."""

    def __init__(self, lang: str, catalog: Catalog) -> None:
        self.fa = lang == "fa"
        self.catalog = catalog
        self.changes: list[Change] = []
        self._pending: dict[str, list[Change]] = {}

    def t(self, fa: str, en: str) -> str:
        return fa if self.fa else en

    def _step(self, node: FlowNode) -> str:
        return f"{_q(node.name)} ({node.id})" if node.name else node.id

    def _docs(self, plan: StepPlan, docs: Sequence[str]) -> str:
        sep = "، " if self.fa else ", "
        return sep.join(f"{plan.surfaces.get(d, d)} ({d})" for d in docs)

    def _provider(self, inq: InquiryPlan) -> str:
        s = inq.service
        return f"{s.provider_fa if self.fa else s.provider_en} ({s.id})"

    def _later(self, plan: StepPlan, change: Change) -> None:
        self._pending.setdefault(plan.node.id, []).append(change)

    # -- items logged while a step is prepared -------------------------------------

    def keep_step(self, node: FlowNode, why: str) -> None:
        """A selected paper step that could not be redesigned."""
        self.changes.append(Change(node.id, "keep_step", reason=self.t(
            f"{self._step(node)} بدون تغییر ماند: {why}.", f"{self._step(node)} is left as it was: {why}.")))

    def identifier_fields(self, plan: StepPlan, target: FlowNode, fields: Sequence[NewField],
                          added: Sequence[str], files: Sequence[str]) -> None:
        """Identifier fields added to an earlier form."""
        if not added:
            return
        labels = ("، " if self.fa else ", ").join(f"{f.label} ({f.id})" for f in fields if f.id in added)
        where = self.t(f" (فرم تازه در فایل {', '.join(files)})", f" (the form is now in {', '.join(files)})") \
            if files else ""
        self._later(plan, Change(plan.node.id, "add_identifier_fields", plan.replaced,
                                 tuple(i.service.id for i in plan.inquiries), tuple(added), (), self.t(
            f"استعلام به {labels} نیاز دارد که پیش‌تر پرسیده نمی‌شد؛ این فیلدها به فرم {self._step(target)} "
            f"افزوده شد{where}.",
            f"The inquiry needs {labels}, which no earlier step asked for; the fields were added to the form "
            f"of {self._step(target)}{where}.")))

    def upload_fields(self, plan: StepPlan, removed: Sequence[str], files: Sequence[str]) -> None:
        """Upload fields that left a kept step's form."""
        if not removed:
            return
        where = self.t(f" (فرم تازه در فایل {', '.join(files)}؛ فایل قبلی دست نخورد)",
                       f" (the form is now in {', '.join(files)}; the old file is untouched)") if files else ""
        self._later(plan, Change(plan.node.id, "remove_upload_fields", plan.replaced, (), (), tuple(removed),
                                 self.t(f"فیلدهای بارگذاری {', '.join(removed)} از فرم {self._step(plan.node)} "
                                        f"حذف شد، چون این مدارک با استعلام گرفته می‌شود{where}.",
                                        f"The upload fields {', '.join(removed)} leave the form of "
                                        f"{self._step(plan.node)}: those papers now come by inquiry{where}.")))

    def data_objects(self, plan: StepPlan, removed: Sequence[str]) -> None:
        """Data objects (and associations) that carried the replaced papers."""
        if removed:
            self._later(plan, Change(plan.node.id, "remove_data_objects", plan.replaced, (), (), tuple(removed),
                                     self.t("اشیای داده‌ای که مدارک جایگزین‌شده را به این مرحله می‌رساندند "
                                            "حذف شد.",
                                            "The data objects that brought the replaced papers into this step "
                                            "are removed.")))

    def message_flows(self, plan: StepPlan) -> None:
        """Message flows from another pool that carried the replaced papers."""
        self._later(plan, Change(plan.node.id, "remove_message_flows", plan.replaced, (), (),
                                 plan.message_flows_removed,
                                 self.t("جریان پیامی که مدارک را از متقاضی به این مرحله می‌آورد حذف شد.",
                                        "The message flows that carried the papers from the applicant are "
                                        "removed.")))

    def renamed(self, plan: StepPlan, old: str) -> None:
        """A kept step renamed because its name asked for the replaced papers."""
        self._later(plan, Change(plan.node.id, "rename_step", plan.replaced, reason=self.t(
            f"نام مرحله از {_q(old)} به {_q(plan.rename)} تغییر کرد تا دیگر مدارک استعلام‌شده را نخواهد.",
            f"The step is renamed from {_q(old)} to {_q(plan.rename)} so that it no longer asks for the "
            f"papers the inquiry fetches.")))

    def documentation(self, plan: StepPlan, old: str) -> None:
        """A kept step's documentation without the replaced demands."""
        self._later(plan, Change(plan.node.id, "rewrite_documentation", plan.replaced, reason=self.t(
            f"توضیحات مرحله دیگر {self._docs(plan, plan.replaced)} را نمی‌خواهد. متن پیشین: {_q(old)}",
            f"The step's documentation no longer asks for {self._docs(plan, plan.replaced)}. "
            f"It said: {_q(old)}")))

    # -- the fragment -------------------------------------------------------------

    def fragment(self, group: Sequence[StepPlan], frag: Fragment, missing: Sequence[NewField],
                 widened: Sequence[str], room: Sequence[tuple[float, float, tuple[str, ...]]] = ()) -> None:
        """The items of one built fragment, each step's main item first."""
        role = {n.id: n.role for n in frag.nodes}
        unit_of: dict[str, int] = {}
        groups: dict[tuple[int, str], list[str]] = {}
        for node in frag.nodes:
            unit_of.setdefault(node.id, node.unit)   # the first node with that id, as a search finds
            groups.setdefault((node.unit, _GROUP.get(node.role, "main")), []).append(node.id)
        for fid, src, _dst in frag.flows:
            unit = unit_of.get(src, -1)
            kind = _GROUP.get(role.get(src, ""), "main")
            if kind == "parallel" or src not in role:
                unit, kind = -1, "parallel" if any(n.role == "parallel_split" for n in frag.nodes) else "main"
            if role.get(src) == "identifiers":
                unit, kind = -1, "identifiers"
            groups.setdefault((unit, kind), []).append(fid)
        units = [(plan, inq) for plan in group for inq in plan.inquiries]
        for plan in group:
            mine = [i for i, (p, _) in enumerate(units) if p is plan]
            added = [x for i in mine for x in groups.get((i, "main"), [])]
            if plan is group[-1]:
                added += groups.get((-1, "main"), [])
            removed = [plan.node.id] if plan.remove else []
            if plan is group[0]:
                removed += [r for r in frag.removed_ids if r not in [p.node.id for p in group]]
            services = tuple(inq.service.id for inq in plan.inquiries)
            providers = self.t("، ", ", ").join(dict.fromkeys(self._provider(inq) for inq in plan.inquiries))
            params = self.t("؛ ", "; ").join(
                f"{self._unit_name(plan, inq)}: " + self.t("، ", ", ").join(
                    f"{p.identifier} ← {p.variable}" + (f" ({p.source_step})" if p.source_step else "")
                    for p in inq.params)
                for inq in plan.inquiries)
            docs = self._docs(plan, plan.replaced)
            if plan.remove:
                reason = self.t(
                    f"{self._step(plan.node)} حذف شد: {docs} دیگر از متقاضی خواسته نمی‌شود و با استعلام از "
                    f"{providers} گرفته می‌شود. شناسه‌های استعلام: {params}.",
                    f"{self._step(plan.node)} is removed: {docs} "
                    f"{'is' if len(plan.replaced) == 1 else 'are'} no longer asked of the applicant; "
                    f"{'it comes' if len(plan.replaced) == 1 else 'they come'} from {providers} by inquiry. "
                    f"Identifiers sent: {params}.")
            else:
                reason = self.t(
                    f"پیش از {self._step(plan.node)} استعلام از {providers} افزوده شد تا {docs} از متقاضی "
                    f"خواسته نشود. این مرحله می‌ماند، چون {plan.keep_reason}. شناسه‌های استعلام: {params}.",
                    f"Before {self._step(plan.node)} an inquiry at {providers} now fetches {docs}, so the applicant "
                    f"no longer brings them. The step stays because {plan.keep_reason}. "
                    f"Identifiers sent: {params}.")
            self.changes.append(Change(plan.node.id, "replace_with_inquiry" if plan.remove else "add_inquiry_before",
                                       plan.replaced, services, tuple(added), tuple(removed), reason))
            if plan.kept:
                self.changes.append(Change(plan.node.id, "keep_documents", plan.kept, reason=self.t(
                    f"{self._step(plan.node)} برای {self._docs(plan, plan.kept)} می‌ماند، چون استعلامی جای این "
                    f"مدارک را نمی‌گیرد.",
                    f"{self._step(plan.node)} stays for {self._docs(plan, plan.kept)}: no inquiry replaces "
                    f"those papers.")))
            self.changes.extend(self._pending.pop(plan.node.id, []))
            for i in mine:
                self._unit_items(plan, units[i][1], groups, i)
        first = group[0]
        if groups.get((-1, "identifiers")):
            labels = self.t("، ", ", ").join(f"{f.label} ({f.id})" for f in missing)
            self.changes.append(Change(first.node.id, "add_identifier_step", first.replaced, (),
                                       tuple(groups[(-1, "identifiers")]), (), self.t(
                f"هیچ فرم پیشینی {labels} را نمی‌پرسد؛ مرحله تازه‌ای پیش از استعلام آن‌ها را می‌گیرد.",
                f"No earlier form asks for {labels}; a new step before the inquiries asks for them.")))
        if groups.get((-1, "parallel")):
            services = tuple(inq.service.id for _, inq in units)
            steps = self.t("، ", ", ").join(self._step(p.node) for p in group)
            self.changes.append(Change(first.node.id, "parallelise", tuple(d for p in group for d in p.replaced),
                                       services, tuple(groups[(-1, "parallel")]), (), self.t(
                f"استعلام‌های {', '.join(services)} برای {steps} به هم وابسته نیستند و هم‌زمان انجام می‌شوند.",
                f"The inquiries {', '.join(services)} for {steps} do not depend on each other and run at the "
                f"same time.")))
        if room:
            shifts = self.t("، ", ", ").join(f"x ≥ {cut:g} → +{delta:g}" for cut, delta, _ in room)
            moved = list(dict.fromkeys(m for _, _, ids in room for m in ids))
            self.changes.append(Change(first.node.id, "make_room", reason=self.t(
                f"کنار این مرحله جای خالی کافی نبود؛ شکل‌های سمت راست ({shifts}) به راست رفتند و "
                f"{', '.join(widened) or '-'} پهن‌تر شد. جابه‌جاشده‌ها: {', '.join(moved) or '-'}.",
                f"There was no free room next to this step: the shapes on its right ({shifts}) moved right and "
                f"{', '.join(widened) or '-'} were widened. Moved: {', '.join(moved) or '-'}.")))
        elif widened:
            self.changes.append(Change(first.node.id, "widen_diagram", reason=self.t(
                f"برای جای دادن مراحل تازه، {', '.join(widened)} به سمت راست پهن‌تر شد؛ هیچ شکل دیگری جابه‌جا نشد.",
                f"{', '.join(widened)} were widened to the right to make room; no other shape moved.")))

    def _unit_name(self, plan: StepPlan, inq: InquiryPlan) -> str:
        """How an inquiry is named in the log: its service, and whose papers when several people's."""
        if inq.party is None:
            return inq.service.id
        docs = self._docs(plan, inq.documents)
        who = default_parties().parties[inq.party].label("fa" if self.fa else "en")
        return self.t(f"{inq.service.id} برای {who} ({inq.party}؛ {docs})",
                      f"{inq.service.id} for the {who} ({inq.party}; {docs})")

    def _unit_items(self, plan: StepPlan, inq: InquiryPlan, groups: dict[tuple[int, str], list[str]],
                    index: int) -> None:
        docs = self._docs(plan, inq.documents)
        if inq.party is not None:
            who = default_parties().parties[inq.party].label("fa" if self.fa else "en")
            docs = self.t(f"{docs} {who}", f"{docs} of the {who}")
        rule = inq.rule
        minutes = duration_seconds(rule.timeout) / 60
        if rule.fallback == "clerk":
            what = self.t(f"کارمند اصل {docs} را بررسی می‌کند", f"a clerk checks the original {docs}")
        else:
            what = self.t(f"متقاضی تصویر {docs} را بارگذاری می‌کند", f"the applicant uploads {docs}")
        svc = self._unit_name(plan, inq) if inq.party else inq.service.id
        self.changes.append(Change(plan.node.id, "add_fallback", inq.documents, (inq.service.id,),
                                   tuple(groups.get((index, "fallback"), [])), (), self.t(
            f"اگر استعلام {svc} خطا دهد یا تا {minutes:g} دقیقه پاسخ ندهد، {what} و فرایند از همان‌جا ادامه "
            f"می‌یابد.",
            f"If the inquiry {svc} fails or gives no answer within {minutes:g} minutes, {what} and the process "
            f"goes on from there.")))
        if groups.get((index, "consent")):
            self.changes.append(Change(plan.node.id, "add_consent", inq.documents, (inq.service.id,),
                                       tuple(groups[(index, "consent")]), (), self.t(
                f"طبق قواعد، پیش از استعلام {svc} رضایت متقاضی گرفته می‌شود؛ اگر رضایت ندهد، {what}.",
                f"The rules require the applicant's consent before the inquiry {svc}; without it, {what}.")))
        if groups.get((index, "preview")):
            self.changes.append(Change(plan.node.id, "add_preview", inq.documents, (inq.service.id,),
                                       tuple(groups[(index, "preview")]), (), self.t(
                f"متقاضی پیش از استعلام {svc} اطلاعاتی را که فرستاده می‌شود می‌بیند و تأیید می‌کند.",
                f"The applicant sees and confirms what is sent before the inquiry {svc}.")))
