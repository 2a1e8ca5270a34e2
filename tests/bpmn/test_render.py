"""bpmn.render: SVG from BPMNDI, overlays, automatic layout, safety, speed."""

from __future__ import annotations

import itertools
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from lxml import etree

from bpmn.load import load_bytes, load_path
from bpmn.model import Bounds, Model, read_model
from bpmn.overlay import Mark, Overlay, overlay_from_changes, overlay_from_findings
from bpmn.render import render_svg
from bpmn.textlayout import is_rtl, text_width, wrap

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "render"
SVG = "{http://www.w3.org/2000/svg}"
ARABIC = re.compile("[\u0600-\u06ff]")

BPMN_HEAD = ('<?xml version="1.0" encoding="UTF-8"?>'
             '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
             'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" '
             'xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" '
             'xmlns:di="http://www.omg.org/spec/DD/20100524/DI" id="D" targetNamespace="t">')


def model_of(xml: str, name: str = "test.bpmn") -> Model:
    return read_model(load_bytes(xml.encode("utf-8"), name))


def parse(svg: str) -> etree._Element:
    return etree.fromstring(svg.encode("utf-8"))


def groups(root: etree._Element) -> dict[str, etree._Element]:
    """Element groups by data-element-id; fails on a duplicate."""
    out: dict[str, etree._Element] = {}
    for g in root.iter(f"{SVG}g"):
        eid = g.get("data-element-id")
        if eid is not None:
            assert eid not in out, f"two groups draw {eid}"
            out[eid] = g
    return out


def boxes(model: Model, svg: str) -> dict[str, Bounds]:
    """Bounds of the drawn flow nodes, read back from the SVG's rects/circles/diamonds."""
    out = {}
    for eid, g in groups(parse(svg)).items():
        cls = g.get("class", "").split()
        if not ({"activity", "event", "gateway", "data-object", "data-store", "annotation"} & set(cls)):
            continue
        xs, ys = [], []
        for el in g:
            if el.tag == f"{SVG}rect" and ("shape" in el.get("class", "") or "hit" in el.get("class", "")):
                x, y = float(el.get("x")), float(el.get("y"))
                xs += [x, x + float(el.get("width"))]
                ys += [y, y + float(el.get("height"))]
            elif el.tag == f"{SVG}circle" and "shape" in el.get("class", ""):
                cx, cy, r = float(el.get("cx")), float(el.get("cy")), float(el.get("r"))
                xs += [cx - r, cx + r]
                ys += [cy - r, cy + r]
            elif el.tag == f"{SVG}path" and "shape" in el.get("class", ""):
                px, py = path_points(el.get("d"))
                xs += px
                ys += py
        if xs:
            out[eid] = Bounds(min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))
    return out


def path_points(d: str) -> tuple[list[float], list[float]]:
    """End points of an absolute path's commands (M, L, H, V, A, C, Z)."""
    xs: list[float] = []
    ys: list[float] = []
    x = y = 0.0
    for cmd, args in re.findall(r"([MLHVACZ])([^MLHVACZ]*)", d):
        nums = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", args)]
        if cmd in "ML":
            x, y = nums[-2], nums[-1]
        elif cmd == "H":
            x = nums[-1]
        elif cmd == "V":
            y = nums[-1]
        elif cmd in "AC":
            x, y = nums[-2], nums[-1]
        else:
            continue
        xs.append(x)
        ys.append(y)
    return xs, ys


# --- samples with DI -----------------------------------------------------------

def test_every_sample_renders_one_group_per_di_shape_and_edge(samples):
    assert len(samples) >= 8
    for path in samples:
        model = read_model(load_path(path)[0])
        svg = render_svg(model)
        root = parse(svg)
        assert root.tag == f"{SVG}svg"
        drawn = groups(root)
        diagram = model.diagrams[0]
        expected = set(diagram.shapes) | set(diagram.edges)
        assert set(drawn) == expected, path.name
        x, y, w, h = (float(v) for v in root.get("viewBox").split())
        for s in diagram.shapes.values():  # the viewBox holds every shape
            b = s.bounds
            assert x <= b.x and y <= b.y and b.x + b.width <= x + w and b.y + b.height <= y + h
        assert root.find(f"{SVG}g[@class='diagram']").get("data-auto-layout") is None


