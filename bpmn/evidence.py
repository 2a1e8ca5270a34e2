"""What surrounds an activity: who performs it, what flows into it, what its texts do.

:func:`bpmn.detect.detect` judges one activity at a time, but the evidence is
spread over the model: the lane or pool says who acts (the applicant, an agency
desk, or nobody can tell), data objects and message flows carry papers in,
text annotations carry checklists, and earlier activities decide whether a
document is the applicant's evidence or something this very process drafts or
issues. :class:`ModelContext` gathers all of that once per model; every lookup
afterwards is a dictionary access, so large models stay fast.

What one clause of a text does for a given performer is :mod:`bpmn.clauses`' job.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from bpmn.clauses import AGENCY, APPLICANT, UNKNOWN, text_kinds
from bpmn.lexicon import Lexicon
from bpmn.load import BPMN_NS
from bpmn.model import FlowNode, Model, Process
from bpmn.signals import Reading, read_text, reader_for

__all__ = ["AGENCY", "APPLICANT", "UNKNOWN", "Inflow", "ModelContext"]

# Output words in data object names: «پروانه کسب صادرشده», "issued licence".
_OUTPUT_NAME = re.compile(r"صادر ?شده|صادره|(?<![^ ])(?:issued|output|outgoing|نهایی)(?![^ ])")
_TEXT_ANNOTATION = f"{{{BPMN_NS}}}textAnnotation"
_ASSOCIATION = f"{{{BPMN_NS}}}association"


@dataclass(frozen=True)
class Inflow:
    """A text that brings something into an activity: a data object or a message."""

    text: str
    source: str            # "data_object" | "message_flow"
    element_id: str        # the data reference or message flow


class ModelContext:
    """Everything about a model that judging one activity needs, computed once."""

    def __init__(self, model: Model, lexicon: Lexicon) -> None:
        self.model = model
        self.lexicon = lexicon
        self.vocab = reader_for(lexicon).vocab
        self.process_of: dict[str, Process] = {}
        self.performer: dict[str, str] = {}
        self.performer_source: dict[str, str] = {}
        self.writers: dict[str, list[str]] = {}
        self.data_names: dict[str, str] = {}
        self.stores: set[str] = set()
        self.has_children: set[str] = set()
        self._down: dict[str, frozenset[str]] = {}
        self._kinds: dict[tuple[str, str], tuple[str, ...]] = {}
        # Successors from the flows themselves: <incoming>/<outgoing> children are optional in BPMN.
        self.successors: dict[str, list[str]] = {}
        for proc in model.processes:
            for flow in proc.flows.values():
                if flow.source and flow.target:
                    self.successors.setdefault(flow.source, []).append(flow.target)
            for node in proc.nodes.values():
                if node.attached_to:  # a boundary event continues its activity's path
                    self.successors.setdefault(node.attached_to, []).append(node.id)
        for proc in model.processes:
            self._read_process(proc)
        self.applicant_pools = {p.id for p in model.participants if self.role_of(p.name) == APPLICANT}
        self.associated_data: dict[str, list[str]] = {}
        self.annotations = self._annotations(model)
        self.later_readers = self._later_readers()
        self.incoming, self.outgoing_to_applicant = self._messages(model)
        self.produced, self.created = self._producers()

    # ----------------------------------------------------------------- reading the structure

    def kinds(self, reading: Reading, performer: str) -> tuple[str, ...]:
        """:func:`text_kinds`, remembered: a name is read by several rules."""
        key = (reading.text, performer)
        found = self._kinds.get(key)
        if found is None:
            found = self._kinds[key] = text_kinds(reading, performer)
        return found

    def read(self, text: str | None) -> Reading | None:
        """The cached reading of a text, or None for an empty one."""
        return read_text(text, self.lexicon) if text and text.strip() else None

    def role_of(self, name: str | None) -> str:
        """Whether a lane or pool name is the applicant's, an agency's, or neither."""
        if not name or not name.strip():
            return UNKNOWN
        normal = self.read(name)
        if normal is None:
            return UNKNOWN
        text = normal.normal
        if self.vocab.agency.search(text):
            return AGENCY
        return APPLICANT if self.vocab.roles.search(text) else UNKNOWN

    def _read_process(self, proc: Process) -> None:
        pool_role = self.role_of(proc.participant.name) if proc.participant else UNKNOWN
        for ref in proc.data.values():
            self.data_names[ref.id] = ref.name or ""
            if ref.tag == "dataStoreReference":
                self.stores.add(ref.id)
        for ref in proc.data.values():
            if not ref.name and ref.target and self.data_names.get(ref.target):
                self.data_names[ref.id] = self.data_names[ref.target]
        for node in proc.nodes.values():
            self.process_of[node.id] = proc
            if node.parent_id and node.kind == "activity":
                self.has_children.add(node.parent_id)
            for out in node.data_outputs:
                self.writers.setdefault(out, []).append(node.id)
            performer, source = UNKNOWN, ""
            lane_id = node.lane_id
            while lane_id:
                lane = proc.lanes.get(lane_id)
                if lane is None:
                    break
                role = self.role_of(lane.name)
                if role != UNKNOWN:
                    performer, source = role, "lane"
                    break
                lane_id = lane.parent_id
            if performer == UNKNOWN and pool_role == APPLICANT:
                # An agency pool says little about who acts inside it; an applicant pool says everything.
                performer, source = APPLICANT, "pool"
            self.performer[node.id] = performer
            self.performer_source[node.id] = source

    def _annotations(self, model: Model) -> Mapping[str, tuple[str, ...]]:
        """Text annotations linked to activities by an association, either way round."""
        root = model.source.root
        texts: dict[str, str] = {}
        for ann in root.iter(_TEXT_ANNOTATION):
            body = "".join(ann.itertext()).strip()
            if body and ann.get("id"):
                texts[ann.get("id", "")] = body
        out: dict[str, list[str]] = {}
        for assoc in root.iter(_ASSOCIATION):
            ends = (assoc.get("sourceRef"), assoc.get("targetRef"))
            for one, other in (ends, ends[::-1]):
                if one in texts and other in self.process_of:
                    out.setdefault(other, []).append(texts[one])
            source, target = ends
            direction = assoc.get("associationDirection")
            # Older tools link data objects to tasks with plain associations instead of data associations.
            if source in self.data_names and target in self.process_of and direction != "None":
                self.associated_data.setdefault(target, []).append(source)
            elif target in self.data_names and source in self.process_of:
                if direction in (None, "One"):
                    self.writers.setdefault(target, []).append(source)
                else:
                    self.associated_data.setdefault(source, []).append(target)
        return MappingProxyType({k: tuple(v) for k, v in out.items()})

    def _later_readers(self) -> set[tuple[str, str]]:
        """(activity, data object) pairs where the object already reached an earlier activity.

        A paper enters the process once: the first activity it feeds is where it was handed in;
        the review and filing steps after that only pass it along.
        """
        readers: dict[str, list[str]] = {}
        for proc in self.model.processes:
            for node in proc.activities:
                for ref in dict.fromkeys([*node.data_inputs, *self.associated_data.get(node.id, ())]):
                    readers.setdefault(self._object_of(ref), []).append(node.id)
        later: set[tuple[str, str]] = set()
        for obj, nodes in readers.items():
            if len(nodes) < 2:
                continue
            for i, node_id in enumerate(nodes):
                proc = self.process_of[node_id]
                for j, other in enumerate(nodes):
                    if other == node_id or self.process_of[other] is not proc:
                        continue
                    before = node_id in self._downstream(other)
                    if before and (j < i or other not in self._downstream(node_id)):
                        later.add((node_id, obj))
                        break
        return later

    def _object_of(self, ref: str) -> str:
        """Data object references that show the same data object are one paper."""
        proc_data = next((p.data for p in self.model.processes if ref in p.data), None)
        target = proc_data[ref].target if proc_data is not None else None
        return target if target and target in (proc_data or {}) else ref

    def _messages(self, model: Model) -> tuple[dict[str, list[Inflow]], set[str]]:
        """Message flows from the applicant's side, by the activity they reach; activities that answer him."""
        messages = {mid: name for mid, (tag, name, _) in model.root_elements.items() if tag == "message" and name}
        incoming: dict[str, list[Inflow]] = {}
        outgoing: set[str] = set()
        self.handed_over: set[str] = set()
        for flow in model.message_flows:
            if not flow.source or not flow.target:
                continue
            from_applicant = self._is_applicant_side(flow.source)
            to_applicant = self._is_applicant_side(flow.target)
            if to_applicant and flow.source in self.process_of and not from_applicant:
                outgoing.add(flow.source)
            if not from_applicant or to_applicant:
                continue
            text = " ".join(t for t in (flow.name, messages.get(flow.message_ref or "")) if t)
            if not text and flow.source in self.process_of:
                text = self.process_of[flow.source].nodes[flow.source].name or ""
            if not text:
                continue
            receivers = self._receivers(flow.target)
            for target in receivers:
                incoming.setdefault(target, []).append(Inflow(text, "message_flow", flow.id))
            if receivers and flow.source in self.process_of:
                # The applicant's own sending step: the paper enters the process where it is received.
                self.handed_over.add(flow.source)
        return incoming, outgoing

    def _is_applicant_side(self, element_id: str) -> bool:
        if element_id in self.applicant_pools:
            return True
        pool = self.model.pool_of_element(element_id)
        return pool is not None and pool.id in self.applicant_pools

    def _receivers(self, target: str) -> list[str]:
        """The activity a message reaches: itself, the first activity after an event, or after the pool's start."""
        proc = self.process_of.get(target)
        if proc is not None:
            node = proc.nodes[target]
            return [target] if node.kind == "activity" else self._next_activities(proc, [target])
        for proc in self.model.processes:
            if proc.participant is not None and proc.participant.id == target:
                starts = [n.id for n in proc.nodes.values() if n.tag == "startEvent" and not n.parent_id]
                return self._next_activities(proc, starts)[:1]
        return []

    def _next_activities(self, proc: Process, starts: Iterable[str]) -> list[str]:
        seen = set(starts)
        queue = deque(starts)
        found: list[str] = []
        while queue:
            for target in self.successors.get(queue.popleft(), ()):
                if target in seen:
                    continue
                seen.add(target)
                nxt = proc.nodes.get(target)
                if nxt is not None and nxt.kind == "activity":
                    found.append(nxt.id)
                elif nxt is not None:
                    queue.append(nxt.id)
        return found

    # ----------------------------------------------------------------- documents the process makes

    def _producers(self) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        """For each document, the activities that issue it or draft it (the applicant's own drafts apart)."""
        produced: dict[str, list[str]] = {}
        created: dict[str, list[str]] = {}
        for proc in self.model.processes:
            for node in proc.activities:
                reading = self.read(node.name)
                if reading is None or not reading.docs:
                    continue
                kinds = self.kinds(reading, self.performer[node.id])
                for index, match in reading.docs:
                    kind = kinds[index] if index < len(kinds) else "mention"
                    if kind in ("output", "create"):
                        produced.setdefault(match.doc_id, []).append(node.id)
                    if kind == "create" and self.performer[node.id] != AGENCY:
                        created.setdefault(match.doc_id, []).append(node.id)
        return produced, created

    def _reach(self, starts: Iterable[str]) -> frozenset[str]:
        """Every node reachable from the given nodes along sequence flows (the starts not included)."""
        seen: set[str] = set()
        queue = deque(starts)
        while queue:
            for target in self.successors.get(queue.popleft(), ()):
                if target not in seen:
                    seen.add(target)
                    queue.append(target)
        return frozenset(seen)

    def _downstream(self, start: str) -> frozenset[str]:
        if start not in self._down:
            self._down[start] = self._reach([start])
        return self._down[start]

    def _after(self, table: dict[str, list[str]], key: str, doc_id: str) -> frozenset[str]:
        """Nodes after any producer of a document: one search per document, only when asked."""
        cache_key = f"{key}:{doc_id}"
        if cache_key not in self._down:
            self._down[cache_key] = self._reach(table.get(doc_id, ()))
        return self._down[cache_key]

    def issued_before(self, doc_id: str, activity_id: str) -> bool:
        """True when an earlier activity of this process issues or drafts the document."""
        return doc_id in self.produced and activity_id in self._after(self.produced, "issued", doc_id)

    def drafted_before(self, doc_id: str, activity_id: str) -> bool:
        """True when the applicant drafted the document earlier in this process (it is his own content)."""
        return doc_id in self.created and activity_id in self._after(self.created, "drafted", doc_id)

    # ----------------------------------------------------------------- inflows of one activity

    def inflows(self, node: FlowNode) -> list[Inflow]:
        """Data objects (not written by the agency, not outputs) and applicant messages into an activity."""
        out: list[Inflow] = []
        refs = list(dict.fromkeys([*node.data_inputs, *self.associated_data.get(node.id, ())]))
        for ref in refs:
            name = self.data_names.get(ref)
            if not name or ref in self.stores or self._output_name(ref):
                continue
            writers = self.writers.get(ref, [])
            # Written by an earlier activity: the writer owns it (an agency output, or the applicant's own step).
            if any(w != node.id for w in writers) or (node.id, self._object_of(ref)) in self.later_readers:
                continue
            out.append(Inflow(name, "data_object", ref))
        out.extend(self.incoming.get(node.id, ()))
        return out

    def applicant_outflows(self, node: FlowNode) -> list[Inflow]:
        """Data objects an applicant-performed activity produces: the papers he hands over."""
        if self.performer[node.id] != APPLICANT:
            return []
        return [Inflow(self.data_names[ref], "data_object", ref) for ref in node.data_outputs
                if self.data_names.get(ref) and ref not in self.stores and not self._output_name(ref)]

    def _output_name(self, ref: str) -> bool:
        reading = self.read(self.data_names.get(ref))
        return reading is not None and bool(_OUTPUT_NAME.search(reading.normal))
