"""tinytorch.introduction — the course's map, computed from the code.

    >>> from tinytorch.introduction import discover, roadmap, to_text
    >>> graph = discover()                       # doctest: +SKIP
    >>> print(to_text(graph))                    # doctest: +SKIP
    >>> for step in roadmap(graph):              # doctest: +SKIP
    ...     print(step.sentence())

Nothing here is drawn by hand. The modules and what each builds on are read from the installed
distributions' metadata and, in the repository, from ``packages/*/pyproject.toml``:

* :mod:`.graph` — :class:`ModuleGraph`: learning order (a topological sort), levels, the
  transitive reduction;
* :mod:`.learning_path` — the modules in order, with prerequisites and what each unlocks;
* :mod:`.stats` — lines of code, public functions and classes, tests, solution blocks;
* :mod:`.student_status` — which modules are your version (``+student``) and whether they pass;
* :mod:`.render` — mermaid, a text listing by level, SVG (no dependency) and PNG (matplotlib);
* :mod:`.docs` — the documentation site's overview page; :mod:`.cli` — ``tito system graph``.
"""

from .docs import overview_markdown
from .graph import (META_DISTRIBUTION, STUDENT_LABEL, CycleError, ModuleGraph, ModuleNode,
                    discover, find_repo, from_installed, from_repo, is_student_version, normalize,
                    requirement_name)
from .student_status import ModuleProgress, progress, run_module_tests, test_command
from .render import Layout, PlotUnavailable, layout, save_figure, to_mermaid, to_svg, to_text
from .learning_path import ABILITIES, RoadmapStep, roadmap, unlocked_by
from .stats import (BEGIN_MARKER, ModuleStats, count_code_lines, count_solution_blocks,
                    count_tests, graph_stats, module_files, module_stats, public_api)

__all__ = [
    # the graph
    "ModuleGraph", "ModuleNode", "CycleError", "discover", "find_repo", "from_installed",
    "from_repo", "normalize", "requirement_name", "is_student_version", "META_DISTRIBUTION",
    "STUDENT_LABEL",
    # roadmap
    "roadmap", "RoadmapStep", "unlocked_by", "ABILITIES",
    # statistics
    "ModuleStats", "module_stats", "graph_stats", "module_files", "count_code_lines",
    "public_api", "count_tests", "count_solution_blocks", "BEGIN_MARKER",
    # progress
    "ModuleProgress", "progress", "run_module_tests", "test_command",
    # pictures and pages
    "to_text", "to_mermaid", "to_svg", "save_figure", "layout", "Layout", "PlotUnavailable",
    "overview_markdown",
]