def test_shapes_have_the_right_markers(samples):
    model = read_model(load_path(next(p for p in samples if p.stem == "business_license"))[0])
    drawn = groups(parse(render_svg(model)))
    kinds = {eid: g.get("class").split() for eid, g in drawn.items()}
    for node in model.processes[0].nodes.values():
        assert node.tag in kinds[node.id]
        g = drawn[node.id]
        if node.tag == "userTask":
            assert g.find(f".//{SVG}g[@class='glyph task-icon userTask-icon']") is not None
        if node.tag == "exclusiveGateway":
            assert g.find(f".//{SVG}path[@class='gw-mark']") is not None
        if node.tag == "endEvent":
            assert g.find(f"{SVG}circle[@class='shape thick']") is not None
    for flow in model.processes[0].flows.values():
        g = drawn[flow.id]
        assert len(g.findall(f"{SVG}path[@class='head']")) == 1, "one arrowhead per sequence flow"


def test_default_flow_gets_a_slash_and_conditions_from_tasks_a_diamond():
    xml = BPMN_HEAD + """<bpmn:process id="P">
      <bpmn:task id="a" default="f_def"/><bpmn:task id="b"/><bpmn:task id="c"/>
      <bpmn:sequenceFlow id="f_def" sourceRef="a" targetRef="b"/>
      <bpmn:sequenceFlow id="f_cond" sourceRef="a" targetRef="c">
        <bpmn:conditionExpression>x</bpmn:conditionExpression></bpmn:sequenceFlow>
    </bpmn:process></bpmn:definitions>"""
    drawn = groups(parse(render_svg(model_of(xml))))
    assert drawn["f_def"].find(f"{SVG}path[@class='line default-mark']") is not None
    assert drawn["f_cond"].find(f"{SVG}path[@class='head open condition-mark']") is not None
    assert drawn["f_cond"].find(f"{SVG}path[@class='line default-mark']") is None


def test_persian_labels_are_rtl_and_english_labels_are_not(samples):
    model = read_model(load_path(next(p for p in samples if p.stem == "degree_verification_hiring"))[0])
    root = parse(render_svg(model))
    texts = list(root.iter(f"{SVG}text"))
    persian = [t for t in texts if ARABIC.search("".join(t.itertext()))]
    english = [t for t in texts if re.search("[A-Za-z]", "".join(t.itertext())) and t not in persian]
    assert english, "the sample has English labels"
    assert all(t.get("direction") is None for t in english)
    model = read_model(load_path(next(p for p in samples if p.stem == "business_license"))[0])
    root = parse(render_svg(model))
    persian = [t for t in root.iter(f"{SVG}text") if ARABIC.search("".join(t.itertext()))]
    assert len(persian) > 20
    assert all(t.get("direction") == "rtl" and t.get("unicode-bidi") == "embed" for t in persian)
    # Lines of a wrapped Persian task name stay whole words and stay inside the task.
    task = groups(root)["t_request"]
    lines = [s.text for s in task.iter(f"{SVG}tspan")]
    assert len(lines) >= 2
    name = model.node("t_request").name
    assert all(line.rstrip("…") in name for line in lines)
    assert all(text_width(line, 12) <= 100 for line in lines)


def test_style_names_persian_fonts_and_has_no_external_reference(samples):
    svg = render_svg(read_model(load_path(samples[0])[0]))
    style = parse(svg).find(f"{SVG}style").text
    assert "Vazirmatn" in style and "Tahoma" in style and '"Noto Sans Arabic"' in style
    assert "url(" not in svg and "@import" not in svg and "href" not in svg


