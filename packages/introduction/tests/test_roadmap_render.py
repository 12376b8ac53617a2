"""The roadmap, the pictures and the docs page."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from tinytorch.introduction import (ABILITIES, ModuleGraph, layout, overview_markdown, roadmap,
                                    save_figure, to_mermaid, to_svg, to_text, unlocked_by)
from tinytorch.introduction.render import routes


def test_roadmap_order_prerequisites_and_unlocks(course):
    steps = roadmap(course)
    assert [s.label for s in steps] == ["01 setup", "02 tensor", "03 act", "04 layers", "05 net",
                                        "06 grad", "07 opt", "08 train"]
    by = {s.label: s for s in steps}
    assert by["04 layers"].requires == ["02 tensor", "03 act"]
    assert by["08 train"].prerequisites == ["02 tensor", "03 act", "04 layers", "05 net",
                                            "06 grad", "07 opt"]
    # train's last prerequisite in the order is opt: opt unlocks it, net does not
    assert by["07 opt"].unlocks == ["08 train"] and by["05 net"].unlocks == []
    assert by["02 tensor"].unlocks == ["03 act", "06 grad"]
    assert [s.position for s in steps] == list(range(1, 9))
    assert by["05 net"].level == 3


def test_unlocks_follow_the_given_order(course):
    order = course.topological_order()
    swapped = order[:]  # grad and opt before net: then net is train's last prerequisite
    swapped.remove("tinytorch-net")
    swapped.insert(swapped.index("tinytorch-train"), "tinytorch-net")
    out = unlocked_by(course, swapped)
    assert out["tinytorch-net"] == ["tinytorch-train"] and out["tinytorch-opt"] == []


def test_abilities_curated_or_from_the_summary(node):
    g = ModuleGraph.from_nodes([node("autograd", 9), node("brandnew", 17, summary="TinyTorch module 17: flying")])
    steps = {s.label: s for s in roadmap(g)}
    assert steps["09 autograd"].ability == ABILITIES["autograd"]
    assert steps["17 brandnew"].ability == "flying"
    assert steps["09 autograd"].sentence().startswith("after 09 autograd: loss.backward()")


def test_text_listing_by_level(course, node):
    text = to_text(course)
    lines = text.splitlines()
    assert lines[0].startswith("TinyTorch: 8 module(s), from a test course")
    i = lines.index("level 4")
    assert re.fullmatch(r"\s+08 train\s+<- 05 net, 07 opt\s+\(not installed\)", lines[i + 1])
    full = to_text(course, all_edges=True)
    assert "<- 02 tensor, 04 layers, 05 net, 07 opt" in full


def test_text_shows_student_versions_and_missing(node):
    g = ModuleGraph.from_nodes([node("a", 1, installed_version="0.1.0+student"),
                                node("b", 2, ("a", "ghost"))])
    text = to_text(g)
    assert "[your version 0.1.0+student]" in text
    assert "declares tinytorch-ghost: not in the graph" in text and "(not installed)" in text


def test_mermaid(course, node):
    text = to_mermaid(course)
    assert text.startswith("flowchart LR")
    edges = re.findall(r"(\w+) --> (\w+)", text)
    assert len(edges) == len(course.transitive_reduction()) == 7
    assert ("m_net", "m_train") in edges and ("m_tensor", "m_train") not in edges
    assert len(re.findall(r"(\w+) --> (\w+)", to_mermaid(course, all_edges=True))) == 10
    assert text.count("subgraph") == 5


def test_layout_columns_are_levels(course):
    lay = layout(course)
    level = course.levels()
    assert all(lay.positions[n][0] == level[n] for n in course.nodes)
    assert lay.columns == 5 and lay.rows == 2
    rows_in = {}
    for n, (c, r) in lay.positions.items():
        rows_in.setdefault(c, []).append(r)
    assert all(len(set(v)) == len(v) for v in rows_in.values())  # no two boxes on one spot


def test_svg_is_xml_with_a_box_per_module_and_an_arrow_per_edge(course, tmp_path):
    svg = to_svg(course)
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert len(root.findall(f"{ns}g")) == len(course)
    assert len(root.findall(f"{ns}path")) == 7
    out = save_figure(course, str(tmp_path / "g.svg"))
    assert ET.parse(out).getroot().tag == f"{ns}svg"
    with pytest.raises(ValueError, match="unknown picture type"):
        save_figure(course, str(tmp_path / "g.gif"))


@pytest.mark.parametrize("box", [0.7, 0.9])
def test_arrows_go_around_boxes_never_behind_them(course, box):
    lay = layout(course, all_edges=True)
    found = routes(lay, box=box, lane=0.02)
    assert sorted((r.dep, r.user) for r in found) == sorted(lay.edges)
    boxes: dict = {}
    for level, slot in lay.positions.values():
        boxes.setdefault(level, []).append(slot)
    skipping = 0
    for r in found:
        (l0, _), (l1, _) = lay.positions[r.dep], lay.positions[r.user]
        assert [level for level, _ in r.lanes] == list(range(l0 + 1, l1))
        for level, u in r.lanes:  # where it crosses a level, it is in a gap
            assert all(not (s - 1e-9 <= u <= s + box + 1e-9) for s in boxes[level]), (r, level, u)
            skipping += 1
    assert skipping >= 3  # tensor -> layers, tensor -> train, layers -> train cross levels


def test_png_with_matplotlib(course, tmp_path):
    pytest.importorskip("matplotlib")
    out = save_figure(course, str(tmp_path / "g.png"))
    assert open(out, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_overview_page(course):
    page = overview_markdown(course, link=lambda f: f"modules/{f}.md", with_stats=False)
    assert page.startswith("# Course overview")
    assert "```mermaid\nflowchart LR" in page
    assert "| 8 | [08 train](modules/train.md) | [05 net](modules/net.md), [07 opt](modules/opt.md)" not in page
    assert "| 8 | [08 train](modules/train.md) | [02 tensor](modules/tensor.md), [04 layers]" in page
    assert "| 07 | [tinytorch-opt](modules/opt.md) | 0.1.0 | [06 grad](modules/grad.md) | [08 train](modules/train.md) |" in page
    assert "## The modules in numbers" not in page
