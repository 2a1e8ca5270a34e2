"""SVG primitives for the diagram renderer: elements, numbers, text, arrowheads.

The drawing is built as a small tree of :class:`Node` objects and written out
by :func:`to_string`, which escapes every attribute value and text exactly as
lxml does (and, as lxml, refuses characters XML cannot carry), so text from a
model (a task called ``<script>`` or ``"onload=``) can only ever become text
or an attribute value. (An lxml tree did the same, but creating its elements
and attributes was most of the cost of drawing a large model.) No ``url(...)``
reference, ``<marker>`` or id is emitted: arrowheads are drawn as plain paths
beside their line, so several diagrams can be inlined in one HTML page
without their ids colliding, and an overlay class on a flow restyles its
arrowhead too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence

from bpmn.textlayout import clean, is_rtl

SVG_NS = "http://www.w3.org/2000/svg"
FONT_SIZE = 12.0
LINE_HEIGHT = 1.25  # em
MAX_TOOLTIP_CHARS = 2000

Point = tuple[float, float]


class Node:
    """One SVG element: its tag (in the SVG namespace), its attributes, its text and children.

    The attributes are kept as they will be written (escaped, in order). Elements
    that are complete when drawn (a rectangle, a path, a label) are kept as their
    markup among their parent's children, not as nodes: a large diagram has tens of
    thousands of them, and plain strings cost the garbage collector nothing.
    """

    __slots__ = ("attrs", "children", "tag", "text")

    def __init__(self, tag: str, attrs: Mapping[str, str] | None = None) -> None:
        self.tag = tag
        self.attrs = "".join([f' {k}="{_attr_value(v)}"' for k, v in attrs.items()]) if attrs else ""
        self.children: list[Node | str] = []
        self.text: str | None = None

    def set(self, key: str, value: str) -> None:
        """Set an attribute (a new one goes last, an existing one keeps its place)."""
        # Written values hold no quote (it is escaped), so ' key="' can only start that attribute.
        start = f' {key}="'
        at = self.attrs.find(start)
        if at < 0:
            self.attrs += f'{start}{_attr_value(value)}"'
        else:
            begin = at + len(start)
            self.attrs = self.attrs[:begin] + _attr_value(value) + self.attrs[self.attrs.index('"', begin):]

    def append(self, child: Node) -> None:
        """Add ``child`` as the last child."""
        self.children.append(child)


_NUMS: dict[float, str] = {}


def num(v: float) -> str:
    """A coordinate as short text: at most one decimal, no trailing zeros."""
    # Diagrams repeat the same coordinates a lot; formatting dominates otherwise.
    text = _NUMS.get(v)
    if text is None:
        if not math.isfinite(v):
            return "0"
        i = int(v)
        if i == v:
            text = str(i)
        else:
            text = f"{v:.1f}"
            if text.endswith(".0"):
                text = text[:-2]
            if text == "-0":
                text = "0"
        if len(_NUMS) > 100_000:
            _NUMS.clear()
        _NUMS[v] = text
    return text


def root(view_box: tuple[float, float, float, float], css: str) -> Node:
    """The ``<svg>`` element with its embedded style sheet."""
    x, y, w, h = view_box
    svg = Node("svg", {
        "viewBox": f"{num(x)} {num(y)} {num(w)} {num(h)}", "width": num(w), "height": num(h),
        "class": "bpmn-diagram", "role": "img"})
    add(svg, "style").text = css
    return svg


def add(parent: Node, name: str, attrs: Mapping[str, str] | None = None) -> Node:
    """A child element with the given attributes (escaped as lxml would)."""
    node = Node(name, attrs)
    parent.children.append(node)
    return node


def group(parent: Node, cls: str, element_id: str | None = None, title: str | None = None) -> Node:
    """A ``<g>`` for one diagram element, its id as ``data-element-id``.

    The tooltip is the group's first child, where browsers look for it.
    """
    g = Node("g")
    g.attrs = f' class="{_class_value(cls)}"'
    if element_id:
        g.attrs += f' data-element-id="{_attr_value(clean(element_id))}"'
    parent.children.append(g)
    if title:
        g.children.append(f"<title>{_text(clean_multiline(title))}</title>")
    return g


def clean_multiline(text: str) -> str:
    """Tooltip text: each line cleaned, line breaks kept, the whole cut to a readable length."""
    if len(text) > MAX_TOOLTIP_CHARS:
        text = text[:MAX_TOOLTIP_CHARS] + "…"
    if "\n" not in text:
        return clean(text)
    return "\n".join([c for c in map(clean, text.splitlines()) if c])


# The elements below are written at once (numbers come from num(): digits, a point
# and a minus sign, nothing to escape).

def rect(parent: Node, x: float, y: float, w: float, h: float, cls: str, rx: float = 0) -> None:
    parent.children.append(
        f'<rect x="{num(x)}" y="{num(y)}" width="{num(max(w, 0))}" height="{num(max(h, 0))}" '
        f'class="{_class_value(cls)}"' + (f' rx="{num(rx)}"/>' if rx else "/>"))


def circle(parent: Node, cx: float, cy: float, r: float, cls: str) -> None:
    parent.children.append(f'<circle cx="{num(cx)}" cy="{num(cy)}" r="{num(max(r, 0))}" class="{_class_value(cls)}"/>')


def path(parent: Node, d: str, cls: str) -> None:
    parent.children.append(f'<path d="{_attr_value(d)}" class="{_class_value(cls)}"/>')


def polyline(parent: Node, points: Sequence[Point], cls: str) -> None:
    """``path(parent, polyline_d(points), cls)``: a path through ``points`` (its data needs no escaping)."""
    parent.children.append(f'<path d="{polyline_d(points)}" class="{_class_value(cls)}"/>')


def polyline_d(points: Sequence[Point]) -> str:
    """Path data through ``points``."""
    return "M" + "L".join([num(x) + "," + num(y) for x, y in points])


def polygon_d(points: Iterable[Point]) -> str:
    return polyline_d(list(points)) + "Z"


def arrowhead(parent: Node, tail: Point, tip: Point, cls: str,
              length: float = 11, half_width: float = 4) -> None:
    """A triangular head at ``tip`` pointing away from ``tail``."""
    dx, dy = tip[0] - tail[0], tip[1] - tail[1]
    d = math.hypot(dx, dy)
    if d < 1e-6:
        return
    ux, uy = dx / d, dy / d
    bx, by = tip[0] - ux * length, tip[1] - uy * length
    px, py = -uy * half_width, ux * half_width
    # polygon_d([tip, (bx + px, by + py), (bx - px, by - py)]), written out: one per flow
    outline = f"M{num(tip[0])},{num(tip[1])}L{num(bx + px)},{num(by + py)}L{num(bx - px)},{num(by - py)}Z"
    parent.children.append(f'<path d="{outline}" class="{_class_value(cls)}"/>')


def text_lines(parent: Node, lines: Sequence[str], cx: float, top: float,
               cls: str = "label", font_size: float = FONT_SIZE,
               full_text: str | None = None) -> None:
    """Lines of text from ``top``, anchored at ``cx``.

    Alignment and size come from the style sheet through ``cls`` (CSS beats
    presentation attributes, so none are set here); ``font_size`` must match
    it for the line spacing. The base direction is taken from the whole label
    (``full_text``), so a Persian label whose second line starts with a Latin
    word stays right-to-left.
    """
    if not lines:
        return
    x = num(cx)
    start = f'<text x="{x}" y="{num(top + font_size * 0.95)}" class="{_class_value(cls)}"'
    if is_rtl(full_text if full_text is not None else lines[0]):
        start += ' direction="rtl" unicode-bidi="embed"'
    if len(lines) == 1:
        parent.children.append(f"{start}>{_text(lines[0])}</text>")
        return
    first = f'<tspan x="{x}">'
    rest = f'<tspan x="{x}" dy="{num(font_size * LINE_HEIGHT)}">'
    spans = "".join([f"{rest if i else first}{_text(line)}</tspan>" for i, line in enumerate(lines)])
    parent.children.append(f"{start}>{spans}</text>")


def block_height(n_lines: int, font_size: float = FONT_SIZE) -> float:
    """Height of ``n_lines`` of text set by :func:`text_lines`."""
    return n_lines * font_size * LINE_HEIGHT if n_lines else 0.0


# -- writing ---------------------------------------------------------------------

# What lxml (libxml2) escapes: in attribute values also quotes and the white space
# a parser would normalise; in text the carriage return. Characters XML 1.0 cannot
# carry (C0 controls, lone surrogates, U+FFFE/U+FFFF) lxml refuses to put into a tree.
_NOT_XML = "\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\ud800-\\udfff\\ufffe\\uffff"
_ATTR_SPECIAL = re.compile(f'[&<>"\\n\\r\\t{_NOT_XML}]')
_TEXT_SPECIAL = re.compile(f"[&<>\\r{_NOT_XML}]")
_BAD = re.compile(f"[{_NOT_XML}]")


def _refuse(value: str) -> None:
    """Raise as lxml does for text it cannot put into a tree."""
    bad = _BAD.search(value)
    if bad is not None:
        bad.group().encode("utf-8")   # a lone surrogate: the UnicodeEncodeError lxml gives
        raise ValueError("All strings must be XML compatible: Unicode or ASCII, no NULL bytes or control characters")


def _attr_value(value: str) -> str:
    if _ATTR_SPECIAL.search(value) is None:
        return value
    _refuse(value)
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
            .replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;"))


_CLASSES: dict[str, str] = {}


def _class_value(cls: str) -> str:
    """:func:`_attr_value` of a class attribute (remembered: a diagram uses a few dozen)."""
    done = _CLASSES.get(cls)
    if done is None:
        done = _attr_value(cls)
        if len(_CLASSES) > 10_000:
            _CLASSES.clear()
        _CLASSES[cls] = done
    return done


def _text(value: str) -> str:
    if _TEXT_SPECIAL.search(value) is None:
        return value
    _refuse(value)
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def _write(node: Node, out: list[str]) -> None:
    children, text = node.children, node.text
    if text is None and not children:
        out.append(f"<{node.tag}{node.attrs}/>")
        return
    out.append(f"<{node.tag}{node.attrs}>" if text is None else f"<{node.tag}{node.attrs}>{_text(text)}")
    for child in children:
        if child.__class__ is str:
            out.append(child)
        else:
            _write(child, out)
    out.append(f"</{node.tag}>")


def inner_markup(node: Node) -> str:
    """What :func:`to_string` writes for ``node``'s text and children (the element's content)."""
    out: list[str] = [_text(node.text)] if node.text is not None else []
    for child in node.children:
        if child.__class__ is str:
            out.append(child)
        else:
            _write(child, out)
    return "".join(out)


def to_string(svg: Node) -> str:
    """The SVG as a string without an XML declaration (ready to inline in HTML).

    Written as lxml writes a tree with the SVG namespace as the default one.
    Text holding a character XML cannot carry raises ``ValueError``, as lxml
    does (model text is cleaned before it gets here).
    """
    out: list[str] = []
    _write(svg, out)
    out[0] = f'<{svg.tag} xmlns="{SVG_NS}"' + out[0][1 + len(svg.tag):]
    return "".join(out)