# --- hostile text -----------------------------------------------------------------

HOSTILE = ['<script>alert(1)</script>', '" onload="alert(1)', "x' onmouseover='alert(2)",
           "]]><svg onload=alert(3)>", "&lt;b&gt; &amp; </title><script>4</script>"]


def _hostile_model() -> Model:
    names = [n.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;").replace("'", "&apos;")
             for n in HOSTILE]
    tasks = "".join(f'<bpmn:userTask id="t{i}" name="{n}"/>' for i, n in enumerate(names))
    flows = "".join(f'<bpmn:sequenceFlow id="f{i}" name="{names[i]}" sourceRef="t{i}" targetRef="t{i + 1}"/>'
                    for i in range(len(names) - 1))
    xml = (BPMN_HEAD + f'<bpmn:process id="P">{tasks}{flows}'
           f'<bpmn:textAnnotation id="a"><bpmn:text>{names[0]}</bpmn:text></bpmn:textAnnotation></bpmn:process>'
           '</bpmn:definitions>')
    return model_of(xml)


def _assert_inert(svg: str) -> etree._Element:
    root = parse(svg)
    allowed_attrs = {"viewBox", "width", "height", "class", "role", "x", "y", "rx", "cx", "cy", "r", "d",
                     "transform", "direction", "unicode-bidi", "dy", "data-element-id", "data-badge-for",
                     "data-auto-layout", "fill"}
    for el in root.iter():
        assert etree.QName(el).localname not in ("script", "foreignObject", "a", "image", "use", "iframe")
        assert etree.QName(el).namespace == SVG[1:-1]
        for attr in el.attrib:
            assert attr in allowed_attrs, attr
    return root


def test_hostile_names_stay_text():
    model = _hostile_model()
    svg = render_svg(model, overlay=Overlay.of({"t0": Mark(("paper", "x onload=y"), "<b>", "<script>")}))
    root = _assert_inert(svg)
    shown = "".join("".join(el.itertext()) for el in root.iter(f"{SVG}text")).replace(" ", "")
    assert "<script>alert(1)</script>".replace(" ", "") in shown
    titles = [t.text for t in root.iter(f"{SVG}title")]
    for name in HOSTILE:  # every name whole in some tooltip, as text
        assert any(name in t for t in titles), name
    assert any(t.splitlines()[-1] == "<script>" for t in titles)
    classes = groups(root)["t0"].get("class").split()
    assert "xonloady" in classes and "=" not in groups(root)["t0"].get("class")


# --- overlays ---------------------------------------------------------------------

def test_overlay_from_findings_marks_elements_and_counts_documents(samples):
    model = read_model(load_path(next(p for p in samples if p.stem == "business_license"))[0])
    doc = SimpleNamespace(id="national_card", replaceable=True)
    findings = [
        # a dict from the panjereh.analysis/1 report
        {"kind": "paper_document", "element_id": "t_upload_id", "replaceable": True,
         "documents": [{"id": "national_card", "replaceable": True}, {"id": "birth_cert", "replaceable": True}]},
        # an object with to_json(), as bpmn.detect.Finding
        SimpleNamespace(to_json=lambda: {"kind": "paper_document", "element_id": "t_photo", "replaceable": False,
                                         "documents": [{"id": "photo", "replaceable": False}]}),
        # a plain object with attributes
        SimpleNamespace(kind="in_person_visit", element_id="t_photo", replaceable=False, documents=()),
        SimpleNamespace(kind="paper_document", element_id="nowhere", replaceable=True, documents=(doc,)),
    ]
    overlay = overlay_from_findings(findings)
    root = parse(render_svg(model, overlay=overlay))
    drawn = groups(root)
    assert "paper-replaceable" in drawn["t_upload_id"].get("class").split()
    assert {"paper", "smell"} <= set(drawn["t_photo"].get("class").split())
    assert "paper" not in drawn["t_request"].get("class").split()
    badges = {b.get("data-badge-for"): "".join(b.itertext()) for b in root.iter(f"{SVG}g")
              if "badge" in b.get("class", "").split()}
    assert badges["t_upload_id"].endswith("2")
    assert badges["t_photo"].endswith("1")
    assert "birth_cert" in drawn["t_upload_id"].find(f"{SVG}title").text
    legend = root.find(f".//{SVG}g[@class='legend']")
    text = " ".join(legend.itertext())
    assert "replaceable by an inquiry: 1 (1 not in this diagram)" in text
    assert "paper step, no inquiry available: 1" in text
    items = [g.get("class") for g in legend.iter(f"{SVG}g")]
    assert "legend-item paper-replaceable" in items


