# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Module 00 — Introduction: the course's map, computed from the code
#
# TinyTorch is seventeen installable modules, each building on modules before it: the Tensor
# (02) under activations (03) under layers (04), autograd (09) under optimizers (10), all of
# them under training (11). In which order should you learn them, and how big is each?
#
# Nobody draws that map by hand here. Each module *declares* what it builds on (the
# `dependencies` of its `pyproject.toml`, or `Requires-Dist` of an installed package), and this
# module computes the rest from those declarations every time you ask: a learning order, the
# levels of the course, and live statistics of every module's code. You write the five
# functions where the ideas are — three counters and two graph algorithms. Reading the
# declarations, rendering text and pictures, and the `tito system graph` command are given.
# The [README](https://tinytorch.github.io/tinytorch/modules/introduction/) is the reference (commands, API).

# %%
from tinytorch.setup.lesson import check, setup_lesson

setup_lesson("introduction")   # autoreload on; says whether YOUR version or the reference is installed

# %%
import tempfile
import time
from pathlib import Path

import tinytorch.introduction as intro
from tinytorch.introduction import ModuleGraph, ModuleNode

work = tempfile.TemporaryDirectory(prefix="lesson-introduction-")   # everything written goes here
here = Path(intro.__file__).parent          # this module's own source: the files you edit
sample = (here / "stats.py").read_text()
print(f"{here}\n{len(sample.splitlines())} lines in stats.py")

# %% [markdown]
# ## Build
#
# ### Exercise 1 — code_lines: what counts as a line of code
#
# **File:** `src/tinytorch/introduction/stats.py`, function `count_code_lines(source)`.
#
# Return how many lines of `source` hold code: after stripping spaces, a line is counted when it
# is not empty and does not start with `#`. A docstring's lines count (they are part of the
# lesson); `x = 1  # note` counts; `# note` alone does not. Example:
# `"x = 1\n\n# hi\n  y = 2  # two\n"` → 2.

# %%
check("introduction", "code_lines")

# %% [markdown]
# ### Exercise 2 — count_tests: what pytest will collect
#
# **File:** `stats.py`, function `count_tests(source)`. Parse with `ast` (given: `tree`) and
# count the functions pytest collects by default: top-level `def test*` (and `async def`), and
# `test*` methods of top-level classes named `Test*`. A parametrised test counts once; a
# function nested inside a test, a `helper_test`, or a method of a class not named `Test*`
# does not count.
#
# ### Exercise 3 — solution_blocks: comments, not strings
#
# **File:** `stats.py`, function `count_solution_blocks(source)`. Count the
# `### BEGIN SOLUTION` markers that are *comments*. A plain text search would also count a
# marker inside a string — this very module has docstrings and tests that show one. The
# tokenizer (given: `tokens`) knows the difference: count the tokens whose type is
# `tokenize.COMMENT` and whose text, stripped, equals `BEGIN_MARKER`.

# %%
check("introduction", "count_tests")

# %%
check("introduction", "solution_blocks")

# %% [markdown]
# Try it on the files of this module — the ones in your workspace. In your version the
# solution blocks were cut out, so you will see fewer than the reference's five.

# %%
for path in sorted(here.glob("*.py")):
    text = path.read_text()
    print(f"{path.name:18} {intro.count_code_lines(text):4} code lines  "
          f"{intro.count_solution_blocks(text)} solution block(s)")

# %% [markdown]
# ### Exercise 4 — topo_order: a learning order (Kahn's algorithm)
#
# **File:** `src/tinytorch/introduction/graph.py`, method `ModuleGraph.topological_order()`.
#
# Return the module names in an order where every module comes after everything it declares.
# Kahn's algorithm: count each module's unplaced dependencies (`self.dependencies(name)`);
# those with none are *ready*; repeatedly place one ready module and decrement the count of each
# module that uses it (`self.dependents(name)`) — a module whose count reaches zero becomes
# ready. Among ready modules take the one with the smallest `self._sort_key(name)` (module
# number, then name): with a heap of `(key, name)` pairs the order is deterministic, and for a
# course numbered in dependency order it *is* the course order. The check for a cycle (modules
# never placed) and its error message are given after your block.

