"""The graph drawn four ways: mermaid (for the docs), text (for the terminal), SVG and PNG.

Every picture is laid out from the graph itself: a module's column is its level (the length of
the longest chain of prerequisites below it), and within a column modules are ordered to keep
arrows short (each placed near the average row of what it builds on, a few sweeps). By default
the pictures draw only the arrows no other path implies (the transitive reduction); the text
listing and the tables name every declared dependency.

SVG is written directly (no dependency); PNG and PDF need matplotlib
(``pip install 'tinytorch-introduction[plot]'``).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

from .graph import ModuleGraph

__all__ = ["to_mermaid", "to_text", "Layout", "layout", "Route", "routes", "to_svg", "save_figure",
           "PlotUnavailable"]


class PlotUnavailable(ImportError):
    """matplotlib is not installed (PNG and PDF need it; SVG does not)."""


def _edges(graph: ModuleGraph, all_edges: bool) -> list:
    return graph.edges() if all_edges else graph.transitive_reduction()


def _mermaid_id(folder: str) -> str:
    return "m_" + re.sub(r"\W", "_", folder)


def to_mermaid(graph: ModuleGraph, all_edges: bool = False, direction: str = "LR",
               show_names: bool = True) -> str:
    """A mermaid ``flowchart``: one node per module, ``a --> b`` when b builds on a.

    Args:
        graph: the modules.
        all_edges: draw every declared dependency, not only the transitive reduction.
        direction: mermaid's direction (``LR`` left to right, ``TB`` top to bottom).
        show_names: add the distribution name under each label.
    """
    lines = [f"flowchart {direction}"]
    level = graph.levels()
    for depth, names in enumerate(graph.layers()):
        lines.append(f'    subgraph level{depth}["level {depth}"]')
        for name in names:
            n = graph.nodes[name]
            text = n.label + (f"<br/><code>{n.name}</code>" if show_names else "")
            lines.append(f'        {_mermaid_id(n.folder)}["{text}"]')
        lines.append("    end")
    for dep, user in _edges(graph, all_edges):
        lines.append(f"    {_mermaid_id(graph.nodes[dep].folder)} --> {_mermaid_id(graph.nodes[user].folder)}")
    students = [graph.nodes[n].folder for n in level if graph.nodes[n].is_student]
    if students:
        lines.append("    classDef student fill:#ffe0b2,stroke:#e65100")
        lines.append("    class " + ",".join(_mermaid_id(f) for f in students) + " student")
    return "\n".join(lines)


def _status(graph: ModuleGraph, name: str) -> str:
    n = graph.nodes[name]
    if n.is_student:
        return f"[your version {n.installed_version}]"
    if n.installed_version is None:
        return "(not installed)"
    return ""


def to_text(graph: ModuleGraph, all_edges: bool = False, show_status: bool = True) -> str:
    """A layered listing: each level's modules, each with what it builds on.

    ``all_edges`` lists every declared dependency; by default a module lists only those no
    other of its dependencies already brings (the transitive reduction).
    """
    edges = _edges(graph, all_edges)
    builds_on: dict = {n: [] for n in graph.nodes}
    for dep, user in edges:
        builds_on[user].append(dep)
    width = max((len(n.label) for n in graph.nodes.values()), default=0) + 2
    lines = [f"TinyTorch: {len(graph)} module(s), from {graph.source or 'nowhere'}"]
    if not all_edges:
        lines.append("(a module lists what it builds on directly; arrows implied by others are "
                     "left out: --all-edges shows every declared one)")
    for depth, names in enumerate(graph.layers()):
        lines.append(f"level {depth}")
        for name in names:
            n = graph.nodes[name]
            deps = [graph.nodes[d].label for d in sorted(builds_on[name], key=graph._sort_key)]
            text = f"  {n.label:<{width}}" + (f"<- {', '.join(deps)}" if deps else "")
            missing = graph.missing(name)
            if missing:
                text += f"  (declares {', '.join(missing)}: not in the graph)"
            status = _status(graph, name) if show_status else ""
            lines.append((text + ("  " + status if status else "")).rstrip())
    return "\n".join(lines)


@dataclass
class Layout:
    """Where each module goes in a picture.

    Attributes:
        positions: name -> (column, row); column = level, rows count from 0 at the top.
        columns: number of columns.
        rows: the tallest column's number of rows.
        edges: the ``(dependency, user)`` pairs to draw.
    """

    positions: dict
    columns: int
    rows: int
    edges: list


def layout(graph: ModuleGraph, all_edges: bool = False, sweeps: int = 4) -> Layout:
    """Columns by level; rows ordered by the barycentre of each module's neighbours.

    Start from learning order in every column, then alternately reorder each column by the
    average row of the modules it builds on (left to right) and of those building on it
    (right to left). Rows are then centred in their column.
    """
    edges = _edges(graph, all_edges)
    layers = [list(names) for names in graph.layers()]
    preds: dict = {n: [] for n in graph.nodes}
    succs: dict = {n: [] for n in graph.nodes}
    for dep, user in edges:
        preds[user].append(dep)
        succs[dep].append(user)
    row = {n: float(i) for names in layers for i, n in enumerate(names)}
    for sweep in range(sweeps):
        forward = sweep % 2 == 0
        order = range(1, len(layers)) if forward else range(len(layers) - 2, -1, -1)
        for c in order:
            near = preds if forward else succs

            def key(n: str, near: dict = near) -> tuple:
                others = near[n]
                centre = sum(row[o] for o in others) / len(others) if others else row[n]
                return (centre, row[n])
            layers[c].sort(key=key)
            for i, n in enumerate(layers[c]):
                row[n] = float(i)
    tallest = max((len(names) for names in layers), default=0)
    positions = {}
    for c, names in enumerate(layers):
        offset = (tallest - len(names)) / 2
        for i, n in enumerate(names):
            positions[n] = (c, i + offset)
    return Layout(positions, len(layers), tallest, edges)


@dataclass
class Route:
    """The way one arrow goes, in layout units: along the level axis from ``dep``'s box to
    ``user``'s, and across it (the slot axis) at ``start`` where it leaves, ``end`` where it
    arrives, and ``lanes[i] = (level, slot)`` in every level it crosses in between."""

    dep: str
    user: str
    start: float
    end: float
    lanes: list


def _spread(n: int, centre: float, step: float) -> list:
    return [centre + (i - (n - 1) / 2) * step for i in range(n)]


def routes(lay: Layout, box: float, lane: float) -> list:
    """Arrows that never pass behind a box.

    A box at slot s covers [s, s + box] across the level axis (slots are 1 apart, so
    ``1 - box`` is the gap between neighbours). Between two neighbouring levels there are no
    boxes, so an arrow may bend freely there; an arrow that skips levels goes through a gap of
    every level it crosses — the gap nearest its straight line, or the margin beside the
    level's first or last box. Arrows sharing a gap, or a box's side, are spread ``lane``
    apart. Pictures draw each hop between levels as a curve and each crossing as a straight
    piece through its gap.
    """
    pos = lay.positions
    by_level: dict = {}
    for level, slot in pos.values():
        by_level.setdefault(level, []).append(slot)
    gap = 1.0 - box

    def gaps(level: int) -> list:
        xs = sorted(by_level[level])
        return ([xs[0] - gap / 2] + [(a + box + b) / 2 for a, b in zip(xs, xs[1:])]
                + [xs[-1] + box + gap / 2])

    found = []
    for dep, user in sorted(lay.edges, key=lambda e: (pos[e[0]], pos[e[1]])):
        (l0, s0), (l1, s1) = pos[dep], pos[user]
        a, b = s0 + box / 2, s1 + box / 2
        lanes = []
        for level in range(l0 + 1, l1):
            want = a + (level - l0) / (l1 - l0) * (b - a)
            lanes.append((level, min(gaps(level), key=lambda g: (abs(g - want), g))))
        found.append(Route(dep, user, a, b, lanes))
    shared: dict = {}
    for r in found:
        for level, g in r.lanes:
            shared.setdefault((level, g), []).append(r)
    for (level, g), rs in shared.items():
        rs.sort(key=lambda r: (pos[r.dep][1] + pos[r.user][1], pos[r.dep][1]))
        for r, x in zip(rs, _spread(len(rs), g, lane)):
            r.lanes = [(lv, x if lv == level else old) for lv, old in r.lanes]
    for name, (_, slot) in pos.items():
        centre = slot + box / 2
        leaving = sorted((r for r in found if r.dep == name),
                         key=lambda r: r.lanes[0][1] if r.lanes else pos[r.user][1])
        for r, x in zip(leaving, _spread(len(leaving), centre, 2 * lane)):
            r.start = x
        arriving = sorted((r for r in found if r.user == name),
                          key=lambda r: r.lanes[-1][1] if r.lanes else pos[r.dep][1])
        for r, x in zip(arriving, _spread(len(arriving), centre, 2 * lane)):
            r.end = x
    return found


# ---------------------------------------------------------------------------- SVG, by hand
_BOX_W, _BOX_H, _GAP_X, _GAP_Y, _MARGIN = 150, 40, 70, 18, 20


def _box_xy(col: float, row: float) -> tuple:
    return (_MARGIN + col * (_BOX_W + _GAP_X), _MARGIN + 24 + row * (_BOX_H + _GAP_Y))


def to_svg(graph: ModuleGraph, all_edges: bool = False, title: str | None = None) -> str:
    """The graph as an SVG document (columns by level, arrows from dependency to user)."""
    lay = layout(graph, all_edges)
    width = 2 * _MARGIN + lay.columns * _BOX_W + max(lay.columns - 1, 0) * _GAP_X
    height = 2 * _MARGIN + 24 + lay.rows * _BOX_H + max(lay.rows - 1, 0) * _GAP_Y
    title = title if title is not None else f"TinyTorch modules ({len(graph)}), from {graph.source}"
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="13">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
           'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
           'fill="#555"/></marker></defs>',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{_MARGIN}" y="{_MARGIN + 4}" font-size="14" font-weight="bold">'
           f'{html.escape(title)}</text>']
    pitch = _BOX_H + _GAP_Y  # px from one row to the next

    def y(u: float) -> float:  # a slot coordinate (rows, box at [row, row + box]) in px
        return _MARGIN + 24 + u * pitch

    def left(col: int) -> float:
        return _box_xy(col, 0)[0]

    for r in routes(lay, box=_BOX_H / pitch, lane=4 / pitch):
        c0, c1 = lay.positions[r.dep][0], lay.positions[r.user][0]
        points = [(left(c0) + _BOX_W, y(r.start))]
        for col, u in r.lanes:
            points += [(left(col), y(u)), (left(col) + _BOX_W, y(u))]
        points.append((left(c1), y(r.end)))
        d = [f"M {points[0][0]:.1f} {points[0][1]:.1f}"]
        for i in range(1, len(points)):
            (xa, ya), (xb, yb) = points[i - 1], points[i]
            if i % 2:  # across the band between two columns: a curve with level ends
                mid = (xa + xb) / 2
                d.append(f"C {mid:.1f} {ya:.1f} {mid:.1f} {yb:.1f} {xb:.1f} {yb:.1f}")
            else:      # straight through a column, in the gap between its boxes
                d.append(f"L {xb:.1f} {yb:.1f}")
        out.append(f'<path d="{" ".join(d)}" fill="none" stroke="#555" stroke-width="1.2" '
                   f'marker-end="url(#arrow)"/>')
    for name, (col, row) in lay.positions.items():
        n = graph.nodes[name]
        bx, by = _box_xy(col, row)  # not y: that is the slot-coordinate function above
        fill = "#ffe0b2" if n.is_student else ("#eeeeee" if n.installed_version is None and
                                               n.path is None else "#fff3e0")
        out.append(f'<g><title>{html.escape(n.name)}: {html.escape(n.summary)}</title>'
                   f'<rect x="{bx}" y="{by}" width="{_BOX_W}" height="{_BOX_H}" rx="6" '
                   f'fill="{fill}" stroke="#e65100"/>'
                   f'<text x="{bx + _BOX_W / 2}" y="{by + _BOX_H / 2 + 5}" text-anchor="middle">'
                   f'{html.escape(n.label)}</text></g>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------- matplotlib
def _pyplot():
    try:
        import matplotlib
    except ImportError as exc:
        raise PlotUnavailable("PNG and PDF pictures need matplotlib: pip install "
                              "'tinytorch-introduction[plot]' (SVG needs nothing)") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_figure(graph: ModuleGraph, path: str, all_edges: bool = False, dpi: int = 150) -> str:
    """Write the picture to ``path``: ``.svg`` by hand, ``.png``/``.pdf`` with matplotlib.

    Returns the path written.

    Raises:
        PlotUnavailable: PNG or PDF without matplotlib.
        ValueError: another extension.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix == ".svg":
        target.write_text(to_svg(graph, all_edges), encoding="utf-8")
        return str(target)
    if suffix not in (".png", ".pdf"):
        raise ValueError(f"save_figure: unknown picture type {suffix!r} (use .svg, .png or .pdf)")
    plt = _pyplot()
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
    from matplotlib.path import Path as MplPath

    lay = layout(graph, all_edges)
    w, h = 1.0, 0.55  # box size in layout units; columns are 1.5 apart, rows 0.8
    def centre(name: str) -> tuple:
        col, row = lay.positions[name]
        return col * 1.5, -row * 0.8
    fig, ax = plt.subplots(figsize=(max(4.0, 1.6 * lay.columns + 1), max(3.0, 0.65 * lay.rows + 1.2)))
    box = h / 0.8  # a box's height in rows

    def y_of(u: float) -> float:  # a slot coordinate (box at [row, row + box]) in axes units
        return -(u - box / 2) * 0.8

    for r in routes(lay, box=box, lane=0.05):
        c0, c1 = lay.positions[r.dep][0], lay.positions[r.user][0]
        points = [(c0 * 1.5 + w / 2, y_of(r.start))]
        for col, u in r.lanes:  # through the gap between the boxes of each column it crosses
            points += [(col * 1.5 - w / 2, y_of(u)), (col * 1.5 + w / 2, y_of(u))]
        points.append((c1 * 1.5 - w / 2, y_of(r.end)))
        verts, codes = [points[0]], [MplPath.MOVETO]
        for i in range(1, len(points)):
            (xa, ya), (xb, yb) = points[i - 1], points[i]
            if i % 2:  # across the band between columns: a cubic curve
                mid = (xa + xb) / 2
                verts += [(mid, ya), (mid, yb), (xb, yb)]
                codes += [MplPath.CURVE4] * 3
            else:
                verts.append((xb, yb))
                codes.append(MplPath.LINETO)
        ax.add_patch(FancyArrowPatch(path=MplPath(verts, codes), arrowstyle="-|>",
                                     mutation_scale=10, color="#555", lw=0.9, zorder=1))
    for name in lay.positions:
        n = graph.nodes[name]
        x, y = centre(name)
        face = "#ffe0b2" if n.is_student else "#fff3e0"
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02",
                                    facecolor=face, edgecolor="#e65100", zorder=2))
        ax.text(x, y, n.label, ha="center", va="center", fontsize=8, zorder=3)
    ax.set_xlim(-0.8, 1.5 * max(lay.columns - 1, 0) + 0.8)
    ax.set_ylim(-0.8 * max(lay.rows - 1, 0) - 0.6, 0.6)
    ax.set_axis_off()
    ax.set_title(f"TinyTorch modules ({len(graph)}): columns are levels", fontsize=10)
    fig.tight_layout()
    fig.savefig(target, dpi=dpi)
    plt.close(fig)
    return str(target)
