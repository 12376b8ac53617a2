"""The module dependency graph as an SVG for the site: drawn at build time, every box a link.

The site needs a picture that works offline (no mermaid from a CDN), is readable at the width
of a page (labels of 14 px, not shrunk from a wide drawing) and lets a reader click through to a
chapter. So it is drawn top to bottom — one row per level, which keeps the picture about as
wide as three boxes — with the placement of module 00's ``layout`` (levels, and the order within
a level that keeps arrows short).

Arrows never pass behind a box: module 00's ``routes`` sends an arrow that skips rows through
a gap between the boxes of each row it crosses (the gap nearest to its straight line), and
spreads arrows sharing a gap or a box side. Each piece between rows is a cubic curve with
vertical end tangents, so it stays inside its band.
"""
from __future__ import annotations

import html
from typing import Callable

BOX_W, BOX_H = 190, 46      # a box, in px (the SVG is shown at its own size: 1 unit = 1 px)
GAP_X, GAP_Y = 56, 58       # between boxes of a row; between rows (the band arrows bend in)
MARGIN = 36                 # room for the lanes left and right of a row
FONT = 15                   # the label; the distribution name under it is 12
LANE = 7                    # spacing of arrows sharing a gap or a box side


def _x(slot: float) -> float:
    return MARGIN + slot * (BOX_W + GAP_X)


def _y(level: int) -> float:
    return MARGIN + level * (BOX_H + GAP_Y)


def dependency_svg(graph, layout, link: Callable[[str], str]) -> str:
    """The graph as an inline SVG document.

    Args:
        graph: a ``tinytorch.introduction`` ModuleGraph.
        layout: its ``tinytorch.introduction.render.layout(graph)``: ``positions[name] =
            (level, slot)``, the edges to draw (dependency, user).
        link: ``folder -> URL`` of the module's chapter, relative to the page showing the SVG.
    """
    # module 00 from the checkout: the hook puts its src on sys.path before drawing (the docs
    # env installs no tinytorch package)
    from tinytorch.introduction.render import routes

    pos = layout.positions
    slots = max((s for _, s in pos.values()), default=0) + 1
    levels = max((lv for lv, _ in pos.values()), default=0) + 1
    width = round(2 * MARGIN + slots * BOX_W + (slots - 1) * GAP_X)
    height = round(2 * MARGIN + levels * BOX_H + (levels - 1) * GAP_Y)
    # the routes (module 00's: arrows through the gaps between boxes, never behind one), in
    # slot units across the rows; one slot is a box and a gap wide
    pitch = BOX_W + GAP_X
    found = routes(layout, box=BOX_W / pitch, lane=LANE / pitch)

    def x(u: float) -> float:
        return MARGIN + u * pitch

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="tt-depgraph" role="img" '
           f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
           f'font-family="sans-serif" font-size="{FONT}" style="max-width:100%;height:auto">',
           "<title>TinyTorch modules: an arrow from a module to the modules that build on it; "
           "each box links to its chapter</title>",
           '<defs><marker id="tt-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
           'markerHeight="7" orient="auto"><path d="M 0 0 L 10 5 L 0 10 z" fill="#6d4c41"/>'
           "</marker></defs>",
           f'<rect width="{width}" height="{height}" rx="8" fill="#fffaf5"/>']
    for r in found:
        dep, user = r.dep, r.user
        (l0, _), (l1, _) = pos[dep], pos[user]
        points = [(x(r.start), _y(l0) + BOX_H)]
        for lv, u in r.lanes:
            points += [(x(u), _y(lv)), (x(u), _y(lv) + BOX_H)]
        points.append((x(r.end), _y(l1) - 2))
        d = [f"M {points[0][0]:.1f} {points[0][1]:.1f}"]
        for i in range(1, len(points)):
            (xa, ya), (xb, yb) = points[i - 1], points[i]
            if i % 2:  # across a band: a curve with vertical ends
                mid = (ya + yb) / 2
                d.append(f"C {xa:.1f} {mid:.1f} {xb:.1f} {mid:.1f} {xb:.1f} {yb:.1f}")
            else:      # straight down through a row's gap
                d.append(f"L {xb:.1f} {yb:.1f}")
        names = f"{graph.nodes[dep].label} → {graph.nodes[user].label}"
        out.append(f'<path d="{" ".join(d)}" fill="none" stroke="#8d6e63" stroke-width="1.6" '
                   f'marker-end="url(#tt-arrow)"><title>{html.escape(names)}</title></path>')
    for name, (lv, s) in pos.items():
        n = graph.nodes[name]
        x, y = _x(s), _y(lv)
        out.append(f'<a href="{html.escape(link(n.folder))}"><g>'
                   f"<title>{html.escape(n.name)}: {html.escape(n.summary)}</title>"
                   f'<rect x="{x:.1f}" y="{y:.1f}" width="{BOX_W}" height="{BOX_H}" rx="7" '
                   f'fill="#fff3e0" stroke="#e65100" stroke-width="1.5"/>'
                   f'<text x="{x + BOX_W / 2:.1f}" y="{y + 20:.1f}" text-anchor="middle" '
                   f'font-weight="bold" fill="#3e2723">{html.escape(n.label)}</text>'
                   f'<text x="{x + BOX_W / 2:.1f}" y="{y + 37:.1f}" text-anchor="middle" '
                   f'font-size="12" fill="#5d4037">{html.escape(n.name)}</text></g></a>')
    out.append("</svg>")
    return "\n".join(out)
