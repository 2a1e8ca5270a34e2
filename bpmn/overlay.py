"""Overlays: per-element marks drawn over a diagram, and builders for them.

An :class:`Overlay` maps element ids to a :class:`Mark` (CSS classes, an
optional badge such as a document count, an optional tooltip) and carries a
legend. The renderer only applies classes; the colours live in its style
sheet, so the web UI can restyle them. Two builders cover today's uses:

* :func:`overlay_from_findings` — paper steps found by ``bpmn.detect``
  (``Finding`` objects, or the finding dicts of a ``panjereh.analysis/1``
  report);
* :func:`overlay_from_changes` — a ``panjereh.redesign/1`` change log: new
  elements are ``added``, deleted ones ``removed``, the addressed paper steps
  ``changed``.

Both read their input defensively: a change log comes from a file a user
chose, so odd entries are skipped, never raised on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

_CLASS_OK = re.compile(r"[^A-Za-z0-9_-]")

PAPER_KIND = "paper_document"

_LABELS: dict[str, dict[str, str]] = {
    "en": {
        "paper": "paper step, no inquiry available",
        "paper-replaceable": "paper step, replaceable by an inquiry",
        "smell": "other finding",
        "added": "added",
        "removed": "removed",
        "changed": "changed",
        "asks": "asks for {n} document(s), {r} replaceable by an inquiry",
        "replaceable": "replaceable",
        "not_replaceable": "no inquiry",
        "added_for": "added: {action} for {element}",
        "removed_for": "removed: {action} for {element}",
        "changed_by": "{action}",
        "hidden": "{n} not in this diagram",
    },
    "fa": {
        "paper": "گام کاغذی، بدون استعلام",
        "paper-replaceable": "گام کاغذی، قابل جایگزینی با استعلام",
        "smell": "یافته دیگر",
        "added": "افزوده",
        "removed": "حذف‌شده",
        "changed": "تغییریافته",
        "asks": "درخواست {n} مدرک، {r} مورد قابل استعلام",
        "replaceable": "قابل استعلام",
        "not_replaceable": "بدون استعلام",
        "added_for": "افزوده: {action} برای {element}",
        "removed_for": "حذف‌شده: {action} برای {element}",
        "changed_by": "{action}",
        "hidden": "{n} مورد در این نمودار نیست",
    },
}


def css_class(name: str) -> str:
    """A class name reduced to letters, digits, ``_`` and ``-``."""
    return _CLASS_OK.sub("", name)


def _classes(classes: tuple[str, ...], done: dict[tuple[str, ...], tuple[str, ...]]) -> tuple[str, ...]:
    """:func:`css_class` over a mark's classes, empty ones dropped (``done`` remembers: marks share classes)."""
    out = done.get(classes)
    if out is None:
        out = done[classes] = tuple(c for c in (css_class(x) for x in classes) if c)
    return out


@dataclass(frozen=True)
class Mark:
    """How one element is marked: CSS classes, a badge, a tooltip."""

    classes: tuple[str, ...] = ()
    badge: str | None = None
    tooltip: str | None = None


@dataclass(frozen=True)
class Overlay:
    """Marks by element id, and the legend (CSS class, label) in display order."""

    marks: Mapping[str, Mark] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    legend: tuple[tuple[str, str], ...] = ()
    title: str | None = None
    hidden_note: str = _LABELS["en"]["hidden"]   # legend text for marks not drawn; {n} = how many

    @classmethod
    def of(cls, marks: Mapping[str, Mark], legend: Iterable[tuple[str, str]] = (),
           title: str | None = None, hidden_note: str | None = None) -> Overlay:
        """An overlay from a plain dict of marks (copied, so it stays frozen)."""
        done: dict[tuple[str, ...], tuple[str, ...]] = {}
        clean: dict[str, Mark] = {}
        for k, m in marks.items():
            classes = _classes(tuple(m.classes), done)
            # A Mark is frozen: one whose classes are already clean is kept as it is.
            clean[str(k)] = m if type(m) is Mark and m.classes == classes and type(m.classes) is tuple \
                else Mark(classes, m.badge, m.tooltip)
        return cls(MappingProxyType(clean), tuple(legend), title, hidden_note or _LABELS["en"]["hidden"])


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _as_record(finding: Any) -> Any:
    # detect.Finding offers to_json(); using it means one reading path for
    # objects and report dicts alike.
    to_json = getattr(finding, "to_json", None)
    if callable(to_json):
        try:
            return to_json()
        except (TypeError, ValueError):
            return finding
    return finding


def _labels(lang: str) -> dict[str, str]:
    return _LABELS.get(lang, _LABELS["en"])


