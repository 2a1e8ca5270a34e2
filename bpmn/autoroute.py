"""Orthogonal routes for sequence flows on the automatic layout's grid.

Shapes sit in the middle of grid cells, so the gaps between columns and the
margins at the top and bottom of each row are free: vertical segments run in
column gaps, horizontal detours in row margins, and a route only crosses a
shape's cell where it enters or leaves its own ends.

* forward to the next column: right side, a vertical in the gap, left side;
* forward further: as above, with the horizontal part in the target row's top
  margin (or straight, when the cells in between are empty);
* backward (a loop): down from the source, along the source row's bottom
  margin, up the gap after the target's column, along the target row's bottom
  margin and up into the target;
* from a boundary event: down from the event, along the host row's bottom
  margin, and into the target's left side (or as a loop when it goes back).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bpmn.model import Shape

Point = tuple[float, float]
CENTRE_Y = 60.0   # a shape's centre below its row's top
TOP_LANE = 7.0    # where horizontal detours run in a row's top margin
BOTTOM_LANE = 8.0


class Grid:
    """Columns and banded rows of one process, and which cells are taken."""

    def __init__(self, x0: float, col_w: float, row_h: float,
                 row_tops: Mapping[tuple[str | None, int], float]) -> None:
        self.x0, self.col_w, self.row_h = x0, col_w, row_h
        self.row_tops = row_tops
        self.cells: dict[tuple[str | None, int, int], str] = {}

    def centre(self, band: str | None, row: int, col: int) -> Point:
        return self.x0 + col * self.col_w + self.col_w / 2, self.row_tops[(band, row)] + CENTRE_Y

    def occupy(self, band: str | None, row: int, col: int, node_id: str) -> None:
        self.cells[(band, row, col)] = node_id

    def free_between(self, band: str | None, row: int, c0: int, c1: int) -> bool:
        return all((band, row, c) not in self.cells for c in range(c0 + 1, c1))

    def col_left(self, col: int) -> float:
        return self.x0 + col * self.col_w

    def row_top(self, band: str | None, row: int) -> float:
        return self.row_tops[(band, row)]

    def row_bottom(self, band: str | None, row: int) -> float:
        """The bottom of the row's node area (a data strip may follow)."""
        return self.row_tops[(band, row)] + self.row_h


def _simplify(points: list[Point]) -> tuple[Point, ...]:
    """Drop repeated points and points in the middle of a straight run."""
    out: list[Point] = []
    for p in points:
        if out and abs(out[-1][0] - p[0]) < 0.01 and abs(out[-1][1] - p[1]) < 0.01:
            continue
        if len(out) >= 2:
            a, b = out[-2], out[-1]
            if (abs(a[0] - b[0]) < 0.01 and abs(b[0] - p[0]) < 0.01) or (
                    abs(a[1] - b[1]) < 0.01 and abs(b[1] - p[1]) < 0.01):
                out[-1] = p
                continue
        out.append(p)
    return tuple(out)


def route_flow(grid: Grid, shapes: Mapping[str, Shape], plan: Any, source: str,
               target: str) -> tuple[Point, ...]:
    """Waypoints of the flow ``source`` → ``target`` (``plan`` is the layout's grid plan)."""
    host = plan.boundary.get(source)
    node = host or source
    s, t = shapes.get(source), shapes.get(target)
    if s is None or t is None or node not in plan.layer or target not in plan.layer:
        return ()
    sb, tb = s.bounds, t.bounds
    s_band, s_row, s_col = plan.band_of[node], plan.row[node], plan.layer[node]
    t_band, t_row, t_col = plan.band_of[target], plan.row[target], plan.layer[target]
    sy, ty = sb.y + sb.height / 2, tb.y + tb.height / 2
    s_right, t_left = sb.x + sb.width, tb.x
    if host is not None and t_col > s_col:
        sx = sb.x + sb.width / 2
        channel = grid.row_bottom(s_band, s_row) - BOTTOM_LANE
        gx = grid.col_left(t_col)
        return _simplify([(sx, sb.y + sb.height), (sx, channel), (gx, channel), (gx, ty), (t_left, ty)])
    if host is not None or t_col <= s_col:
        # a loop: under the source, across, and up into the target's bottom
        sx, tx = sb.x + sb.width / 2, tb.x + tb.width / 2
        ch_s = grid.row_bottom(s_band, s_row) - BOTTOM_LANE
        ch_t = grid.row_bottom(t_band, t_row) - BOTTOM_LANE
        gx = grid.col_left(t_col + 1) - 14
        return _simplify([(sx, sb.y + sb.height), (sx, ch_s), (gx, ch_s), (gx, ch_t), (tx, ch_t),
                          (tx, tb.y + tb.height)])
    if (s_band, s_row) == (t_band, t_row) and grid.free_between(s_band, s_row, s_col, t_col):
        return _simplify([(s_right, sy), (t_left, ty)])
    if t_col == s_col + 1:
        gx = grid.col_left(t_col)
        return _simplify([(s_right, sy), (gx, sy), (gx, ty), (t_left, ty)])
    g1, g2 = grid.col_left(s_col + 1), grid.col_left(t_col)
    channel = grid.row_top(t_band, t_row) + TOP_LANE
    return _simplify([(s_right, sy), (g1, sy), (g1, channel), (g2, channel), (g2, ty), (t_left, ty)])