def test_overlay_from_detect_findings_marks_paper_steps(samples):
    from bpmn.detect import detect

    model = read_model(load_path(next(p for p in samples if p.stem == "vehicle_transfer"))[0])
    findings = [f for f in detect(model) if f.kind == "paper_document"]
    assert findings
    root = parse(render_svg(model, overlay=overlay_from_findings(findings, lang="fa")))
    drawn = groups(root)
    for f in findings:
        cls = drawn[f.element_id].get("class").split()
        assert ("paper-replaceable" if f.replaceable else "paper") in cls
    legend = [t for t in root.find(f".//{SVG}g[@class='legend']").iter(f"{SVG}text")]
    assert legend and all(t.get("direction") == "rtl" for t in legend)
    assert all(re.search("[۰-۹]", t.text) and not re.search("[0-9]", t.text) for t in legend)


def test_overlay_from_changes_marks_added_removed_changed():
    log = {"schema": "panjereh.redesign/1", "changes": [
        {"element_id": "t0", "action": "replace_with_inquiry", "added": ["t1", "f1"], "removed": ["gone"],
         "documents": ["national_card", "deed"], "reason": "the registry holds it"},
        {"element_id": "t2", "action": "remove_upload_fields", "added": [], "removed": []},
        "junk", {"element_id": 5, "added": "t3", "removed": [None]},
    ]}
    overlay = overlay_from_changes(log)
    assert overlay.marks["t1"].classes == ("added",)
    assert overlay.marks["gone"].classes == ("removed",)
    assert overlay.marks["t0"].classes == ("changed",) and overlay.marks["t0"].badge == "2"
    assert "t3" not in overlay.marks
    xml = BPMN_HEAD + """<bpmn:process id="P"><bpmn:task id="t0"/><bpmn:serviceTask id="t1"/><bpmn:task id="t2"/>
      <bpmn:sequenceFlow id="f1" sourceRef="t0" targetRef="t1"/></bpmn:process></bpmn:definitions>"""
    root = parse(render_svg(model_of(xml), overlay=overlay))
    drawn = groups(root)
    assert "added" in drawn["t1"].get("class").split() and "added" in drawn["f1"].get("class").split()
    assert "changed" in drawn["t2"].get("class").split()
    legend = " ".join(root.find(f".//{SVG}g[@class='legend']").itertext())
    assert "removed: 0 (1 not in this diagram)" in legend
    assert overlay_from_changes({"changes": "nope"}).marks == {}
    assert overlay_from_changes([]).marks == {}  # type: ignore[arg-type]


# --- automatic layout ---------------------------------------------------------------

def _assert_no_overlap(model: Model, svg: str) -> dict[str, Bounds]:
    drawn = boxes(model, svg)
    boundary = {n.id: n.attached_to for p in model.processes for n in p.nodes.values() if n.attached_to}
    ids = sorted(drawn)
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            if boundary.get(a) == b or boundary.get(b) == a:
                continue
            assert not drawn[a].overlaps(drawn[b]), f"{a} overlaps {b}"
    return drawn