def overlay_from_findings(findings: Iterable[Any], *, lang: str = "en") -> Overlay:
    """Mark paper steps (and other findings) of an analysis.

    Each finding needs ``element_id``, ``kind``, ``replaceable`` and
    ``documents`` (each with ``id`` and ``replaceable``), as ``bpmn.detect``'s
    ``Finding`` and the ``panjereh.analysis/1`` report have them. A paper step
    is ``paper-replaceable`` when an inquiry can replace any of its documents,
    else ``paper``; other kinds are ``smell``. The badge counts documents.
    """
    t = _labels(lang)
    per: dict[str, dict[str, Any]] = {}
    for raw in findings:
        f = _as_record(raw)
        eid = _get(f, "element_id")
        if not isinstance(eid, str) or not eid:
            continue
        kind = str(_get(f, "kind") or "")
        slot = per.setdefault(eid, {"paper": False, "replaceable": False, "smells": [], "docs": {}})
        if kind == PAPER_KIND:
            slot["paper"] = True
            slot["replaceable"] = slot["replaceable"] or bool(_get(f, "replaceable"))
            for d in _get(f, "documents") or ():
                did = _get(d, "id") or _get(d, "document_id")
                if isinstance(did, str) and did:
                    prev = slot["docs"].get(did, False)
                    slot["docs"][did] = prev or bool(_get(d, "replaceable"))
        elif kind:
            slot["smells"].append(kind)
    marks: dict[str, Mark] = {}
    seen: set[str] = set()
    for eid, slot in per.items():
        classes = ["finding"]
        lines: list[str] = []
        if slot["paper"]:
            cls = "paper-replaceable" if slot["replaceable"] else "paper"
            classes.append(cls)
            seen.add(cls)
            docs = slot["docs"]
            lines.append(t["asks"].format(n=len(docs), r=sum(docs.values())))
            lines.extend(f"• {d}: {t['replaceable'] if r else t['not_replaceable']}" for d, r in docs.items())
        if slot["smells"]:
            classes.append("smell")
            seen.add("smell")
            lines.extend(f"• {k.replace('_', ' ')}" for k in dict.fromkeys(slot["smells"]))
        badge = str(len(slot["docs"])) if slot["docs"] else None
        marks[eid] = Mark(tuple(classes), badge, "\n".join(lines) or None)
    legend = [(c, t[c]) for c in ("paper-replaceable", "paper", "smell") if c in seen]
    return Overlay.of(marks, legend, hidden_note=t["hidden"])


def _id_list(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str) and v] if isinstance(value, list) else []


def overlay_from_changes(change_log: Mapping[str, Any], *, lang: str = "en") -> Overlay:
    """Mark what a redesign added, removed and changed (``panjereh.redesign/1``).

    ``changes[].added`` ids become ``added``, ``changes[].removed`` ids
    ``removed`` and each change's ``element_id`` ``changed`` (unless it was
    itself removed or added). A changed step's badge counts the documents the
    change stops asking for.
    """
    t = _labels(lang)
    changes = change_log.get("changes") if isinstance(change_log, Mapping) else None
    state: dict[str, str] = {}
    tips: dict[str, list[str]] = {}
    docs: dict[str, set[str]] = {}
    rank = {"changed": 0, "removed": 1, "added": 2}

    def put(eid: Any, cls: str, tip: str) -> None:
        if not isinstance(eid, str) or not eid:
            return
        if rank[cls] >= rank.get(state.get(eid, ""), -1):
            state[eid] = cls
        tips.setdefault(eid, [])
        if tip not in tips[eid]:
            tips[eid].append(tip)

    for ch in changes if isinstance(changes, list) else ():
        if not isinstance(ch, Mapping):
            continue
        target = ch.get("element_id")
        action = str(ch.get("action") or "change").replace("_", " ")
        reason = ch.get("reason")
        added = _id_list(ch.get("added"))
        if added:
            tip = t["added_for"].format(action=action, element=target)
            for eid in added:
                put(eid, "added", tip)
        removed = _id_list(ch.get("removed"))
        if removed:
            tip = t["removed_for"].format(action=action, element=target)
            for eid in removed:
                put(eid, "removed", tip)
        tip = t["changed_by"].format(action=action) + (f": {reason}" if isinstance(reason, str) and reason else "")
        put(target, "changed", tip)
        if isinstance(target, str) and isinstance(ch.get("documents"), list):
            docs.setdefault(target, set()).update(d for d in ch["documents"] if isinstance(d, str))
    marks = {
        eid: Mark((cls,), str(len(docs[eid])) if cls == "changed" and docs.get(eid) else None,
                  "\n".join(tips.get(eid, ())) or None)
        for eid, cls in state.items()
    }
    used = set(state.values())
    legend = [(c, t[c]) for c in ("added", "removed", "changed") if c in used]
    return Overlay.of(marks, legend, hidden_note=t["hidden"])
