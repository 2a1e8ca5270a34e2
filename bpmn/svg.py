"""SVG primitives for the diagram renderer: elements, numbers, text, arrowheads.

Everything is built as lxml elements, so text from a model (a task called
``<script>`` or ``"onload=``) can only ever become text or an attribute value,
escaped by lxml. No ``url(...)`` reference, ``<marker>`` or id is emitted:
arrowheads are drawn as plain paths beside their line, so several diagrams can
be inlined in one HTML page without their ids colliding, and an overlay class
on a flow restyles its arrowhead too.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from lxml import etree

from bpmn.textlayout import clean, is_rtl

SVG_NS = "http://www.w3.org/2000/svg"
FONT_SIZE = 12.0
LINE_HEIGHT = 1.25  # em
MAX_TOOLTIP_CHARS = 2000

Point = tuple[float, float]

_TAGS: dict[str, str] = {}
_G, _TITLE, _RECT, _CIRCLE, _PATH, _TEXT, _TSPAN = (
    f"{{{SVG_NS}}}{t}" for t in ("g", "title", "rect", "circle", "path", "text", "tspan"))


def _tag(name: str) -> str:
    t = _TAGS.get(name)
    if t is None:
        t = _TAGS[name] = f"{{{SVG_NS}}}{name}"
    return t


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


def root(view_box: tuple[float, float, float, float], css: str) -> etree._Element:
    """The ``<svg>`` element with its embedded style sheet."""
    x, y, w, h = view_box
    svg = etree.Element(_tag("svg"), {
        "viewBox": f"{num(x)} {num(y)} {num(w)} {num(h)}", "width": num(w), "height": num(h),
        "class": "bpmn-diagram", "role": "img"}, nsmap={None: SVG_NS})
    add(svg, "style").text = css
    return svg


def add(parent: etree._Element, name: str, attrs: dict[str, str] | None = None) -> etree._Element:
    """A child element with the given attributes (lxml escapes every value)."""
    return etree.SubElement(parent, _tag(name), attrs)


def group(parent: etree._Element, cls: str, element_id: str | None = None,
          title: str | None = None) -> etree._Element:
    """A ``<g>`` for one diagram element, its id as ``data-element-id``.

    The tooltip is the group's first child, where browsers look for it.
    """
    attrs = {"class": cls}
    if element_id:
        attrs["data-element-id"] = clean(element_id)
    g = etree.SubElement(parent, _G, attrs)
    if title:
        etree.SubElement(g, _TITLE).text = clean_multiline(title)
    return g


def clean_multiline(text: str) -> str:
    """Tooltip text: each line cleaned, line breaks kept, the whole cut to a readable length."""
    if len(text) > MAX_TOOLTIP_CHARS:
        text = text[:MAX_TOOLTIP_CHARS] + "…"
    if "\n" not in text:
        return clean(text)
    return "\n".join(c for c in (clean(line) for line in text.splitlines()) if c)


def rect(parent: etree._Element, x: float, y: float, w: float, h: float, cls: str,
         rx: float = 0) -> etree._Element:
    attrs = {"x": num(x), "y": num(y), "width": num(max(w, 0)), "height": num(max(h, 0)), "class": cls}
    if rx:
        attrs["rx"] = num(rx)
    return etree.SubElement(parent, _RECT, attrs)


def circle(parent: etree._Element, cx: float, cy: float, r: float, cls: str) -> etree._Element:
    return etree.SubElement(parent, _CIRCLE, {"cx": num(cx), "cy": num(cy), "r": num(max(r, 0)),
                                                     "class": cls})


def path(parent: etree._Element, d: str, cls: str) -> etree._Element:
    return etree.SubElement(parent, _PATH, {"d": d, "class": cls})


def polyline_d(points: Sequence[Point]) -> str:
    """Path data through ``points``."""
    return "M" + "L".join([num(x) + "," + num(y) for x, y in points])


def polygon_d(points: Iterable[Point]) -> str:
    return polyline_d(list(points)) + "Z"


def arrowhead(parent: etree._Element, tail: Point, tip: Point, cls: str,
              length: float = 11, half_width: float = 4) -> None:
    """A triangular head at ``tip`` pointing away from ``tail``."""
    dx, dy = tip[0] - tail[0], tip[1] - tail[1]
    d = math.hypot(dx, dy)
    if d < 1e-6:
        return
    ux, uy = dx / d, dy / d
    bx, by = tip[0] - ux * length, tip[1] - uy * length
    px, py = -uy * half_width, ux * half_width
    path(parent, polygon_d([tip, (bx + px, by + py), (bx - px, by - py)]), cls)


def text_lines(parent: etree._Element, lines: Sequence[str], cx: float, top: float,
               cls: str = "label", font_size: float = FONT_SIZE,
               full_text: str | None = None) -> etree._Element | None:
    """Lines of text from ``top``, anchored at ``cx``.

    Alignment and size come from the style sheet through ``cls`` (CSS beats
    presentation attributes, so none are set here); ``font_size`` must match
    it for the line spacing. The base direction is taken from the whole label
    (``full_text``), so a Persian label whose second line starts with a Latin
    word stays right-to-left.
    """
    if not lines:
        return None
    attrs = {"x": num(cx), "y": num(top + font_size * 0.95), "class": cls}
    if is_rtl(full_text if full_text is not None else lines[0]):
        attrs["direction"] = "rtl"
        attrs["unicode-bidi"] = "embed"
    t = etree.SubElement(parent, _TEXT, attrs)
    if len(lines) == 1:
        t.text = lines[0]
        return t
    x = attrs["x"]
    step = num(font_size * LINE_HEIGHT)
    for i, line in enumerate(lines):
        span = etree.SubElement(t, _TSPAN, {"x": x, "dy": step} if i else {"x": x})
        span.text = line
    return t


def block_height(n_lines: int, font_size: float = FONT_SIZE) -> float:
    """Height of ``n_lines`` of text set by :func:`text_lines`."""
    return n_lines * font_size * LINE_HEIGHT if n_lines else 0.0


def to_string(svg: etree._Element) -> str:
    """The SVG as a string without an XML declaration (ready to inline in HTML)."""
    return etree.tostring(svg, encoding="unicode")
