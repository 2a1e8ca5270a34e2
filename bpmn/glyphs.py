"""The small BPMN markers drawn inside shapes.

Task type icons (user, manual, service, script, send, receive, business rule),
activity markers along the bottom edge (collapsed sub-process ``+``, loop,
multi-instance, ad hoc, compensation), event definition icons (filled when the
event throws) and gateway markers. Shapes follow the BPMN 2.0 specification's
notation (§10 figures); the geometry is our own.

Icons are drawn in a local frame and placed with a ``transform``, so one set of
coordinates serves any shape size.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from lxml import etree

from bpmn.svg import Node, Point, add, circle, inner_markup, num, path, polygon_d, polyline_d, rect


def _frame(parent: Node, x: float, y: float, scale: float = 1.0,
           cls: str = "glyph") -> Node:
    tr = f"translate({num(x)} {num(y)})"
    if abs(scale - 1.0) > 0.01:
        tr += f" scale({scale:.3f})"
    return add(parent, "g", {"transform": tr, "class": cls})


# A glyph's content is the same wherever it goes (only its frame moves): drawn once per kind.
_DRAWN: dict[tuple[object, ...], str] = {}


def _glyph(parent: Node, x: float, y: float, cls: str, key: tuple[object, ...],
           draw: Callable[[Node], object], scale: float = 1.0) -> None:
    """A frame at (``x``, ``y``) holding what ``draw`` draws; ``key`` names that content."""
    inner = _DRAWN.get(key)
    if inner is None:
        scratch = Node("g")
        draw(scratch)
        inner = inner_markup(scratch)
        if len(_DRAWN) > 1000:   # keys hold event kinds read from models: keep it bounded
            _DRAWN.clear()
        _DRAWN[key] = inner
    frame = _frame(parent, x, y, scale, cls)
    if inner:
        frame.children.append(inner)


def _regular(n: int, r: float, start: float = -math.pi / 2) -> list[Point]:
    return [(r * math.cos(start + 2 * math.pi * i / n), r * math.sin(start + 2 * math.pi * i / n))
            for i in range(n)]


def _gear(r_out: float, r_in: float, teeth: int) -> str:
    pts: list[Point] = []
    for i in range(teeth * 2):
        a0 = math.pi * i / teeth - math.pi / (teeth * 4)
        a1 = math.pi * i / teeth + math.pi / (teeth * 4)
        r = r_out if i % 2 == 0 else r_in
        pts.append((r * math.cos(a0), r * math.sin(a0)))
        pts.append((r * math.cos(a1), r * math.sin(a1)))
    return polygon_d(pts)


_GEAR = _gear(7.5, 5.5, 8)

# --- task type icons (drawn in a 16x16 box) ---------------------------------


TASK_ICON_TAGS = frozenset({"userTask", "manualTask", "serviceTask", "scriptTask", "sendTask", "receiveTask",
                            "businessRuleTask"})


def task_marker(parent: Node, tag: str, x: float, y: float) -> None:
    """The icon of a task type at the task's top-left corner (``x``, ``y``)."""
    if tag not in _TASK_ICONS:
        return
    _glyph(parent, x + 6, y + 6, f"glyph task-icon {tag}-icon", ("task", tag), _TASK_ICONS[tag])


def _user(g: Node) -> None:
    path(g, "M1,17C1,11 4,10 8,10C12,10 15,11 15,17Z", "icon")
    circle(g, 8, 5.5, 3.8, "icon")


def _manual(g: Node) -> None:
    # A flat hand seen from the side: thumb up, four fingers pointing right.
    path(g, "M0.5,6.5C2,4.5 4,3 6.5,1.2L8.2,2.6L6.4,5.3H15.6A1.1,1.1 0 0 1 15.6,7.5H9.5"
            "M9.5,7.5H16.6A1.1,1.1 0 0 1 16.6,9.7H9.5"
            "M9.5,9.7H15.9A1.1,1.1 0 0 1 15.9,11.9H9.5"
            "M9.5,11.9H14.2A1.1,1.1 0 0 1 14.2,14.1H3.2C1.6,14.1 0.5,13.2 0.5,11.6L0.5,6.5", "icon")


def _service(g: Node) -> None:
    gear = add(g, "g", {"transform": "translate(6.5 7)"})
    path(gear, _GEAR, "icon")
    circle(gear, 0, 0, 2.2, "icon")
    small = add(g, "g", {"transform": "translate(12 13) scale(0.7)"})
    path(small, _GEAR, "icon")
    circle(small, 0, 0, 2.2, "icon")


def _script(g: Node) -> None:
    path(g, "M4,1H15C13,3 13,5 15,8.5C17,12 17,14 14,16H3C5,14 5,12 3,8.5C1,5 1,3 4,1Z", "icon")
    path(g, "M5.5,5H12M6,8.5H13M6.5,12H13.5", "icon-line")


