"""Painters for BPMNDI shapes: activities, events, gateways, data, pools, lanes, artifacts.

Each shape becomes one ``<g data-element-id=...>`` holding its outline, its
markers and its label. Labels go inside tasks (wrapped to the task, centred),
below events, gateways and data (or at the ``BPMNLabel`` bounds when the model
has them), and in a rotated band for pools and lanes. Geometry facts follow the
BPMN 2.0 notation: start events thin, intermediate double, end thick; call
activities with a thick border; transactions with a double border; event
sub-processes dashed.
"""

from __future__ import annotations

import math

from lxml import etree

from bpmn.canvas import Canvas
from bpmn.glyphs import (
    TASK_ICON_TAGS,
    activity_markers,
    collection_marker,
    data_arrow,
    event_icon,
    gateway_marker,
    task_marker,
)
from bpmn.model import Bounds, Shape
from bpmn.overlay import Mark
from bpmn.svg import (
    FONT_SIZE,
    Node,
    add,
    block_height,
    circle,
    clean_multiline,
    group,
    num,
    path,
    polygon_d,
    rect,
    text_lines,
)
from bpmn.textlayout import is_rtl, text_width, wrap

SUBPROCESS = frozenset({"subProcess", "transaction", "adHocSubProcess"})
ACTIVITIES = frozenset({"task", "userTask", "manualTask", "serviceTask", "scriptTask", "sendTask",
                        "receiveTask", "businessRuleTask", "callActivity"}) | SUBPROCESS
EVENTS = frozenset({"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent",
                    "boundaryEvent", "implicitThrowEvent"})
GATEWAYS = frozenset({"exclusiveGateway", "inclusiveGateway", "parallelGateway", "complexGateway",
                      "eventBasedGateway"})
DATA_OBJECTS = frozenset({"dataObjectReference", "dataObject", "dataInput", "dataOutput"})
DATA_STORES = frozenset({"dataStoreReference", "dataStore"})
THROWING = frozenset({"endEvent", "intermediateThrowEvent", "implicitThrowEvent"})
BAND = 30.0          # width of the name band of pools and lanes
EXT_LABEL_WIDTH = 100.0
SMALL_FONT = 11.0
ICON_CLEAR = 22.0    # text below this offset does not touch a task's type icon


def category(tag: str, expanded: bool) -> str:
    """The drawing category of a BPMN element tag (also its CSS class)."""
    if tag in SUBPROCESS or tag == "callActivity":
        return "container" if expanded else "activity"
    if tag in ACTIVITIES:
        return "activity"
    if tag in EVENTS:
        return "event"
    if tag in GATEWAYS:
        return "gateway"
    if tag in DATA_OBJECTS:
        return "data-object"
    if tag in DATA_STORES:
        return "data-store"
    return {"participant": "pool", "process": "pool", "lane": "lane", "textAnnotation": "annotation",
            "group": "group"}.get(tag, "unknown")


def _classes(base: str, mark: Mark | None) -> str:
    return f"{base} {' '.join(mark.classes)}" if mark and mark.classes else base


def _title(name: str, fallback: str, mark: Mark | None) -> str:
    head = name or fallback
    return f"{head}\n{mark.tooltip}" if mark and mark.tooltip else head


def draw_shape(cv: Canvas, shape: Shape, mark: Mark | None) -> None:
    """Draw one DI shape, whatever it refers to (an unknown id gets a dashed box)."""
    eid = shape.element_id
    el = cv.elements.get(eid)
    tag = cv.tags.get(eid) or "unknown"
    expanded = eid in cv.expanded
    cat = category(tag, expanded)
    name = cv.name_of(eid)
    layer = {"pool": "pools", "lane": "lanes", "container": "containers", "group": "containers"}.get(cat, "nodes")
    g = group(cv.layers[layer], _classes(f"el {cat} {tag}", mark), eid, _title(name, f"{tag} {eid}", mark))
    b = shape.bounds
    cv.grow(b.x, b.y, b.x + b.width, b.y + b.height)
    _PAINTERS.get(cat, _unknown)(cv, g, shape, el, tag, name)
    if mark and mark.badge:
        badge(cv, b.x + b.width - 4, b.y + 4, mark, eid)


