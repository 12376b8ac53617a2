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
# # Module 01 — Setup: the workbench you write on
#
# Every later module is code you write; this one is the tool that hands it to you. `tito
# module start tensor` copies the reference implementation of a module into your workspace,
# cuts the **solution blocks** out of it, and installs that copy *editable* in place of the
# reference, so every module after it runs on your code and each edit is live. `tito test`
# (and the `check(...)` cells of every lesson) then run the module's own tests on it.
#
# A solution block is a marked run of statements inside a function body:
#
# ```python
# def relu(x):
#     """max(x, 0)"""
#     ### BEGIN SOLUTION
#     ### HINT: keep the positive part, zero the rest
#     return x.maximum(0)
#     ### END SOLUTION
# ```
#
# In your version it becomes the hint lines and a `raise NotImplementedError("…relu: implement
# this (see the hint above)")` at the same indentation: the module still imports, and every
# call of an unwritten function says what to write. You build the two pieces of
# `tinytorch/setup/stubbing.py` that do this. Finding the markers with Python's tokenizer (so a
# docstring that *shows* a block, like the one above, is not a block), checking them and
# compiling the result are given: read them, they are the spec. The commands are in the
# [README](https://tinytorch.github.io/tinytorch/modules/setup/).

# %%
from tinytorch.setup.lesson import check, setup_lesson

setup_lesson("setup")   # autoreload on; says whether YOUR version or the reference is installed

# %%
import ast
import difflib
import time

import tinytorch.setup.stubbing as stubbing

# %% [markdown]
# ## Build
#
# ### Exercise 1 — innermost: which function is this line in?
#
# **File:** `src/tinytorch/setup/stubbing.py`, function `_innermost(scopes, line)`.
#
# A block must know the function it sits in: its stub's message names it
# (`Tensor.__add__`, `outer.<locals>.inner`), and a block at module or class level must be
# refused (stubbing it would break the import). `_scopes(tree)` (given) lists every function and
# class of the file as a `_Scope(qualname, kind, header, end)`: `header` is the line of its
# `def`/`class` keyword, `end` its last line. Return the scope whose body contains `line` —
# `header < line <= end` (the `def` line itself is not inside) — and, since scopes nest, the
# one that **starts last** among those; `None` when there is none (module level). The tests
# check the qualified names of methods, decorated, nested and async functions, and that blocks
# at module and class level are refused.

# %%
check("setup", "innermost")

# %% [markdown]
# Try it: the scopes of a small file, and the innermost one around a few lines.

# %%
source = '''\
class Layer:                      # 1
    scale = 2                     # 2
    def forward(self, x):         # 3
        def helper(v):            # 4
            return v * 2          # 5
        return helper(x)          # 6
def main():                       # 7
    return Layer().forward(1)     # 8
'''
scopes = stubbing._scopes(ast.parse(source))
for s in scopes:
    print(f"{s.qualname:30s} {s.kind:8s} lines {s.header}-{s.end}")
for line in [1, 2, 5, 6, 8]:
    found = stubbing._innermost(scopes, line)
    print(f"line {line}: {found.qualname if found else 'module level'}")

# %% [markdown]
# ### Exercise 2 — stub_source: write the student's version
#
# **File:** `stubbing.py`, the core loop of `stub_source(text, module, filename, only)`.
#
# `find_blocks` (given, with your `_innermost`) has returned the blocks in file order, each a
# `SolutionBlock` with `begin`/`end` (1-based lines of its markers), `indent` (the whitespace
# before the BEGIN marker), `qualname` and `hints`. `lines` is the source split with line
# endings kept, `newline` the file's line ending, `chosen` the BEGIN lines to stub (`None`:
# all), and `cursor` the index of the next line still to copy. For each chosen block: copy
# `lines[cursor : begin - 1]` (everything before its BEGIN marker), then each hint on its own
# line at the block's indentation, then
# `raise NotImplementedError(<_py_string(stub_message(module, qualname, has_hints))>)`, and move
# `cursor` past the END marker. After the loop copy the rest. Blocks not chosen are copied
# unchanged, markers included. Tabs, CRLF line endings and code around a block must survive
# exactly; the result is compiled (given) to prove it still imports.

# %%
check("setup", "stub_source")