def _envelope(g: Node, filled: bool) -> None:
    rect(g, 0, 3, 17, 12, "icon-fill" if filled else "icon")
    path(g, "M0,3L8.5,10L17,3", "icon-inv" if filled else "icon-line")


def _business_rule(g: Node) -> None:
    rect(g, 0, 2, 17, 13, "icon")
    rect(g, 0, 2, 17, 3.5, "icon-fill")
    path(g, "M0,10H17M5,5.5V15", "icon-line")


_TASK_ICONS = {
    "userTask": _user,
    "manualTask": _manual,
    "serviceTask": _service,
    "scriptTask": _script,
    "sendTask": lambda g: _envelope(g, True),
    "receiveTask": lambda g: _envelope(g, False),
    "businessRuleTask": _business_rule,
}

# --- markers along an activity's bottom edge --------------------------------


def activity_markers(parent: Node, element: etree._Element | None, tag: str,
                     x: float, y: float, w: float, h: float, collapsed: bool) -> bool:
    """Loop / multi-instance / ad hoc / compensation / collapsed markers, centred at the bottom.

    Returns whether any marker was drawn (the label then keeps clear of them).
    """
    kinds: list[str] = []
    if element is not None:
        for child in element:
            if not isinstance(child.tag, str):
                continue
            name = child.tag.rpartition("}")[2]
            if name == "standardLoopCharacteristics":
                kinds.append("loop")
            elif name == "multiInstanceLoopCharacteristics":
                seq = (child.get("isSequential") or "").strip().lower() == "true"
                kinds.append("mi-seq" if seq else "mi-par")
        if (element.get("isForCompensation") or "").strip().lower() == "true":
            kinds.append("compensation")
    if collapsed:
        kinds.append("collapsed")
    if tag == "adHocSubProcess":
        kinds.append("adhoc")
    if not kinds:
        return False
    size = 14.0
    gap = 3.0
    total = len(kinds) * size + (len(kinds) - 1) * gap
    left = x + (w - total) / 2
    top = y + h - size - 4
    for i, kind in enumerate(kinds):
        _glyph(parent, left + i * (size + gap), top, f"glyph marker-{kind}", ("marker", kind), _BOTTOM[kind])
    return True


def _collapsed(g: Node) -> None:
    rect(g, 0, 0, 14, 14, "icon")
    path(g, "M7,3V11M3,7H11", "icon-line")


_BOTTOM = {
    "collapsed": _collapsed,
    "loop": lambda g: (path(g, "M3.5,11.5A5.5,5.5 0 1 1 10.5,11.5", "icon-line"),
                       path(g, "M10.5,11.5L10.5,7.5M10.5,11.5L14,10.5", "icon-line")),
    "mi-par": lambda g: path(g, "M3,1V13M7,1V13M11,1V13", "icon-bar"),
    "mi-seq": lambda g: path(g, "M1,3H13M1,7H13M1,11H13", "icon-bar"),
    "adhoc": lambda g: path(g, "M1,8C3,4 5,4 7,7C9,10 11,10 13,6", "icon-line"),
    "compensation": lambda g: path(g, polygon_d([(0, 7), (7, 2), (7, 12)])
                                   + polygon_d([(7, 7), (14, 2), (14, 12)]), "icon"),
}

# --- event definitions (drawn in a circle of radius 18 centred at 0,0) --------

_EVENT_SHAPES: dict[str, str] = {
    "errorEventDefinition": polygon_d([(-8, 9), (-3, -7), (2, 2), (8, -10), (4, 8), (-1, -1)]),
    "signalEventDefinition": polygon_d([(0, -10), (9, 6), (-9, 6)]),
    "escalationEventDefinition": polygon_d([(0, -10), (7, 9), (0, 2), (-7, 9)]),
    "compensateEventDefinition": polygon_d([(-10, 0), (-1, -6.5), (-1, 6.5)])
    + polygon_d([(-1, 0), (8, -6.5), (8, 6.5)]),
    "linkEventDefinition": polygon_d([(-9, -3.5), (1, -3.5), (1, -8), (9, 0), (1, 8), (1, 3.5), (-9, 3.5)]),
    "cancelEventDefinition": polygon_d([(-8, -5), (-5, -8), (0, -3), (5, -8), (8, -5), (3, 0), (8, 5),
                                        (5, 8), (0, 3), (-5, 8), (-8, 5), (-3, 0)]),
    "multiple": polygon_d(_regular(5, 10)),
    "parallelMultiple": polygon_d([(-2.5, -9), (2.5, -9), (2.5, -2.5), (9, -2.5), (9, 2.5), (2.5, 2.5),
                                   (2.5, 9), (-2.5, 9), (-2.5, 2.5), (-9, 2.5), (-9, -2.5), (-2.5, -2.5)]),
}