# %%
check("introduction", "topo_order")

# %% [markdown]
# Try it on a toy course where the numbers disagree with the dependencies: `b` is numbered
# first but builds on `a`.

# %%
toy = ModuleGraph.from_nodes([
    ModuleNode("tinytorch-b", 1, requires=("tinytorch-a",)),
    ModuleNode("tinytorch-a", 2),
    ModuleNode("tinytorch-c", 3),
])
print(toy.topological_order())

# %% [markdown]
# ### Exercise 5 — levels: how deep each module sits
#
# **File:** `graph.py`, method `ModuleGraph.levels()`. A module's level is 0 when it declares
# nothing, else 1 + the largest level among its dependencies. Visit the modules in topological
# order — then every dependency's level is known when you need it — and fill the dict `level`.
# Modules of one level can be learnt in any order once the levels above are done.

# %%
check("introduction", "levels")

# %% [markdown]
# ## Use: the real course, read from the code
#
# `discover()` reads the course from the checkout (every `packages/*/pyproject.toml`) when there
# is one, else from the installed `tinytorch-*` distributions. `to_text` lays it out by level
# with *your* `levels` and `topological_order`.

# %%
start = time.perf_counter()
course = intro.discover()
print(intro.to_text(course, show_status=False))
print(f"read {len(course.nodes)} modules in {time.perf_counter() - start:.2f} s")

# %% [markdown]
# Now the statistics of every module, with your three counters, drawn in learning order: the
# code you will write against the tests that check it.

# %%
import matplotlib.pyplot as plt

start = time.perf_counter()
stats = intro.graph_stats(course)
seconds = time.perf_counter() - start
found = [(course.nodes[name].label, s) for name, s in stats.items() if s.found]
labels = [label for label, _ in found]
level = course.levels()
colors = [plt.cm.viridis(level[name] / max(level.values())) for name, s in stats.items() if s.found]

fig, ax = plt.subplots(1, 2, figsize=(9, 4.5), sharey=True)
ax[0].barh(labels, [s.code_lines for _, s in found], color=colors)
ax[0].set_title("lines of code"); ax[0].invert_yaxis()
ax[1].barh(labels, [s.tests for _, s in found], color=colors)
ax[1].set_title("test functions (colour = level)")
plt.tight_layout()
plt.show()
total = sum(s.code_lines for _, s in found)
print(f"{len(found)} modules, {total:,} lines of code, "
      f"{sum(s.solution_blocks for _, s in found)} solution blocks, counted in {seconds:.2f} s")

# %% [markdown]
# And a picture of the graph, written as SVG (no matplotlib needed for that format):

# %%
svg = intro.save_figure(course, str(Path(work.name) / "course.svg"))
print(svg, f"{Path(svg).stat().st_size:,} bytes")
try:
    from IPython.display import SVG, display
    display(SVG(filename=svg))
except ImportError:
    pass

# %% [markdown]
# ## Reflect
#
# 1. Kahn's algorithm keeps the ready modules in a heap. What would change if it took them in
#    the order the dict happens to hold them — would the order still be valid? Still the same
#    every run?
# 2. Make a cycle (`a` declares `c`, `c` declares `a`) and call `topological_order()`: which
#    modules does the error name, and why can't any of them be learnt first?
# 3. *Systems:* the docs site regenerates this page at every build. How does the counting cost
#    grow with the amount of source? Measure it below: `count_code_lines` and
#    `count_solution_blocks` over the same text repeated 1, 4 and 16 times.

# %%
text = "\n".join((here / name).read_text() for name in ("graph.py", "stats.py", "render.py"))
for repeat in (1, 4, 16):
    big = text * repeat
    t0 = time.perf_counter(); intro.count_code_lines(big); t1 = time.perf_counter()
    intro.count_solution_blocks(big); t2 = time.perf_counter()
    print(f"{len(big.splitlines()):7,} lines: code_lines {1e3 * (t1 - t0):6.1f} ms, "
          f"solution_blocks (tokenize) {1e3 * (t2 - t1):7.1f} ms")

# %% [markdown]
# 4. Tokenizing is much slower per line than splitting. Why is it still the right tool for
#    `count_solution_blocks`, and when would a plain text search give a wrong count?