def test_model_without_di_is_laid_out_without_overlaps():
    model = read_model(load_path(DATA / "no_di_lanes.bpmn")[0])
    assert not model.diagrams
    svg = render_svg(model)
    root = _assert_inert(svg)
    drawn = groups(root)
    proc = model.processes[0]
    top = {n.id for n in proc.nodes.values() if n.parent_id is None}
    assert top <= set(drawn) and "sp_task" not in drawn  # the sub-process is collapsed
    assert {"f1", "f_fix_back", "f_timer", "da_out", "da_in", "as1", "d_deed", "d_store", "ann"} <= set(drawn)
    assert set(proc.lanes) <= set(drawn)
    assert root.find(f"{SVG}g[@class='diagram']").get("data-auto-layout") == "P_no_di"
    bx = _assert_no_overlap(model, svg)
    # nodes sit inside their lane's band, lanes are stacked, nested lanes inside their parent
    lanes = boxes_of_lanes(root)
    for n in proc.nodes.values():
        if n.id in bx and n.lane_id and n.tag != "boundaryEvent":
            lane, b = lanes[n.lane_id], bx[n.id]
            assert lane.y <= b.y and b.y + b.height <= lane.y + lane.height, n.id
    assert lanes["L_clerk"].y <= lanes["L_front"].y and lanes["L_back"].y + lanes["L_back"].height <= \
        lanes["L_clerk"].y + lanes["L_clerk"].height + 0.5
    # left to right: a flow's target lies right of its source unless it loops back
    assert bx["t_review"].x > bx["t_upload"].x and bx["gw_ok"].x > bx["t_review"].x
    assert bx["t_issue"].x > bx["gw_join"].x > bx["t_inq_a"].x > bx["gw_split"].x
    # the boundary event sits on its host's lower edge
    host, ev = bx["sp_check"], bx["b_timer"]
    assert host.x <= ev.x + ev.width / 2 <= host.x + host.width
    assert abs(ev.y + ev.height / 2 - (host.y + host.height)) < 1
    # every sequence flow ends with an arrowhead at its target's edge
    for fid in ("f1", "f2", "f_fix_back", "f_timer"):
        assert drawn[fid].find(f"{SVG}path[@class='head']") is not None


def boxes_of_lanes(root: etree._Element) -> dict[str, Bounds]:
    out = {}
    for eid, g in groups(root).items():
        if "lane" in g.get("class").split():
            r = g.find(f"{SVG}rect")
            out[eid] = Bounds(float(r.get("x")), float(r.get("y")), float(r.get("width")), float(r.get("height")))
    return out


def test_collaboration_without_di_gets_pools_and_message_flows():
    model = read_model(load_path(DATA / "two_pools_no_di.bpmn")[0])
    svg = render_svg(model)
    drawn = groups(_assert_inert(svg))
    assert {"pool_agency", "pool_bank", "pool_citizen", "m1", "m2", "m3"} <= set(drawn)
    assert drawn["m2"].find(f"{SVG}circle[@class='head open']") is not None
    _assert_no_overlap(model, svg)
    pools = {k: v for k, v in boxes_of_pools(parse(svg)).items()}
    ordered = sorted(pools.values(), key=lambda b: b.y)
    for a, b in itertools.pairwise(ordered):
        assert a.y + a.height < b.y


def boxes_of_pools(root: etree._Element) -> dict[str, Bounds]:
    out = {}
    for eid, g in groups(root).items():
        if "pool" in g.get("class").split():
            r = g.find(f"{SVG}rect")
            out[eid] = Bounds(float(r.get("x")), float(r.get("y")), float(r.get("width")), float(r.get("height")))
    return out