def event_icon(parent: Node, definitions: Sequence[str], throw: bool,
               cx: float, cy: float, r: float, parallel_multiple: bool = False) -> None:
    """The icon of an event's definition(s); filled when the event throws."""
    defs = [d for d in definitions if d != "eventDefinitionRef"] or list(definitions)
    if not defs:
        return
    kind = defs[0] if len(defs) == 1 else ("parallelMultiple" if parallel_multiple else "multiple")
    if kind == "eventDefinitionRef":
        kind = "multiple"
    _glyph(parent, cx, cy, f"glyph event-icon {kind}", ("event", kind, throw),
           lambda g: _event_glyph(g, kind, throw), r / 18.0)


def _event_glyph(g: Node, kind: str, throw: bool) -> None:
    fill = "icon-fill" if throw else "icon"
    if kind == "messageEventDefinition":
        rect(g, -9, -6.5, 18, 13, fill)
        path(g, "M-9,-6.5L0,1L9,-6.5", "icon-inv" if throw else "icon-line")
    elif kind == "timerEventDefinition":
        circle(g, 0, 0, 11, "icon")
        ticks = "".join(f"M{num(9 * math.cos(a))},{num(9 * math.sin(a))}L{num(11 * math.cos(a))},"
                        f"{num(11 * math.sin(a))}" for a in (math.pi * i / 6 for i in range(12)))
        path(g, ticks + "M0,0L0,-8M0,0L5,2", "icon-line")
    elif kind == "conditionalEventDefinition":
        rect(g, -7, -9, 14, 18, "icon")
        path(g, "M-4.5,-5H4.5M-4.5,-1.5H4.5M-4.5,2H4.5M-4.5,5.5H4.5", "icon-line")
    elif kind == "terminateEventDefinition":
        circle(g, 0, 0, 10.5, "icon-fill")
    elif kind in _EVENT_SHAPES:
        path(g, _EVENT_SHAPES[kind], fill)


# --- gateway markers (drawn in a 50x50 diamond centred at 0,0) ---------------

def gateway_marker(parent: Node, tag: str, attrs: dict[str, str] | None,
                   cx: float, cy: float, size: float) -> None:
    """X, +, O, * or the event-based marker inside a gateway's diamond."""
    attrs = attrs or {}
    parallel = (attrs.get("eventGatewayType") or "").strip().lower() == "parallel"
    instantiate = (attrs.get("instantiate") or "").strip().lower() == "true"
    _glyph(parent, cx, cy, f"glyph gateway-icon {tag}", ("gateway", tag, parallel, instantiate),
           lambda g: _gateway_glyph(g, tag, parallel, instantiate), size / 50.0)


def _gateway_glyph(g: Node, tag: str, parallel: bool, instantiate: bool) -> None:
    if tag == "exclusiveGateway":
        path(g, "M-7,-7L7,7M7,-7L-7,7", "gw-mark")
    elif tag == "parallelGateway":
        path(g, "M0,-11V11M-11,0H11", "gw-mark")
    elif tag == "inclusiveGateway":
        circle(g, 0, 0, 11, "gw-ring")
    elif tag == "complexGateway":
        path(g, "M0,-12V12M-12,0H12M-8.5,-8.5L8.5,8.5M8.5,-8.5L-8.5,8.5", "gw-mark thin-mark")
    elif tag == "eventBasedGateway":
        circle(g, 0, 0, 12, "icon")
        if not instantiate:
            circle(g, 0, 0, 9.5, "icon")
        if parallel:
            path(g, _EVENT_SHAPES["parallelMultiple"], "icon")
        else:
            path(g, polygon_d(_regular(5, 6.5)), "icon")


def data_arrow(parent: Node, x: float, y: float, filled: bool) -> None:
    """The small arrow of a data input (outline) or data output (filled)."""
    pts = [(x, y + 3), (x + 6, y + 3), (x + 6, y), (x + 12, y + 5), (x + 6, y + 10), (x + 6, y + 7), (x, y + 7)]
    path(parent, polygon_d(pts), "icon-fill" if filled else "icon")


def collection_marker(parent: Node, cx: float, bottom: float) -> None:
    """Three bars: a collection of data."""
    path(parent, polyline_d([(cx - 4, bottom - 12), (cx - 4, bottom - 3)])
         + polyline_d([(cx, bottom - 12), (cx, bottom - 3)])
         + polyline_d([(cx + 4, bottom - 12), (cx + 4, bottom - 3)]), "icon-bar")
