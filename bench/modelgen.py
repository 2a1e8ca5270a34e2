"""Generated BPMN models of any size, for benchmarks.

``generate(n, paper_every=5)`` returns the bytes of a valid, executable model
with ``n`` activities in a chain across an applicant lane and a clerk lane,
with BPMNDI, where every ``paper_every``-th activity asks the applicant for a
document (by name, by form upload field or by documentation, in turn).
Exclusive gateways with conditions every 10 activities make it less trivial.

``realistic=True`` makes the model look like one a modeller drew, for
benchmarks that rewrite it (the redesign): edges get real orthogonal
waypoints instead of placeholders, and the start event's form asks for the
national code and birth date, as a registration step would. The default
output is unchanged byte for byte.
"""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

PAPER_NAMES = (
    ("manualTask", "ارائه اصل و تصویر شناسنامه و کارت ملی", ""),
    ("userTask", "بارگذاری مدارک تحصیلی", ""),
    ("task", "ثبت اطلاعات ملک", "مدارک لازم: اصل سند مالکیت تک برگ"),
    ("manualTask", "Submit a certified copy of the birth certificate", ""),
    ("userTask", "ارائه گواهی عدم سوء پیشینه", ""),
)
PLAIN_NAMES = (
    ("userTask", "بررسی مدارک توسط کارشناس"),
    ("userTask", "ثبت درخواست در سامانه"),
    ("sendTask", "ارسال پیامک به متقاضی"),
    ("userTask", "پرداخت هزینه"),
    ("userTask", "تایید مدیر"),
)