def test_sample_without_di_lays_out_every_node(samples):
    path = next(p for p in samples if p.stem == "business_license")
    text = re.sub(r"<bpmndi:BPMNDiagram.*</bpmndi:BPMNDiagram>", "", path.read_text(encoding="utf-8"), flags=re.S)
    model = model_of(text, "business_license_no_di.bpmn")
    svg = render_svg(model)
    drawn = groups(parse(svg))
    proc = model.processes[0]
    assert set(proc.nodes) | set(proc.flows) | set(proc.lanes) <= set(drawn)
    _assert_no_overlap(model, svg)


def test_partial_di_lays_out_the_missing_process_below():
    xml = BPMN_HEAD + """<bpmn:collaboration id="C"><bpmn:participant id="pa" processRef="A"/>
      <bpmn:participant id="pb" name="بی" processRef="B"/></bpmn:collaboration>
      <bpmn:process id="A"><bpmn:task id="a1" name="drawn"/></bpmn:process>
      <bpmn:process id="B"><bpmn:startEvent id="b0"/><bpmn:task id="b1" name="not drawn"/>
        <bpmn:sequenceFlow id="bf" sourceRef="b0" targetRef="b1"/></bpmn:process>
      <bpmndi:BPMNDiagram id="DG"><bpmndi:BPMNPlane id="PL" bpmnElement="C">
        <bpmndi:BPMNShape id="pa_di" bpmnElement="pa" isHorizontal="true">
          <dc:Bounds x="0" y="0" width="600" height="200"/></bpmndi:BPMNShape>
        <bpmndi:BPMNShape id="a1_di" bpmnElement="a1">
          <dc:Bounds x="100" y="60" width="100" height="80"/></bpmndi:BPMNShape>
      </bpmndi:BPMNPlane></bpmndi:BPMNDiagram></bpmn:definitions>"""
    model = model_of(xml)
    svg = render_svg(model)
    root = parse(svg)
    pools = boxes_of_pools(root)
    assert pools["pa"] == Bounds(0, 0, 600, 200)
    assert pools["pb"].y > 200
    assert {"b0", "b1", "bf"} <= set(groups(root))
    assert root.find(f"{SVG}g[@class='diagram']").get("data-auto-layout") == "B"


def test_long_cycle_and_no_start_are_laid_out():
    n = 60
    tasks = "".join(f'<bpmn:task id="t{i}" name="step {i}"/>' for i in range(n))
    flows = "".join(f'<bpmn:sequenceFlow id="f{i}" sourceRef="t{i}" targetRef="t{(i + 1) % n}"/>' for i in range(n))
    model = model_of(BPMN_HEAD + f'<bpmn:process id="P">{tasks}{flows}</bpmn:process></bpmn:definitions>')
    svg = render_svg(model)
    bx = _assert_no_overlap(model, svg)
    assert len(bx) == n and len({b.x for b in bx.values()}) == n  # one column per step


def test_empty_model_gives_a_small_svg_saying_so():
    for xml in (BPMN_HEAD + "</bpmn:definitions>",
                BPMN_HEAD + '<bpmn:process id="P"/></bpmn:definitions>',
                BPMN_HEAD + '<bpmn:process id="P"/><bpmndi:BPMNDiagram id="X"/></bpmn:definitions>'):
        root = parse(render_svg(model_of(xml)))
        assert "empty model" in " ".join(root.itertext())
        assert float(root.get("width")) < 400


