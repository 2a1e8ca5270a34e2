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
import math
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Sequence
from operator import itemgetter

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
    if side == "left":
        return (b.x, b.y + b.height / 2)
    if side == "right":
        return (b.x + b.width, b.y + b.height / 2)
    if side == "top":
        return (b.x + b.width / 2, b.y)
    if side == "bottom":
        return (b.x + b.width / 2, b.y + b.height)
    raise KeyError(side)


def inflate(b: Bounds, d: float) -> Bounds:
    """The rectangle grown by ``d`` on every side."""
    return Bounds(b.x - d, b.y - d, b.width + 2 * d, b.height + 2 * d)


def _contains(b: Bounds, p: Point, tol: float = 0.5) -> bool:
    return b.x - tol <= p[0] <= b.x + b.width + tol and b.y - tol <= p[1] <= b.y + b.height + tol


def on_border(b: Bounds, p: Point, tol: float = 1.0) -> bool:
    if not _contains(b, p, tol):
        return False
    return (abs(p[0] - b.x) <= tol or abs(p[0] - b.x - b.width) <= tol
            or abs(p[1] - b.y) <= tol or abs(p[1] - b.y - b.height) <= tol)


def _simplify(points: Sequence[Point]) -> list[Point]:
    """Drop repeated points and points in the middle of a straight run."""
    out: list[Point] = []
    for p in points:
        x, y = round(p[0], 1), round(p[1], 1)
        if out:
            bx, by = out[-1]
            if abs(bx - x) < 0.05 and abs(by - y) < 0.05:
                continue
            if len(out) >= 2:
                ax, ay = out[-2]
                if (abs(ax - bx) < 0.05 and abs(bx - x) < 0.05) or (abs(ay - by) < 0.05 and abs(by - y) < 0.05):
                    out[-1] = (x, y)
                    continue
        out.append((x, y))
    return out


def _length(points: Sequence[Point]) -> float:
    return sum([abs(ax - bx) + abs(ay - by) for (ax, ay), (bx, by) in itertools.pairwise(points)])


