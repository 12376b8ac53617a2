"""The documentation site's course overview, generated from the graph and the statistics.

The site's build hook calls :func:`overview_markdown` every time the site is built, so the
page cannot drift from the code: the diagram, the roadmap and the numbers are those of the
packages in the checkout at that moment.
"""

from __future__ import annotations

from typing import Callable

from .graph import ModuleGraph
from .render import to_mermaid
from .learning_path import roadmap
from .stats import graph_stats

__all__ = ["overview_markdown"]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def overview_markdown(graph: ModuleGraph, link: Callable[[str], str] | None = None,
                      title: str = "Course overview", with_stats: bool = True) -> str:
    """The overview page: diagram, roadmap, per-module numbers and every declared dependency.

    Args:
        graph: the modules (from the repository, for the site).
        link: ``folder -> URL`` of a module's chapter; labels are plain text without it.
        title: the page's heading.
        with_stats: include the table of lines, API, tests and solution blocks.
    """
    def ref(name: str) -> str:
        n = graph.nodes[name]
        return f"[{n.label}]({link(n.folder)})" if link else n.label

    steps = roadmap(graph)
    by_label = {graph.nodes[s.name].label: s.name for s in steps}
    lines = [
        f"# {title}",
        "",
        "Generated when this site was built, by `tinytorch.introduction` from every",
        "`packages/*/pyproject.toml` and the modules' sources — the same computation as",
        "`tito system graph` in a terminal. An arrow `a --> b` means *b builds on a*; arrows that",
        "another path already implies are left out of the picture (the last table lists every",
        "declared dependency). Columns are levels: a module's level is the length of the longest",
        "chain of modules below it.",
        "",
        "```mermaid",
        to_mermaid(graph, show_names=False),
        "```",
        "",
        "## Roadmap",
        "",
        "A learning order computed from the declared dependencies (a topological order; among",
        "modules that are ready at the same time, the lower number first). *Unlocks* lists the",
        "modules whose last prerequisite a step completes.",
        "",
        "| step | module | builds on | unlocks | after it |",
        "|---:|---|---|---|---|",
    ]
    for s in steps:
        requires = ", ".join(ref(by_label[r]) for r in s.requires) or "—"
        unlocks = ", ".join(ref(by_label[u]) for u in s.unlocks) or "—"
        lines.append(f"| {s.position} | {ref(s.name)} | {requires} | {unlocks} | {_cell(s.ability)} |")
    if with_stats:
        stats = graph_stats(graph)
        keys = ("code_lines", "public_functions", "public_classes", "tests", "solution_blocks")
        totals = {k: sum(getattr(st, k) for st in stats.values()) for k in keys}
        lines += [
            "",
            "## The modules in numbers",
            "",
            "Counted from the sources at build time: lines of code (not blank, not only a comment),",
            "public top-level functions and classes (`ast`), test functions (as pytest collects",
            "them) and solution blocks (`### BEGIN SOLUTION` comments — what a student writes).",
            "",
            "| module | lines of code | public functions | public classes | tests | solution blocks |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for name, st in stats.items():
            lines.append(f"| {ref(name)} | {st.code_lines:,} | {st.public_functions} | "
                         f"{st.public_classes} | {st.tests:,} | {st.solution_blocks} |")
        lines.append(f"| **all {len(stats)}** | **{totals['code_lines']:,}** | "
                     f"**{totals['public_functions']}** | **{totals['public_classes']}** | "
                     f"**{totals['tests']:,}** | **{totals['solution_blocks']}** |")
    lines += [
        "",
        "## Every declared dependency",
        "",
        "| # | distribution | version | builds on (declared) | used by |",
        "|---|---|---|---|---|",
    ]
    for n in graph.ordered_nodes():
        deps = ", ".join(ref(d) for d in graph.dependencies(n.name)) or "—"
        users = ", ".join(ref(u) for u in graph.dependents(n.name)) or "—"
        number = f"{n.number:02d}" if n.number is not None else "?"
        name = f"[{n.name}]({link(n.folder)})" if link else n.name
        lines.append(f"| {number} | {name} | {n.version or '—'} | {deps} | {users} |")
    lines.append("")
    return "\n".join(lines)