def test_diagram_id_picks_a_diagram_and_unknown_ids_are_refused():
    shape = ('<bpmndi:BPMNShape id="{0}_di" bpmnElement="{0}">'
             '<dc:Bounds x="{1}" y="0" width="100" height="80"/></bpmndi:BPMNShape>')
    xml = BPMN_HEAD + ('<bpmn:process id="P"><bpmn:task id="a"/><bpmn:subProcess id="s"><bpmn:task id="b"/>'
                       '</bpmn:subProcess></bpmn:process>'
                       f'<bpmndi:BPMNDiagram id="main"><bpmndi:BPMNPlane id="p1" bpmnElement="P">{shape.format("a", 0)}'
                       f'{shape.format("s", 200)}</bpmndi:BPMNPlane></bpmndi:BPMNDiagram>'
                       f'<bpmndi:BPMNDiagram id="sub"><bpmndi:BPMNPlane id="p2" bpmnElement="s">{shape.format("b", 0)}'
                       '</bpmndi:BPMNPlane></bpmndi:BPMNDiagram></bpmn:definitions>')
    model = model_of(xml)
    main = groups(parse(render_svg(model)))
    assert set(main) == {"a", "s"}
    assert main["s"].find(f".//{SVG}g[@class='glyph marker-collapsed']") is not None  # drill-down: collapsed
    assert set(groups(parse(render_svg(model, diagram_id="sub")))) == {"b"}
    with pytest.raises(ValueError, match="main, sub"):
        render_svg(model, diagram_id="nope")


def test_broken_di_numbers_huge_names_and_vertical_pools_render():
    huge = "x" * 200_000 + " " + "ب" * 50_000
    xml = BPMN_HEAD + f"""<bpmn:collaboration id="C"><bpmn:participant id="pool" name="عمودی" processRef="P"/>
      </bpmn:collaboration><bpmn:process id="P"><bpmn:task id="a" name="{huge}"/><bpmn:task id="b"/>
      <bpmn:sequenceFlow id="f" sourceRef="a" targetRef="b"/></bpmn:process>
      <bpmndi:BPMNDiagram id="DG"><bpmndi:BPMNPlane id="PL" bpmnElement="C">
        <bpmndi:BPMNShape id="p_di" bpmnElement="pool" isHorizontal="false">
          <dc:Bounds x="0" y="0" width="300" height="600"/></bpmndi:BPMNShape>
        <bpmndi:BPMNShape id="a_di" bpmnElement="a"><dc:Bounds x="NaN" y="INF" width="-100" height="80"/>
          <bpmndi:BPMNLabel><dc:Bounds x="1e999" y="0" width="1" height="1"/></bpmndi:BPMNLabel></bpmndi:BPMNShape>
        <bpmndi:BPMNShape id="b_di" bpmnElement="b">
          <dc:Bounds x="100" y="300" width="100" height="80"/></bpmndi:BPMNShape>
        <bpmndi:BPMNEdge id="f_di" bpmnElement="f"><di:waypoint x="NaN" y="0"/><di:waypoint x="150" y="100"/>
          <di:waypoint x="150" y="300"/></bpmndi:BPMNEdge>
      </bpmndi:BPMNPlane></bpmndi:BPMNDiagram></bpmn:definitions>"""
    model = model_of(xml)
    svg = render_svg(model)
    root = parse(svg)
    assert "nan" not in root.get("viewBox").lower() and "inf" not in root.get("viewBox").lower()
    drawn = groups(root)
    assert {"pool", "a", "b", "f"} <= set(drawn)
    assert len(svg) < 100_000  # a 250,000-character name is cut, not drawn
    band = drawn["pool"].findall(f"{SVG}path")[0].get("d")
    assert band == "M0,30H300"  # a vertical pool has its name band on top
    assert drawn["pool"].find(f"{SVG}text").get("direction") == "rtl"


# --- text ------------------------------------------------------------------------

def test_wrap_breaks_at_spaces_never_inside_a_zwnj_word():
    name = "درخواست\u200cهای ثبت\u200cشده می\u200cشوند بررسی\u200cکننده نهایی"
    lines = wrap(name, 60, 12)
    assert len(lines) > 1
    assert " ".join(lines) == name
    for word in name.split(" "):
        assert any(word in line for line in lines)
    long_id = "Activity_0x9f8e7d6c5b4a3f2e1d0c"
    parts = wrap(long_id, 60, 12)
    assert len(parts) > 1 and "".join(parts) == long_id
    assert all(text_width(p, 12) <= 60 for p in parts)
    cut = wrap("one two three four five six seven eight nine ten", 40, 12, max_lines=2)
    assert len(cut) == 2 and cut[-1].endswith("…")