class Canvas:
    """The obstacles of one diagram plane, kept sorted by x for quick neighbourhood queries."""

    def __init__(self, obstacles: Iterable[tuple[Bounds, str | None]] = ()) -> None:
        self._xs: list[float] = []
        self._items: list[tuple[float, int, Bounds, str | None]] = []
        # The same obstacles in the same order as plain numbers (x, y, right, bottom, key, bounds):
        # the queries below run for every candidate of every edge, and tuple unpacking is much
        # cheaper than reading dataclass attributes.
        self._boxes: list[tuple[float, float, float, float, str | None, Bounds]] = []
        # And their insides (a pixel in from each side), for the crossing test.
        self._insides: list[tuple[float, float, float, float, str | None]] = []
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
        self._boxes.insert(index, (b.x, b.y, b.x + b.width, b.y + b.height, key, b))
        self._insides.insert(index, (b.x + 1, b.y + 1, b.x + b.width - 1, b.y + b.height - 1, key))
        insort(self._xs, b.x)
        self._max_width = max(self._max_width, b.width)

    def _near(self, x0: float, x1: float,
              exclude: frozenset[str]) -> list[tuple[float, float, float, float, str | None, Bounds]]:
        """:meth:`near` as the plain-number boxes."""
        lo = bisect_left(self._xs, x0 - self._max_width - 1)
        hi = bisect_right(self._xs, x1)
        if not exclude:
            return [box for box in self._boxes[lo:hi] if box[2] >= x0]
        return [box for box in self._boxes[lo:hi] if box[2] >= x0 and (box[4] is None or box[4] not in exclude)]

    def near(self, x0: float, x1: float, exclude: frozenset[str] = frozenset()) -> list[Bounds]:
        """Obstacles whose x-extent meets ``[x0, x1]``."""
        return [box[5] for box in self._near(x0, x1, exclude)]

    def boxes_near(self, x0: float, x1: float, exclude: frozenset[str] = frozenset()
                   ) -> list[tuple[float, float, float, float, str | None, Bounds]]:
        """:meth:`near` as (left, top, right, bottom, key, obstacle): cheaper to test in a loop."""
        return self._near(x0, x1, exclude)

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
        centre = ideal[1] - height / 2
        ys.sort(key=lambda y: abs(y - centre))
        radius = max(600.0, 4 * width)
        while True:
            xa, xb = max(lo_x, ideal[0] - radius), min(hi_x, ideal[0] + radius)
            found = self._scan(width, height, ys, xa, xb, ideal, margin, exclude, y_weight)
            if found is not None or (xa <= lo_x and xb >= hi_x):
                return found
            radius *= 4

    def _scan(self, width: float, height: float, ys: list[float], xa: float, xb: float, ideal: Point,
              margin: float, exclude: frozenset[str], y_weight: float) -> Bounds | None:
        nearby = [(x - margin, right + margin, y, bottom)
                  for x, y, right, bottom, _key, _b in self._near(xa - margin, xb + margin, exclude)]
        # Each band's blocks are wanted sorted by (left, right): sorting all of them once and
        # filtering per band gives the same lists (a stable sort on the same key), unless a
        # NaN (a broken drawing) makes the order depend on the input; then sort per band.
        presorted = all(b0 == b0 and b1 == b1 for b0, b1, _y, _y1 in nearby)
        if presorted:
            nearby.sort(key=itemgetter(0, 1))
        best: tuple[float, float, float] | None = None
        # One pass per band: each gap between the band's blocks is judged as soon as it is
        # found (min() and max() written out as the comparisons they make: this is hot).
        ix, iy, half, half_h = ideal[0], ideal[1], width / 2, height / 2
        # A block at xb in every band: the gap after a band's last block is judged like any other.
        band_end = ((xb, xb, -math.inf, math.inf),)
        left = ix - half
        best_cost = 0.0
        for y in ys:
            wy = y_weight * abs(y + half_h - iy)
            if best is not None and wy >= best_cost:
                break
            top, bottom = y - margin, y + height + margin
            blocks = nearby if presorted else sorted(b for b in nearby if b[2] < bottom and b[3] > top)
            cursor = xa
            for b0, b1, oy, oy1 in itertools.chain(blocks, band_end):
                if oy < bottom and oy1 > top:
                    if b0 > cursor:
                        g1 = xb if xb < b0 else b0
                        if not g1 - cursor < width:
                            x = cursor if cursor > left else left
                            if g1 - width < x:
                                x = g1 - width
                            cost = abs(x + half - ix) + wy
                            if best is None or cost < best_cost:
                                best, best_cost = (cost, x, y), cost
                    if b1 > cursor:
                        cursor = b1
                    if cursor >= xb:
                        break
        if best is None:
            return None
        return Bounds(round(best[1]), round(best[2]), width, height)

    # -- routing ---------------------------------------------------------------

    def crossings(self, points: Sequence[Point], exclude: frozenset[str] = frozenset()) -> int:
        """How many obstacles the polyline passes through.

        A leg that starts or ends on a shape's border does not count as
        passing through it, so an edge's own ends need no special case.
        """
        return self._crossings(points, exclude)

    def _crossings(self, points: Sequence[Point], exclude: frozenset[str], base: float = 0.0,
                   bound: float = float("inf")) -> int:
        """:meth:`crossings`, except that counting stops once ``base + 10_000 * count`` reaches ``bound``
        (:meth:`best_route` only needs to know that a candidate lost)."""
        count = 0
        xs, insides, reach = self._xs, self._insides, self._max_width + 1
        for a, b in itertools.pairwise(points):
            ax, ay = a
            bx, by = b
            x0, x1 = (bx, ax) if bx < ax else (ax, bx)
            y0, y1 = (by, ay) if by < ay else (ay, by)
            # The obstacles near the leg, as :meth:`near` finds them (that one reaches x0 follows
            # from the test below: its inside, a pixel in from each side, does).
            for ix0, iy0, ix1, iy1, key in insides[bisect_left(xs, x0 - reach):bisect_right(xs, x1)]:
                # The (axis-parallel) leg passes through the inside of the shape ...
                if y1 > iy0 and y0 < iy1 and x0 < ix1 and x1 > ix0 and (key is None or key not in exclude) \
                        and not (ix0 < ax < ix1 and iy0 < ay < iy1) and not (ix0 < bx < ix1 and iy0 < by < iy1):
                    # ... and neither of its ends lies inside it (a shape holding an end of the
                    # leg is a container, a sub-process, not in the way).
                    count += 1
                    if base + 10_000 * count >= bound:
                        return count
        return count

    def best_route(self, candidates: Iterable[tuple[Sequence[Point], float]],
                   exclude: frozenset[str] = frozenset()) -> list[Point]:
        """The candidate polyline crossing the fewest obstacles, then with fewest bends, then shortest.

        Each candidate comes with a penalty (a less natural side). Candidates are
        judged cheapest-first, and crossings (the costly part) are counted only
        while a candidate could still win.
        """
        scored = []
        pairwise = itertools.pairwise
        for cand, penalty in candidates:
            if len(cand) >= 2:
                # raw points: the candidates are built without needless bends, so counting them is fair
                # (the length is _length(cand), written out: this runs for every candidate of every edge)
                scored.append((penalty + 25 * (len(cand) - 2)
                               + sum([abs(ax - bx) + abs(ay - by) for (ax, ay), (bx, by) in pairwise(cand)]), cand))
        assert scored, "route candidates were empty"
        scored.sort(key=itemgetter(0))
        best_cost, best = float("inf"), scored[0][1]
        for base, pts in scored:
            if base >= best_cost:
                break
            cost = base + 10_000 * self._crossings(pts, exclude, base, best_cost)
            if cost < best_cost:
                best_cost, best = cost, pts
        return _simplify(best)

    def route(self, src: Bounds, dst: Bounds, *, from_side: str | None = None,
              exclude: frozenset[str] = frozenset()) -> list[Point]:
        """An orthogonal edge from ``src`` to ``dst`` (``from_side`` forces the side it leaves by)."""
        # The centres and side midpoints, as center() and port() give them, worked out once.
        sx0, sy0, sx1, sy1 = src.x, src.y, src.x + src.width, src.y + src.height
        sx, sy = src.x + src.width / 2, src.y + src.height / 2
        dx0, dy0, dx1, dy1 = dst.x, dst.y, dst.x + dst.width, dst.y + dst.height
        dx, dy = dst.x + dst.width / 2, dst.y + dst.height / 2
        src_port = {"left": (sx0, sy), "right": (sx1, sy), "top": (sx, sy0), "bottom": (sx, sy1)}
        dst_port = {"left": (dx0, dy), "right": (dx1, dy), "top": (dx, dy0), "bottom": (dx, dy1)}
        cands: list[tuple[list[Point], float]] = []
        add = cands.append
        # Flows read left to right: leaving by the side that faces the target is preferred,
        # and the side facing away is not tried at all.
        if dx0 >= sx1 + 10:
            natural = "right"
        elif dx1 <= sx0 - 10:
            natural = "left"
        else:
            natural = "bottom" if dy > sy else "top"
        away = {"right": "left", "left": "right", "top": "bottom", "bottom": "top"}[natural]
        sides = [from_side] if from_side else [s for s in ("right", "bottom", "top", "left") if s != away]
        for side in sides:
            p = src_port[side]
            px, py = p
            penalty = 0.0 if from_side or side == natural else 80.0
            if side in ("right", "left"):
                going_right = side == "right"
                if (dx0 >= px + 10) if going_right else (dx1 <= px - 10):
                    q = dst_port["left" if going_right else "right"]
                    mx = (px + q[0]) / 2
                    add(([p, (mx, py), (mx, q[1]), q], penalty))
                    add(([p, (dx, py), dst_port["top" if dy0 > py else "bottom"]], penalty))
                for detour in (min(sy0, dy0) - 25, max(sy1, dy1) + 25):
                    q = dst_port["top" if detour < dy0 else "bottom"]
                    out = px + (20 if going_right else -20)
                    add(([p, (out, py), (out, detour), (dx, detour), q], penalty))
            else:
                down = side == "bottom"
                if (dy0 >= py + 10) if down else (dy1 <= py - 10):
                    q = dst_port["top" if down else "bottom"]
                    my = (py + q[1]) / 2
                    add(([p, (px, my), (q[0], my), q], penalty))
                    add(([p, (px, dy), dst_port["left" if dx0 > sx else "right"]], penalty))
                else:
                    # leave vertically, then turn into the target's near vertical side ...
                    far = max(py, dy1) + 20 if down else min(py, dy0) - 20
                    q = dst_port["bottom" if down else "top"]
                    add(([p, (px, far), (q[0], far), q], penalty))
                    # ... or come back to its left or right side
                    out = py + (20 if down else -20)
                    q = dst_port["left" if dx0 > sx else "right"]
                    add(([p, (px, out), (q[0] + (-20 if dx0 > sx else 20), out),
                          (q[0] + (-20 if dx0 > sx else 20), q[1]), q], penalty))
                    add(([p, (px, dy), q], penalty))
        # Detours above and below whatever stands between the two shapes.
        x0, x1 = min(sx, dx), max(sx, dx)
        top, bottom = min(sy0, dy0), max(sy1, dy1)
        # (Equal to src or dst as Bounds compare: by their four numbers.)
        src_key, dst_key = (src.x, src.y, src.width, src.height), (dst.x, dst.y, dst.width, dst.height)
        low, high = top - 40, bottom + 40
        blockers = [(oy, oy1) for _ox, oy, _ox1, oy1, _key, o in self._near(x0, x1, exclude)
                    if oy < high and oy1 > low
                    and (o.x, o.y, o.width, o.height) != src_key and (o.x, o.y, o.width, o.height) != dst_key]
        if blockers and natural in ("right", "left"):
            p = src_port[natural]
            out = p[0] + (20 if natural == "right" else -20)
            for detour in (min([oy for oy, _oy1 in blockers]) - 20, max([oy1 for _oy, oy1 in blockers]) + 20):
                q = dst_port["top" if detour < dy0 else "bottom"]
                add(([p, (out, p[1]), (out, detour), (dx, detour), q], 0.0))
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
