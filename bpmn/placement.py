"""Where new shapes go in an existing diagram, and how their edges run.

A redesign adds inquiries, gateways and fallback steps to a diagram people
have already arranged. Nothing they drew may move, so new shapes go into free
space: :class:`Canvas` holds every existing shape (and label) as an obstacle
and :meth:`Canvas.place` finds the free rectangle of a given size closest to
an ideal point inside a region (a lane, a pool, a sub-process). The search
runs over horizontal bands: for each candidate top edge, the obstacles in the
band leave free intervals along x, and the best position in each interval is
found at once, so placing stays cheap on models with thousands of shapes.

Edges are orthogonal polylines between side midpoints. :meth:`Canvas.route`
tries the few usual shapes (straight, Z, L, detours above or below) and keeps
the one crossing the fewest shapes, then the shortest. :func:`reconnect_end`
and :func:`reconnect_start` bend an existing edge to a new target or source
while keeping every waypoint they can.

This module knows nothing of BPMN: rectangles in, rectangles and points out.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Sequence

from bpmn.model import Bounds

Point = tuple[float, float]

MARGIN = 15.0    # clear space kept around every existing shape
INSET = 10.0     # clear space kept inside the border of the region
Y_WEIGHT = 3.0   # a step up or down costs this much more than one sideways: rows stay rows
_STEP = 5.0


def center(b: Bounds) -> Point:
    """The middle of a rectangle."""
    return (b.x + b.width / 2, b.y + b.height / 2)


def port(b: Bounds, side: str) -> Point:
    """The midpoint of one side (``left``, ``right``, ``top``, ``bottom``) of a rectangle."""
    cx, cy = center(b)
    return {"left": (b.x, cy), "right": (b.x + b.width, cy),
            "top": (cx, b.y), "bottom": (cx, b.y + b.height)}[side]


def inflate(b: Bounds, d: float) -> Bounds:
    """The rectangle grown by ``d`` on every side."""
    return Bounds(b.x - d, b.y - d, b.width + 2 * d, b.height + 2 * d)


def _contains(b: Bounds, p: Point, tol: float = 0.5) -> bool:
    return b.x - tol <= p[0] <= b.x + b.width + tol and b.y - tol <= p[1] <= b.y + b.height + tol


def _inside(b: Bounds, p: Point) -> bool:
    return b.x + 1 < p[0] < b.x + b.width - 1 and b.y + 1 < p[1] < b.y + b.height - 1


def on_border(b: Bounds, p: Point, tol: float = 1.0) -> bool:
    if not _contains(b, p, tol):
        return False
    return (abs(p[0] - b.x) <= tol or abs(p[0] - b.x - b.width) <= tol
            or abs(p[1] - b.y) <= tol or abs(p[1] - b.y - b.height) <= tol)


def _segment_hits(a: Point, b: Point, r: Bounds) -> bool:
    """Whether an axis-parallel segment passes through the inside of a rectangle."""
    x0, x1 = sorted((a[0], b[0]))
    y0, y1 = sorted((a[1], b[1]))
    return x0 < r.x + r.width - 1 and x1 > r.x + 1 and y0 < r.y + r.height - 1 and y1 > r.y + 1


def _simplify(points: Sequence[Point]) -> list[Point]:
    """Drop repeated points and points in the middle of a straight run."""
    out: list[Point] = []
    for p in points:
        p = (round(p[0], 1), round(p[1], 1))
        if out and abs(out[-1][0] - p[0]) < 0.05 and abs(out[-1][1] - p[1]) < 0.05:
            continue
        if len(out) >= 2:
            a, b = out[-2], out[-1]
            if (abs(a[0] - b[0]) < 0.05 and abs(b[0] - p[0]) < 0.05) or \
               (abs(a[1] - b[1]) < 0.05 and abs(b[1] - p[1]) < 0.05):
                out[-1] = p
                continue
        out.append(p)
    return out


def _length(points: Sequence[Point]) -> float:
    return sum(abs(a[0] - b[0]) + abs(a[1] - b[1]) for a, b in itertools.pairwise(points))


class Canvas:
    """The obstacles of one diagram plane, kept sorted by x for quick neighbourhood queries."""

    def __init__(self, obstacles: Iterable[tuple[Bounds, str | None]] = ()) -> None:
        self._xs: list[float] = []
        self._items: list[tuple[float, int, Bounds, str | None]] = []
        self._max_width = 0.0
        self._serial = 0
        for b, key in obstacles:
            self.add(b, key)

    def add(self, b: Bounds, key: str | None = None) -> None:
        """Make ``b`` an obstacle; ``key`` (an element id) lets a caller ignore it later."""
        self._serial += 1
        item = (b.x, self._serial, b, key)
        index = bisect_right(self._items, (b.x, self._serial))
        self._items.insert(index, item)
        insort(self._xs, b.x)
        self._max_width = max(self._max_width, b.width)

    def near(self, x0: float, x1: float, exclude: frozenset[str] = frozenset()) -> list[Bounds]:
        """Obstacles whose x-extent meets ``[x0, x1]``."""
        lo = bisect_left(self._xs, x0 - self._max_width - 1)
        hi = bisect_right(self._xs, x1)
        return [b for _x, _n, b, key in self._items[lo:hi]
                if b.x + b.width >= x0 and (key is None or key not in exclude)]

    def is_free(self, b: Bounds, margin: float = 0.0, exclude: frozenset[str] = frozenset()) -> bool:
        """Whether ``b`` grown by ``margin`` meets no obstacle."""
        g = inflate(b, margin)
        return not any(g.overlaps(o) for o in self.near(g.x, g.x + g.width, exclude))

    # -- placing ---------------------------------------------------------------

    def place(self, width: float, height: float, region: Bounds, ideal: Point, *,
              min_x: float | None = None, left_inset: float = INSET, margin: float = MARGIN,
              exclude: frozenset[str] = frozenset(), y_weight: float = Y_WEIGHT) -> Bounds | None:
        """The free ``width`` × ``height`` rectangle inside ``region`` whose centre is closest to ``ideal``.

        ``min_x`` keeps the rectangle's left edge at or right of a line (a chain
        of steps reads left to right). None when the region has no room.
        """
        lo_x = region.x + left_inset
        hi_x = region.x + region.width - INSET
        if min_x is not None:
            lo_x = max(lo_x, min_x)
        lo_y = region.y + INSET
        hi_y = region.y + region.height - INSET - height
        if hi_x - lo_x < width or hi_y < lo_y:
            return None
        ideal_top = min(max(ideal[1] - height / 2, lo_y), hi_y)
        ys = [ideal_top]
        k = 1
        while True:
            up, down = ideal_top - k * _STEP, ideal_top + k * _STEP
            if up < lo_y and down > hi_y:
                break
            if down <= hi_y:
                ys.append(down)
            if up >= lo_y:
                ys.append(up)
            k += 1
        if ys[-1] not in (lo_y, hi_y):
            ys.extend(v for v in (lo_y, hi_y) if v not in ys)
        ys.sort(key=lambda y: abs(y - (ideal[1] - height / 2)))
        radius = max(600.0, 4 * width)
        while True:
            xa, xb = max(lo_x, ideal[0] - radius), min(hi_x, ideal[0] + radius)
            found = self._scan(width, height, ys, xa, xb, ideal, margin, exclude, y_weight)
            if found is not None or (xa <= lo_x and xb >= hi_x):
                return found
            radius *= 4

    def _scan(self, width: float, height: float, ys: list[float], xa: float, xb: float, ideal: Point,
              margin: float, exclude: frozenset[str], y_weight: float) -> Bounds | None:
        nearby = self.near(xa - margin, xb + margin, exclude)
        best: tuple[float, float, float] | None = None
        for y in ys:
            dy = abs(y + height / 2 - ideal[1])
            if best is not None and y_weight * dy >= best[0]:
                break
            top, bottom = y - margin, y + height + margin
            blocks = sorted((o.x - margin, o.x + o.width + margin) for o in nearby
                            if o.y < bottom and o.y + o.height > top)
            cursor = xa
            gaps: list[tuple[float, float]] = []
            for b0, b1 in blocks:
                if b0 > cursor:
                    gaps.append((cursor, min(b0, xb)))
                cursor = max(cursor, b1)
                if cursor >= xb:
                    break
            if cursor < xb:
                gaps.append((cursor, xb))
            for g0, g1 in gaps:
                if g1 - g0 < width:
                    continue
                x = min(max(ideal[0] - width / 2, g0), g1 - width)
                cost = abs(x + width / 2 - ideal[0]) + y_weight * dy
                if best is None or cost < best[0]:
                    best = (cost, x, y)
        if best is None:
            return None
        return Bounds(round(best[1]), round(best[2]), width, height)

    # -- routing ---------------------------------------------------------------

    def crossings(self, points: Sequence[Point], exclude: frozenset[str] = frozenset()) -> int:
        """How many obstacles the polyline passes through.

        A leg that starts or ends on a shape's border does not count as
        passing through it, so an edge's own ends need no special case.
        """
        count = 0
        for a, b in itertools.pairwise(points):
            x0, x1 = sorted((a[0], b[0]))
            y0, y1 = sorted((a[1], b[1]))
            for o in self.near(x0, x1, exclude):
                # A shape holding an end of the leg is a container (a sub-process), not in the way.
                if o.y < y1 and o.y + o.height > y0 and _segment_hits(a, b, o) \
                        and not _inside(o, a) and not _inside(o, b):
                    count += 1
        return count

    def best_route(self, candidates: Iterable[tuple[Sequence[Point], float]],
                   exclude: frozenset[str] = frozenset()) -> list[Point]:
        """The candidate polyline crossing the fewest obstacles, then with fewest bends, then shortest.

        Each candidate comes with a penalty (a less natural side). Candidates are
        judged cheapest-first, and crossings (the costly part) are counted only
        while a candidate could still win.
        """
        scored = []
        for cand, penalty in candidates:
            if len(cand) >= 2:
                # raw points: the candidates are built without needless bends, so counting them is fair
                scored.append((penalty + 25 * (len(cand) - 2) + _length(cand), cand))
        assert scored, "route candidates were empty"
        scored.sort(key=lambda item: item[0])
        best_cost, best = float("inf"), scored[0][1]
        for base, pts in scored:
            if base >= best_cost:
                break
            cost = base + 10_000 * self.crossings(pts, exclude)
            if cost < best_cost:
                best_cost, best = cost, pts
        return _simplify(best)

    def route(self, src: Bounds, dst: Bounds, *, from_side: str | None = None,
              exclude: frozenset[str] = frozenset()) -> list[Point]:
        """An orthogonal edge from ``src`` to ``dst`` (``from_side`` forces the side it leaves by)."""
        sx, sy = center(src)
        dx, dy = center(dst)
        cands: list[tuple[list[Point], float]] = []
        # Flows read left to right: leaving by the side that faces the target is preferred,
        # and the side facing away is not tried at all.
        if dst.x >= src.x + src.width + 10:
            natural = "right"
        elif dst.x + dst.width <= src.x - 10:
            natural = "left"
        else:
            natural = "bottom" if dy > sy else "top"
        away = {"right": "left", "left": "right", "top": "bottom", "bottom": "top"}[natural]
        sides = [from_side] if from_side else [s for s in ("right", "bottom", "top", "left") if s != away]
        for side in sides:
            p = port(src, side)
            penalty = 0.0 if from_side or side == natural else 80.0

            def add(points: list[Point], penalty: float = penalty) -> None:
                cands.append((points, penalty))

            if side in ("right", "left"):
                going_right = side == "right"
                if (dst.x >= p[0] + 10) if going_right else (dst.x + dst.width <= p[0] - 10):
                    q = port(dst, "left" if going_right else "right")
                    mx = (p[0] + q[0]) / 2
                    add([p, (mx, p[1]), (mx, q[1]), q])
                    add([p, (dx, p[1]), port(dst, "top" if dst.y > p[1] else "bottom")])
                for detour in (min(src.y, dst.y) - 25, max(src.y + src.height, dst.y + dst.height) + 25):
                    q = port(dst, "top" if detour < dst.y else "bottom")
                    out = p[0] + (20 if going_right else -20)
                    add([p, (out, p[1]), (out, detour), (dx, detour), q])
            else:
                down = side == "bottom"
                if (dst.y >= p[1] + 10) if down else (dst.y + dst.height <= p[1] - 10):
                    q = port(dst, "top" if down else "bottom")
                    my = (p[1] + q[1]) / 2
                    add([p, (p[0], my), (q[0], my), q])
                    target_side = "left" if dst.x > sx else "right"
                    add([p, (p[0], dy), port(dst, target_side)])
                else:
                    # leave vertically, then turn into the target's near vertical side ...
                    far = max(p[1], dst.y + dst.height) + 20 if down else min(p[1], dst.y) - 20
                    q = port(dst, "bottom" if down else "top")
                    add([p, (p[0], far), (q[0], far), q])
                    # ... or come back to its left or right side
                    out = p[1] + (20 if down else -20)
                    q = port(dst, "left" if dst.x > sx else "right")
                    add([p, (p[0], out), (q[0] + (-20 if dst.x > sx else 20), out),
                                  (q[0] + (-20 if dst.x > sx else 20), q[1]), q])
                    add([p, (p[0], dy), q])
        # Detours above and below whatever stands between the two shapes.
        x0, x1 = min(sx, dx), max(sx, dx)
        top, bottom = min(src.y, dst.y), max(src.y + src.height, dst.y + dst.height)
        blockers = [o for o in self.near(x0, x1, exclude)
                    if o.y < bottom + 40 and o.y + o.height > top - 40 and o != src and o != dst]
        if blockers and natural in ("right", "left"):
            p = port(src, natural)
            out = p[0] + (20 if natural == "right" else -20)
            for detour in (min(o.y for o in blockers) - 20, max(o.y + o.height for o in blockers) + 20):
                q = port(dst, "top" if detour < dst.y else "bottom")
                cands.append(([p, (out, p[1]), (out, detour), (dx, detour), q], 0.0))
        return self.best_route(cands, exclude)

    def reconnect_end(self, points: Sequence[Point], dst: Bounds,
                      exclude: frozenset[str] = frozenset()) -> list[Point]:
        """An existing edge led to a new target: keep its waypoints, bend its last leg to ``dst``."""
        pts = list(points)
        if len(pts) >= 2 and on_border(dst, pts[-1]):
            return pts
        return self._reconnect(pts, dst, exclude)

    def reconnect_start(self, points: Sequence[Point], src: Bounds,
                        exclude: frozenset[str] = frozenset()) -> list[Point]:
        """An existing edge starts from a new source: keep its waypoints, bend its first leg from ``src``."""
        pts = list(points)
        if len(pts) >= 2 and on_border(src, pts[0]):
            return pts
        return list(reversed(self._reconnect(list(reversed(pts)), src, exclude)))

    def _reconnect(self, pts: list[Point], dst: Bounds, exclude: frozenset[str]) -> list[Point]:
        if len(pts) < 2:
            return pts
        # Drop trailing points that now lie inside the new end shape, then join the last one.
        keep = pts[:-1]
        while len(keep) > 1 and _contains(dst, keep[-1]):
            keep.pop()
        q = keep[-1]
        cx, cy = center(dst)
        cands: list[list[Point]] = []
        if dst.y <= q[1] <= dst.y + dst.height:
            side = "left" if q[0] < dst.x else "right"
            cands.append([*keep, (dst.x if side == "left" else dst.x + dst.width, q[1])])
        if dst.x <= q[0] <= dst.x + dst.width:
            side_y = dst.y if q[1] < dst.y else dst.y + dst.height
            cands.append([*keep, (q[0], side_y)])
        # L-shapes and Z-shapes into each side
        for side in ("left", "right", "top", "bottom"):
            p = port(dst, side)
            if side in ("left", "right"):
                cands.append([*keep, (q[0], p[1]), p])
                mx = p[0] - 20 if side == "left" else p[0] + 20
                cands.append([*keep, (mx, q[1]), (mx, p[1]), p])
            else:
                cands.append([*keep, (p[0], q[1]), p])
                my = p[1] - 20 if side == "top" else p[1] + 20
                cands.append([*keep, (q[0], my), (p[0], my), p])
        del cx, cy
        # the kept waypoints may not be orthogonal; only the new legs are judged
        return self.best_route([(c, 0.0) for c in cands], exclude)


def union(boxes: Iterable[Bounds]) -> Bounds | None:
    """The smallest rectangle holding every box (None for none)."""
    items = list(boxes)
    if not items:
        return None
    x0 = min(b.x for b in items)
    y0 = min(b.y for b in items)
    x1 = max(b.x + b.width for b in items)
    y1 = max(b.y + b.height for b in items)
    return Bounds(x0, y0, x1 - x0, y1 - y0)