def test_direction_follows_the_first_strong_character():
    assert is_rtl("بررسی مدارک")
    assert is_rtl("۱۲ بررسی PDF")
    assert not is_rtl("PDF بررسی")
    assert not is_rtl("12 ...")
    assert not is_rtl("")


# --- size ------------------------------------------------------------------------

def test_a_500_activity_model_renders_every_element():
    """Speed is measured by bench/redesign.py; here: a large model is drawn whole."""
    sys.path.insert(0, str(REPO / "bench"))
    try:
        from modelgen import generate
    finally:
        sys.path.pop(0)
    model = read_model(load_bytes(generate(500), "gen500.bpmn"))
    drawn = groups(parse(render_svg(model)))
    assert {f"t{i}" for i in range(500)} <= set(drawn)


# --- the shared corpus -----------------------------------------------------------

def _layout_overlaps(model: Model) -> list[tuple[str, str]]:
    """Pairs of automatically placed flow nodes / data that share area."""
    from bpmn import autolayout
    from bpmn.canvas import Index

    index = Index(model)
    diagram = next((d for d in model.diagrams if d.shapes), None)
    auto = autolayout.layout_missing(model, index.element, dict(diagram.shapes) if diagram else {},
                                     dict(diagram.edges) if diagram else {})
    boundary = {n.id: n.attached_to for p in model.processes for n in p.nodes.values() if n.attached_to}
    placed = [(k, s.bounds) for k, s in auto.shapes.items()
              if index.tag.get(k) not in ("participant", "lane", "process")]
    placed.sort(key=lambda kb: kb[1].x)
    bad = []
    for i, (a, ba) in enumerate(placed):
        for b, bb in placed[i + 1:]:
            if bb.x >= ba.x + ba.width:
                break
            if ba.overlaps(bb) and boundary.get(a) != b and boundary.get(b) != a:
                bad.append((a, b))
    return bad


def test_corpus_models_without_di_lay_out_without_overlaps(shared):
    folder = shared / "corpus" / "betsy" / "pebl-builder" / "src" / "main" / "resources" / "files" / "bpmn"
    paths = sorted(folder.glob("*/*.bpmn"))
    without_di = [p for p in paths if b"BPMNDiagram" not in p.read_bytes()]
    assert len(without_di) >= 20
    for path in without_di:
        model = read_model(load_path(path)[0])
        assert _layout_overlaps(model) == [], path.name
        root = parse(render_svg(model))
        drawn = groups(root)
        for p in model.processes:
            assert {k for k, n in p.nodes.items() if n.parent_id is None and k == n.id} <= set(drawn), path.name


@pytest.mark.corpus
def test_every_loadable_corpus_file_renders(shared, capsys):
    from bpmn.errors import LoadError
    from bpmn.load import iter_model_paths

    counts = {"di": 0, "auto": 0, "mixed": 0, "empty": 0, "refused": 0}
    overlapping = []
    for path in iter_model_paths(shared / "corpus"):
        try:
            sources = load_path(path)
        except LoadError:
            counts["refused"] += 1
            continue
        for src in sources:
            model = read_model(src)
            svg = render_svg(model)
            root = parse(svg)
            assert "<script" not in svg and "foreignObject" not in svg
            content = root.find(f"{SVG}g[@class='diagram']")
            if content is None:
                counts["empty"] += 1
            elif content.get("data-auto-layout"):
                counts["mixed" if any(d.shapes for d in model.diagrams) else "auto"] += 1
                if _layout_overlaps(model):
                    overlapping.append(src.name)
            else:
                counts["di"] += 1
    with capsys.disabled():
        print(f"\ncorpus render: {counts}")
    assert overlapping == []
    assert counts["di"] > 1000 and counts["auto"] > 500