def _inside_label(cv: Canvas, g: Node, name: str, b: Bounds, top_only: bool = False,
                  bottom_reserve: float = 0.0, icon: bool = False) -> None:
    if not name:
        return
    pad = 6.0
    avail_h = b.height - 2 * pad - bottom_reserve
    # Lines may use the padding too before a long name is cut (its tooltip has it all).
    max_lines = 2 if top_only else max(int((b.height - 4 - bottom_reserve) // block_height(1)), 1)
    width = max(b.width - 2 * pad, 20)
    lines = wrap(name, width, FONT_SIZE, max_lines)
    if top_only:
        top = b.y + pad
    else:
        top = b.y + pad + (avail_h - block_height(len(lines))) / 2
        if icon and top < b.y + ICON_CLEAR:
            if b.y + ICON_CLEAR + block_height(len(lines)) <= b.y + b.height - pad - bottom_reserve:
                top = b.y + ICON_CLEAR   # the text fits below the type icon
            else:
                # narrow the lines beside the icon in the top-left corner
                for _ in range(2):
                    beside = math.ceil((b.y + ICON_CLEAR - top) / block_height(1))
                    lines = wrap(name, width, FONT_SIZE, max_lines, first_width=b.width - 2 * ICON_CLEAR,
                                 first_lines=max(beside, 1))
                    top = b.y + pad + (avail_h - block_height(len(lines))) / 2
    text_lines(g, lines, b.x + b.width / 2, top, "label", full_text=name)


def external_label(cv: Canvas, g: Node, name: str, b: Bounds, label: Bounds | None,
                   max_lines: int = 4, element_id: str | None = None) -> None:
    """A label outside its shape: at the DI label bounds, or centred below the shape."""
    if not name:
        return
    if label is not None and label.width > 0:
        # Other tools measured the label with their own font: give it some slack.
        width = max(label.width + 14, 60.0)
        lines = wrap(name, width, SMALL_FONT, max_lines)
        cx = label.x + label.width / 2
        top = label.y + max((label.height - block_height(len(lines), SMALL_FONT)) / 2, 0)
    else:
        width = cv.label_width.get(element_id, EXT_LABEL_WIDTH) if element_id else EXT_LABEL_WIDTH
        lines = wrap(name, max(b.width, width), SMALL_FONT, max_lines if width >= EXT_LABEL_WIDTH else 6)
        cx = b.x + b.width / 2
        top = b.y + b.height + 4
        if lines and element_id:
            # Below is the convention; above when below would cover another shape.
            half = max(text_width(line, SMALL_FONT) for line in lines) / 2
            h = block_height(len(lines), SMALL_FONT)
            if (cv.hits(cx - half, top, cx + half, top + h, element_id)
                    and not cv.hits(cx - half, b.y - 4 - h, cx + half, b.y - 4, element_id)):
                top = b.y - 4 - h
    text_lines(g, lines, cx, top, "label ext halo", SMALL_FONT, full_text=name)
    cv.grow_text(lines, cx, top, SMALL_FONT)


def _activity(cv: Canvas, g: Node, shape: Shape, el: etree._Element | None,
              tag: str, name: str) -> None:
    b = shape.bounds
    attrs = el.attrib if el is not None else {}
    cls = "shape"
    if tag == "callActivity":
        cls += " call"
    if (attrs.get("triggeredByEvent") or "").strip().lower() == "true":
        cls += " thin dashed"
    rect(g, b.x, b.y, b.width, b.height, cls, rx=10)
    if tag == "transaction":
        rect(g, b.x + 3, b.y + 3, b.width - 6, b.height - 6, "shape thin none", rx=7)
    task_marker(g, tag, b.x, b.y)
    expanded = shape.element_id in cv.expanded
    collapsed = tag in SUBPROCESS and not expanded
    has_bottom = activity_markers(g, el, tag, b.x, b.y, b.width, b.height, collapsed)
    _inside_label(cv, g, name, b, top_only=expanded,
                  bottom_reserve=16.0 if has_bottom else 0.0, icon=tag in TASK_ICON_TAGS)


def _event(cv: Canvas, g: Node, shape: Shape, el: etree._Element | None,
           tag: str, name: str) -> None:
    b = shape.bounds
    cx, cy, r = b.x + b.width / 2, b.y + b.height / 2, min(b.width, b.height) / 2
    node = cv.nodes.get(shape.element_id)
    attrs = el.attrib if el is not None else {}
    dashed = ((tag == "startEvent" and (attrs.get("isInterrupting") or "").strip().lower() == "false")
              or (tag == "boundaryEvent" and node is not None and not node.cancel_activity))
    dash = " dashed" if dashed else ""
    if tag == "startEvent":
        circle(g, cx, cy, r, "shape" + dash)
    elif tag == "endEvent":
        circle(g, cx, cy, r, "shape thick")
    else:
        circle(g, cx, cy, r, "shape thin" + dash)
        circle(g, cx, cy, max(r - 3, 1), "shape thin none" + dash)
    defs = node.event_definitions if node is not None else ()
    parallel = (attrs.get("parallelMultiple") or "").strip().lower() == "true"
    event_icon(g, defs, tag in THROWING, cx, cy, r, parallel)
    external_label(cv, g, name, b, shape.label, element_id=shape.element_id)


def _gateway(cv: Canvas, g: Node, shape: Shape, el: etree._Element | None,
             tag: str, name: str) -> None:
    b = shape.bounds
    cx, cy = b.x + b.width / 2, b.y + b.height / 2
    path(g, polygon_d([(cx, b.y), (b.x + b.width, cy), (cx, b.y + b.height), (b.x, cy)]), "shape")
    gateway_marker(g, tag, dict(el.attrib) if el is not None else None, cx, cy, min(b.width, b.height))
    external_label(cv, g, name, b, shape.label, element_id=shape.element_id)


def _data_object(cv: Canvas, g: Node, shape: Shape, el: etree._Element | None,
                 tag: str, name: str) -> None:
    b = shape.bounds
    fold = min(12.0, b.width / 3, b.height / 3)
    x1, y1 = b.x + b.width, b.y + b.height
    path(g, f"M{num(b.x)},{num(b.y)}H{num(x1 - fold)}L{num(x1)},{num(b.y + fold)}V{num(y1)}"
            f"H{num(b.x)}Z", "shape thin")
    path(g, f"M{num(x1 - fold)},{num(b.y)}V{num(b.y + fold)}H{num(x1)}", "shape thin none")
    target = el
    if el is not None and tag == "dataObjectReference":
        target = cv.elements.get(el.get("dataObjectRef") or "", el)
    if target is not None and (target.get("isCollection") or "").strip().lower() == "true":
        collection_marker(g, b.x + b.width / 2, y1)
    if tag in ("dataInput", "dataOutput"):
        data_arrow(g, b.x + 4, b.y + 4, tag == "dataOutput")
    external_label(cv, g, name, b, shape.label, element_id=shape.element_id)


def _data_store(cv: Canvas, g: Node, shape: Shape, el: etree._Element | None,
                tag: str, name: str) -> None:
    b = shape.bounds
    ry = min(b.height / 6, 8.0)
    x0, x1, y0, y1 = b.x, b.x + b.width, b.y + ry, b.y + b.height - ry
    rx = b.width / 2
    arc = f"A{num(rx)},{num(ry)} 0 0 0 "
    path(g, f"M{num(x0)},{num(y0)}V{num(y1)}{arc}{num(x1)},{num(y1)}V{num(y0)}{arc}{num(x0)},{num(y0)}"
            f"A{num(rx)},{num(ry)} 0 0 1 {num(x1)},{num(y0)}", "shape thin")
    for k in (1, 2):
        path(g, f"M{num(x0)},{num(y0 + 4 * k)}{arc}{num(x1)},{num(y0 + 4 * k)}", "shape thin none")
    external_label(cv, g, name, b, shape.label, element_id=shape.element_id)


def _band_label(cv: Canvas, g: Node, name: str, b: Bounds, horizontal: bool) -> None:
    if not name:
        return
    length = (b.height if horizontal else b.width) - 10
    lines = wrap(name, max(length, 20), FONT_SIZE, 2)
    h = block_height(len(lines))
    if horizontal:
        cx, cy = b.x + BAND / 2, b.y + b.height / 2
        holder = add(g, "g", {"transform": f"translate({num(cx)} {num(cy)}) rotate(-90)"})
        text_lines(holder, lines, 0, -h / 2, "label band", full_text=name)
    else:
        text_lines(g, lines, b.x + b.width / 2, b.y + (BAND - h) / 2, "label band", full_text=name)


def _swimlane(cv: Canvas, g: Node, shape: Shape, el: etree._Element | None,
              tag: str, name: str) -> None:
    b = shape.bounds
    horizontal = shape.is_horizontal is not False
    box = "pool-box" if tag == "participant" else "lane-box"
    rect(g, b.x, b.y, b.width, b.height, f"shape {box}")
    if horizontal:
        path(g, f"M{num(b.x + BAND)},{num(b.y)}V{num(b.y + b.height)}", f"shape {box} none")
    else:
        path(g, f"M{num(b.x)},{num(b.y + BAND)}H{num(b.x + b.width)}", f"shape {box} none")
    if tag == "participant" and not name and el is not None:
        proc = cv.model.process(el.get("processRef") or "")
        name = (proc.name or "") if proc else ""
    _band_label(cv, g, name, b, horizontal)


def _annotation(cv: Canvas, g: Node, shape: Shape, el: etree._Element | None,
                tag: str, name: str) -> None:
    b = shape.bounds
    rect(g, b.x, b.y, b.width, b.height, "hit")
    path(g, f"M{num(b.x + 10)},{num(b.y)}H{num(b.x)}V{num(b.y + b.height)}H{num(b.x + 10)}",
         "shape thin none")
    if not name:
        return
    lines = wrap(name, max(b.width - 10, 30), SMALL_FONT, None)
    # start-anchored: with direction="rtl" the start is the right-hand edge
    x = b.x + b.width - 4 if is_rtl(name) else b.x + 6
    text_lines(g, lines, x, b.y + 4, "label start", SMALL_FONT, full_text=name)
    if lines:
        w = max(text_width(line, SMALL_FONT) for line in lines)
        left = x - w if is_rtl(name) else x
        cv.grow(left, b.y, left + w, b.y + 4 + block_height(len(lines), SMALL_FONT))


def _group(cv: Canvas, g: Node, shape: Shape, el: etree._Element | None,
           tag: str, name: str) -> None:
    b = shape.bounds
    rect(g, b.x, b.y, b.width, b.height, "shape thin none group-box", rx=10)
    if name:
        lines = wrap(name, max(b.width - 10, 30), SMALL_FONT, 2)
        text_lines(g, lines, b.x + b.width / 2, b.y + 4, "label halo", SMALL_FONT, full_text=name)


def _container(cv: Canvas, g: Node, shape: Shape, el: etree._Element | None,
               tag: str, name: str) -> None:
    _activity(cv, g, shape, el, tag, name)


def _unknown(cv: Canvas, g: Node, shape: Shape, el: etree._Element | None,
             tag: str, name: str) -> None:
    b = shape.bounds
    rect(g, b.x, b.y, b.width, b.height, "shape thin dashed none unknown-box", rx=4)
    _inside_label(cv, g, name or shape.element_id, b)


_PAINTERS = {
    "activity": _activity, "container": _container, "event": _event, "gateway": _gateway,
    "data-object": _data_object, "data-store": _data_store, "pool": _swimlane, "lane": _swimlane,
    "annotation": _annotation, "group": _group,
}


def badge(cv: Canvas, cx: float, cy: float, mark: Mark, element_id: str | None = None) -> None:
    """A small count (or short text) in a pill, drawn above everything else."""
    text = (mark.badge or "")[:12]
    w = max(text_width(text, SMALL_FONT) + 10, 20.0)
    g = add(cv.layers["badges"], "g", {"class": _classes("badge", mark)})
    if element_id:
        g.set("data-badge-for", element_id)
    if mark.tooltip:
        add(g, "title").text = clean_multiline(mark.tooltip)
    rect(g, cx - w / 2, cy - 10, w, 20, "badge-pill", rx=10)
    text_lines(g, [text], cx, cy - 7, "badge-text", SMALL_FONT)
    cv.grow(cx - w / 2, cy - 10, cx + w / 2, cy + 10)