# %% [markdown]
# ## Use
#
# ### Make a student's version, and run it
#
# A reference function with one block, the version your `stub_source` writes for a student,
# and what each does when called. This is exactly what `tito module start` does to every file
# of a module.

# %%
reference = '''\
import math


def softplus(x):
    """log(1 + e^x), computed without overflow for large x."""
    ### BEGIN SOLUTION
    ### HINT: for x > 0, log(1 + e^x) = x + log(1 + e^-x)
    if x > 0:
        return x + math.log1p(math.exp(-x))
    return math.log1p(math.exp(x))
    ### END SOLUTION
'''
student = stubbing.stub_source(reference, module="demo")
print("".join(difflib.unified_diff(reference.splitlines(True), student.splitlines(True),
                                   "reference.py", "student.py")))

for name, text in [("reference", reference), ("student", student)]:
    namespace = {}
    exec(compile(text, f"{name}.py", "exec"), namespace)
    try:
        print(f"{name:9s} softplus(800) = {namespace['softplus'](800.0)}")
    except NotImplementedError as err:
        print(f"{name:9s} NotImplementedError: {err}")

# %% [markdown]
# ### Every block of the course
#
# Your `find_blocks` on every installed module's source: how many exercises each module holds,
# and how many of them carry a hint.

# %%
from pathlib import Path

import matplotlib.pyplot as plt

import tinytorch

counts, sources = {}, []
for root in tinytorch.__path__:
    for path in sorted(Path(root).rglob("*.py")):
        if "tests" in path.parts or "lesson" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        blocks = stubbing.find_blocks(text, str(path))
        if blocks:
            sources.append((text.count("\n"), path.name, text))
            rel = path.relative_to(root).parts
            module = rel[1] if rel[0] == "core" else rel[0]
            total, hinted = counts.get(module, (0, 0))
            counts[module] = (total + len(blocks), hinted + sum(bool(b.hints) for b in blocks))

names = sorted(counts)
plt.figure(figsize=(8, 3))
plt.bar(names, [counts[n][0] for n in names], label="blocks")
plt.bar(names, [counts[n][1] for n in names], label="with a hint", alpha=0.7)
plt.xticks(rotation=60, ha="right")
plt.ylabel("solution blocks")
plt.legend()
plt.tight_layout()
plt.show()
print(f"{sum(t for t, _ in counts.values())} blocks in {len(counts)} installed modules, "
      f"{sum(h for _, h in counts.values())} with a hint")

# %% [markdown]
# ## Reflect
#
# 1. A stub could be `pass` (the function returns `None`) instead of a `raise`. What would a
#    student see when a later module called an unwritten function — and where?
# 2. Why look for markers with the tokenizer instead of a regular expression over the lines?
#    (Think of the module docstring of `stubbing.py`, and of a string that contains `#`.)
# 3. Why must a block hold whole statements and sit inside a function body? What would the
#    stub of a block that starts at an `else:` look like?
# 4. **Systems: how does stubbing scale with the size of a file?** `find_blocks` calls
#    `_innermost` (a scan over every scope) and checks every statement span *once per
#    block*. Measure `stub_source` on files of 50 to 400 functions, each with one block: is
#    the time per function constant? What is the largest file of the course, and does it
#    matter there?

# %%
def synthetic(n):
    """A file of n functions, each with a two-line solution block."""
    return "".join(f"def f{i}(x):\n    ### BEGIN SOLUTION\n    y = x + {i}\n    return y\n"
                   "    ### END SOLUTION\n\n\n" for i in range(n))


print(f"{'functions':>9} {'lines':>6} {'ms':>8} {'µs per function':>16}")
for n in [50, 100, 200, 400, 800]:
    text = synthetic(n)
    t0 = time.perf_counter()
    stubbing.stub_source(text)
    seconds = time.perf_counter() - t0
    print(f"{n:9d} {text.count(chr(10)):6d} {1e3 * seconds:8.1f} {1e6 * seconds / n:16.0f}")

lines, name, text = max(sources)      # the longest course file that holds a block
t0 = time.perf_counter()
stubbing.stub_source(text)
print(f"the longest file with a block, {name} ({lines} lines): "
      f"{1e3 * (time.perf_counter() - t0):.1f} ms")