def _route(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> str:
    """Orthogonal waypoints from the right side of ``a`` to the left side of ``b``."""
    x1, y1 = a[0] + a[2], a[1] + a[3] // 2
    x2, y2 = b[0], b[1] + b[3] // 2
    if b[1] > a[1] + a[3]:  # below: leave downwards, enter from the left
        x1, y1 = a[0] + a[2] // 2, a[1] + a[3]
        pts = [(x1, y1), (x1, y2), (x2, y2)]
    elif y1 == y2:
        pts = [(x1, y1), (x2, y2)]
    else:
        mid = (x1 + x2) // 2
        pts = [(x1, y1), (mid, y1), (mid, y2), (x2, y2)]
    return "".join(f'<di:waypoint x="{x}" y="{y}"/>' for x, y in pts)


_REGISTRATION_FORM = (
    "<bpmn:extensionElements><camunda:formData>"
    '<camunda:formField id="national_code" label="کد ملی" type="string"/>'
    '<camunda:formField id="birth_date" label="تاریخ تولد" type="string"/>'
    "</camunda:formData></bpmn:extensionElements>"
)


def generate(n: int, paper_every: int = 5, *, realistic: bool = False) -> bytes:
    """A model with ``n`` activities; one in ``paper_every`` asks for paper (see the module doc for ``realistic``)."""
    nodes: list[str] = []
    flows: list[str] = []
    shapes: list[str] = []
    edges: list[str] = []
    lane_a: list[str] = ["start"]
    lane_c: list[str] = []
    x = 100
    prev = "start"
    shapes.append(
        '<bpmndi:BPMNShape id="start_di" bpmnElement="start"><dc:Bounds x="40" y="82" width="36" height="36"/></bpmndi:BPMNShape>'
    )
    form = _REGISTRATION_FORM if realistic else ""
    nodes.append(f'<bpmn:startEvent id="start">{form}<bpmn:outgoing>f_start</bpmn:outgoing></bpmn:startEvent>')
    pending_flow = "f_start"
    fcount = 0
    drawn: list[tuple[str, str, str]] = []

    def flow(src: str, dst: str, fid: str, cond: str | None = None) -> None:
        body = (
            f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{cond}</bpmn:conditionExpression>'
            if cond
            else ""
        )
        flows.append(f'<bpmn:sequenceFlow id="{fid}" sourceRef="{src}" targetRef="{dst}">{body}</bpmn:sequenceFlow>')
        drawn.append((fid, src, dst))

    for i in range(n):
        tid = f"t{i}"
        paper = i % paper_every == 0
        if paper:
            tag, name, doc = PAPER_NAMES[(i // paper_every) % len(PAPER_NAMES)]
        else:
            tag, name = PLAIN_NAMES[i % len(PLAIN_NAMES)]
            doc = ""
        in_applicant = paper or tag == "sendTask"
        (lane_a if in_applicant else lane_c).append(tid)
        y = 60 if in_applicant else 260
        docs = f"<bpmn:documentation>{doc}</bpmn:documentation>" if doc else ""
        nodes.append(
            f'<bpmn:{tag} id="{tid}" name={quoteattr(name)}>{docs}'
            f"<bpmn:incoming>{pending_flow}</bpmn:incoming><bpmn:outgoing>f{i}</bpmn:outgoing></bpmn:{tag}>"
        )
        flow(prev, tid, pending_flow)
        shapes.append(
            f'<bpmndi:BPMNShape id="{tid}_di" bpmnElement="{tid}"><dc:Bounds x="{x}" y="{y}" width="100" height="80"/></bpmndi:BPMNShape>'
        )
        x += 150
        prev = tid
        pending_flow = f"f{i}"
        if i % 10 == 9 and i < n - 1:
            gw = f"gw{i}"
            fcount += 1
            nodes.append(
                f'<bpmn:exclusiveGateway id="{gw}" default="fd{i}"><bpmn:incoming>{pending_flow}</bpmn:incoming>'
                f"<bpmn:outgoing>fd{i}</bpmn:outgoing><bpmn:outgoing>fc{i}</bpmn:outgoing></bpmn:exclusiveGateway>"
            )
            lane_c.append(gw)
            flow(prev, gw, pending_flow)
            shapes.append(
                f'<bpmndi:BPMNShape id="{gw}_di" bpmnElement="{gw}"><dc:Bounds x="{x}" y="275" width="50" height="50"/></bpmndi:BPMNShape>'
            )
            x += 100
            end = f"end_c{i}"
            nodes.append(f'<bpmn:endEvent id="{end}"><bpmn:incoming>fc{i}</bpmn:incoming></bpmn:endEvent>')
            lane_c.append(end)
            flow(gw, end, f"fc{i}", "rejected == True")
            shapes.append(
                f'<bpmndi:BPMNShape id="{end}_di" bpmnElement="{end}"><dc:Bounds x="{x}" y="400" width="36" height="36"/></bpmndi:BPMNShape>'
            )
            prev = gw
            pending_flow = f"fd{i}"
    nodes.append(f'<bpmn:endEvent id="end"><bpmn:incoming>{pending_flow}</bpmn:incoming></bpmn:endEvent>')
    lane_c.append("end")
    flow(prev, "end", pending_flow)
    shapes.append(
        f'<bpmndi:BPMNShape id="end_di" bpmnElement="end"><dc:Bounds x="{x}" y="282" width="36" height="36"/></bpmndi:BPMNShape>'
    )
    width = x + 100
    bounds: dict[str, tuple[int, int, int, int]] = {}
    for shape in shapes:
        ref = shape.split('bpmnElement="', 1)[1].split('"', 1)[0]
        nums = [int(shape.split(f' {k}="', 1)[1].split('"', 1)[0]) for k in ("x", "y", "width", "height")]
        bounds[ref] = (nums[0], nums[1], nums[2], nums[3])
    for fid, src, dst in drawn:
        points = (
            _route(bounds[src], bounds[dst]) if realistic else '<di:waypoint x="0" y="0"/><di:waypoint x="1" y="1"/>'
        )
        edges.append(f'<bpmndi:BPMNEdge id="{fid}_di" bpmnElement="{fid}">{points}</bpmndi:BPMNEdge>')

    def lane(lid: str, name: str, refs: list[str]) -> str:
        return (
            f'<bpmn:lane id="{lid}" name="{name}">'
            + "".join(f"<bpmn:flowNodeRef>{r}</bpmn:flowNodeRef>" for r in refs)
            + "</bpmn:lane>"
        )

    shapes.insert(
        0,
        f'<bpmndi:BPMNShape id="pool_di" bpmnElement="pool" isHorizontal="true"><dc:Bounds x="0" y="0" width="{width}" height="480"/></bpmndi:BPMNShape>',
    )
    shapes.insert(
        1,
        f'<bpmndi:BPMNShape id="lane_a_di" bpmnElement="lane_a" isHorizontal="true"><dc:Bounds x="30" y="0" width="{width - 30}" height="200"/></bpmndi:BPMNShape>',
    )
    shapes.insert(
        2,
        f'<bpmndi:BPMNShape id="lane_c_di" bpmnElement="lane_c" isHorizontal="true"><dc:Bounds x="30" y="200" width="{width - 30}" height="280"/></bpmndi:BPMNShape>',
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" '
        'xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        + ('xmlns:camunda="http://camunda.org/schema/1.0/bpmn" ' if realistic else "")
        + 'id="defs_gen" targetNamespace="http://panjereh.example/gen">'
        '<bpmn:collaboration id="collab"><bpmn:participant id="pool" name="سازمان نمونه" processRef="gen"/></bpmn:collaboration>'
        f'<bpmn:process id="gen" name="generated {n}" isExecutable="true">'
        '<bpmn:laneSet id="ls">'
        + lane("lane_a", "متقاضی", lane_a)
        + lane("lane_c", "کارشناس", lane_c)
        + "</bpmn:laneSet>"
        + "".join(nodes)
        + "".join(flows)
        + "</bpmn:process>"
        '<bpmndi:BPMNDiagram id="diagram"><bpmndi:BPMNPlane id="plane" bpmnElement="collab">'
        + "".join(shapes)
        + "".join(edges)
        + "</bpmndi:BPMNPlane></bpmndi:BPMNDiagram></bpmn:definitions>"
    ).encode("utf-8")


if __name__ == "__main__":
    import sys

    sys.stdout.buffer.write(generate(int(sys.argv[1]) if len(sys.argv) > 1 else 100))
