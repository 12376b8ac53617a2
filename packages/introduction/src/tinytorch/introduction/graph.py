"""The modules and what each builds on, read from the packages themselves.

Nothing here lists the course's modules by hand. Two sources say which modules exist and which
declares which:

* the installed distributions: ``importlib.metadata`` gives every ``tinytorch-*``
  distribution's name, version, summary and ``Requires-Dist`` lines;
* the repository checkout, when there is one: every ``packages/*/pyproject.toml`` gives the
  same facts plus ``[tool.tinytorch] module = N``, the module's number.

:func:`discover` prefers the checkout (it also knows modules you have not installed) and
annotates each module with what is installed. The :class:`ModuleGraph` it returns answers the
questions the rest of this package asks: in which order can the modules be learnt
(:meth:`ModuleGraph.topological_order`), how deep is each one (:meth:`ModuleGraph.levels`),
which arrows are implied by others (:meth:`ModuleGraph.transitive_reduction`).
"""

from __future__ import annotations

import heapq
import json
import os
import re
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Iterable
from urllib.parse import unquote, urlparse

__all__ = [
    "META_DISTRIBUTION",
    "STUDENT_LABEL",
    "CycleError",
    "ModuleNode",
    "ModuleGraph",
    "normalize",
    "requirement_name",
    "is_student_version",
    "find_repo",
    "discover",
]

#: The meta-package that depends on every module and ships no code; not a node of the graph.
META_DISTRIBUTION = "tinytorch-framework"  # ("tinytorch" on PyPI is an unrelated project)
#: The local version label of a student's version of a module (``0.1.0+student``).
STUDENT_LABEL = "student"

_PREFIX = "tinytorch-"
_MODULE_IN_SUMMARY = re.compile(r"\bmodule\s+(\d{1,2})\b", re.IGNORECASE)


class CycleError(ValueError):
    """The declared dependencies contain a cycle, so no learning order exists."""


def normalize(name: str) -> str:
    """The PEP 503 form of a distribution name: ``TinyTorch_Tensor`` -> ``tinytorch-tensor``."""
    return re.sub(r"[-_.]+", "-", name).lower().strip()


def requirement_name(requirement: str) -> str | None:
    """The distribution a ``Requires-Dist`` line names, or None when only an extra needs it.

    ``"tinytorch-tensor<0.2,>=0.1"`` -> ``"tinytorch-tensor"``;
    ``"pytest>=7; extra == 'test'"`` -> None (a test dependency is not a prerequisite).
    """
    text, _, marker = requirement.partition(";")
    if "extra" in marker:
        return None
    m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", text)
    return normalize(m.group(1)) if m else None


def is_student_version(version: str | None) -> bool:
    """True for a student's version: the local label ``+student`` (``0.1.0+student``)."""
    if not version or "+" not in version:
        return False
    return version.partition("+")[2].strip().lower() == STUDENT_LABEL


@dataclass
class ModuleNode:
    """One course module (one distribution) and what it declares.

    Attributes:
        name: the distribution name, normalised (``tinytorch-tensor``).
        number: the module's number in the course, when known (``[tool.tinytorch] module``,
            or "module NN" in the installed summary).
        version: the version the source declares (or the installed one outside a checkout).
        summary: the one-line description.
        requires: the sibling distributions it declares (direct dependencies only).
        path: the project folder (``packages/<folder>``, or an editable install's folder).
        installed_version: the installed version, None when it is not installed.
        installed_files: for an installed wheel (not editable), its recorded files.
        entry_points: the ``tinytorch.tito`` commands it adds (``name = value``).
    """

    name: str
    number: int | None = None
    version: str | None = None
    summary: str = ""
    requires: tuple = ()
    path: Path | None = None
    installed_version: str | None = None
    installed_files: tuple = ()
    entry_points: tuple = ()

    @property
    def folder(self) -> str:
        """The short name: the distribution name without ``tinytorch-`` (``tensor``)."""
        return self.name[len(_PREFIX):] if self.name.startswith(_PREFIX) else self.name

    @property
    def label(self) -> str:
        """``02 tensor`` (or just the folder when the number is unknown)."""
        return f"{self.number:02d} {self.folder}" if self.number is not None else self.folder

    @property
    def installed(self) -> bool:
        """Whether some version of it is installed."""
        return self.installed_version is not None

    @property
    def is_student(self) -> bool:
        """Whether the installed version is a student's (``+student``)."""
        return is_student_version(self.installed_version)


@dataclass
class ModuleGraph:
    """The modules (nodes) and their declared dependencies (edges ``dependency -> user``).

    Args:
        nodes: the modules, each listing the sibling distributions it declares.
        source: where the facts come from (for reports), e.g. "repository /work/tinytorch".
    """

    nodes: dict = field(default_factory=dict)
    source: str = ""

    @classmethod
    def from_nodes(cls, nodes: Iterable[ModuleNode], source: str = "") -> "ModuleGraph":
        """A graph of these modules, keyed by distribution name."""
        return cls({n.name: n for n in nodes}, source)

    # ------------------------------------------------------------------ queries
    def __len__(self) -> int:
        return len(self.nodes)

    def __contains__(self, name: str) -> bool:
        return self.resolve(name) is not None

    def resolve(self, key: str | int) -> str | None:
        """The distribution name a user means: ``"tensor"``, ``"02"``, ``2`` or ``"tinytorch-tensor"``."""
        text = str(key).strip()
        if text.isdigit():
            for n in self.nodes.values():
                if n.number == int(text):
                    return n.name
            return None
        name = normalize(text)
        if name in self.nodes:
            return name
        name = _PREFIX + name
        return name if name in self.nodes else None

    def node(self, key: str | int) -> ModuleNode:
        """The module a user means (see :meth:`resolve`); KeyError naming the known ones."""
        name = self.resolve(key)
        if name is None:
            known = ", ".join(n.folder for n in self.ordered_nodes())
            raise KeyError(f"no module {key!r} in the graph (known: {known})")
        return self.nodes[name]

    def dependencies(self, name: str) -> list:
        """The modules ``name`` declares that are in the graph (direct), in number order."""
        deps = [d for d in self.nodes[name].requires if d in self.nodes]
        return sorted(deps, key=self._sort_key)

    def missing(self, name: str) -> list:
        """Siblings ``name`` declares that the graph does not hold (not installed, say)."""
        return [d for d in self.nodes[name].requires if d not in self.nodes]

    def dependents(self, name: str) -> list:
        """The modules that declare ``name`` directly, in number order."""
        users = [n.name for n in self.nodes.values() if name in n.requires]
        return sorted(users, key=self._sort_key)

    def edges(self) -> list:
        """Every declared dependency inside the graph, as ``(dependency, user)`` pairs."""
        return [(d, n) for n in self.nodes for d in self.dependencies(n)]

    def prerequisites(self, name: str) -> list:
        """Everything ``name`` builds on, directly or not, in learning order."""
        seen: set = set()
        todo = list(self.dependencies(name))
        while todo:
            d = todo.pop()
            if d not in seen:
                seen.add(d)
                todo.extend(self.dependencies(d))
        return [n for n in self.topological_order() if n in seen]

    def ordered_nodes(self) -> list:
        """The nodes in learning order (see :meth:`topological_order`)."""
        return [self.nodes[n] for n in self.topological_order()]

    def _sort_key(self, name: str) -> tuple:
        n = self.nodes[name]
        return (n.number is None, n.number if n.number is not None else 0, name)

    # ------------------------------------------------------------------ the algorithms
    def topological_order(self) -> list:
        """The modules in an order where each comes after everything it declares.

        Kahn's algorithm: repeatedly take a module whose dependencies are all placed. When
        several are ready, the one with the lowest module number (then name) goes first, so
        the order is deterministic and, for a course whose numbers respect its dependencies,
        it is the course order.

        Raises:
            CycleError: naming the modules on a cycle (no order exists then).
        """
        ### BEGIN SOLUTION
        ### HINT: count each module's unplaced dependencies (self.dependencies(name)); a heap
        ### HINT: of (self._sort_key(name), name) holds those with none left; pop, place, and
        ### HINT: decrement the count of each of self.dependents(name)
        waiting = {name: len(self.dependencies(name)) for name in self.nodes}
        ready = [(self._sort_key(n), n) for n, k in waiting.items() if k == 0]
        heapq.heapify(ready)
        order = []
        while ready:
            _, name = heapq.heappop(ready)
            order.append(name)
            for user in self.dependents(name):
                waiting[user] -= 1
                if waiting[user] == 0:
                    heapq.heappush(ready, (self._sort_key(user), user))
        ### END SOLUTION
        if len(order) != len(self.nodes):
            stuck = sorted((n for n in self.nodes if n not in order), key=self._sort_key)
            raise CycleError("the declared dependencies form a cycle among "
                             + ", ".join(self.nodes[n].label for n in stuck)
                             + ": no module of these can be learnt first")
        return order

    def levels(self) -> dict:
        """Each module's depth: 0 when it declares nothing, else 1 + its deepest dependency's.

        Modules of one level can be learnt in any order once the levels above are done; the
        text and picture of the graph are laid out by level.

        Returns:
            ``{name: level}`` for every module of the graph. Example: tensor (declares
            nothing) is 0, activations (declares tensor) is 1, a module declaring both is 2.
        """
        level: dict = {}
        ### BEGIN SOLUTION
        ### HINT: visit modules in self.topological_order(): every dependency's level is known
        ### HINT: by the time you reach a module; max() of an empty list fails, so test for it
        for name in self.topological_order():
            deps = self.dependencies(name)
            level[name] = 1 + max(level[d] for d in deps) if deps else 0
        ### END SOLUTION
        return level

    def layers(self) -> list:
        """The modules grouped by level: ``[[level-0 names], [level-1 names], ...]``."""
        level = self.levels()
        out: list = [[] for _ in range(max(level.values(), default=-1) + 1)]
        for name in self.topological_order():
            out[level[name]].append(name)
        return out

    def reachable(self, start: str, skip_edge: tuple | None = None) -> set:
        """Modules that build on ``start`` (follow dependents), optionally ignoring one edge."""
        seen: set = set()
        todo = [start]
        while todo:
            cur = todo.pop()
            for user in self.dependents(cur):
                if (cur, user) == skip_edge or user in seen:
                    continue
                seen.add(user)
                todo.append(user)
        return seen

    def transitive_reduction(self) -> list:
        """The edges no other path implies: ``training`` declares ``tensor``, but it also
        declares ``layers``, which builds on ``tensor`` — that arrow is left out of pictures.

        Returns ``(dependency, user)`` pairs; :meth:`edges` keeps every declared one.
        """
        self.topological_order()  # a cycle has no reduction: raise CycleError first
        return [(d, u) for d, u in self.edges() if u not in self.reachable(d, skip_edge=(d, u))]

    def to_dict(self) -> dict:
        """Plain values (for ``--format json``)."""
        level = self.levels()
        return {"source": self.source, "modules": [
            {"name": n.name, "folder": n.folder, "number": n.number, "version": n.version,
             "installed_version": n.installed_version, "student": n.is_student,
             "summary": n.summary, "level": level[n.name], "requires": self.dependencies(n.name),
             "missing": self.missing(n.name)} for n in self.ordered_nodes()],
            "edges": [list(e) for e in self.edges()],
            "reduced_edges": [list(e) for e in self.transitive_reduction()]}


# ---------------------------------------------------------------------------- reading
def _read_toml(path: Path) -> dict | None:
    if sys.version_info >= (3, 11):
        import tomllib

        with open(path, "rb") as f:
            return tomllib.load(f)
    return None  # Python 3.10: no TOML reader in the standard library


def _looks_like_repo(path: Path) -> bool:
    return (path / "packages").is_dir() and any((path / "packages").glob("*/pyproject.toml"))


def find_repo(start: str | os.PathLike | None = None) -> Path | None:
    """The TinyTorch checkout to read, if any.

    ``$TINYTORCH_REPO`` wins (empty or ``none``: behave as outside any checkout); otherwise
    the first folder holding ``packages/*/pyproject.toml`` at or above ``start`` (default: the
    working directory), then the checkout this file itself lives in (an editable install).
    """
    env = os.environ.get("TINYTORCH_REPO")
    if env is not None:
        if env.strip().lower() in ("", "none"):
            return None
        path = Path(env).expanduser().resolve()
        return path if _looks_like_repo(path) else None
    here = Path(start or os.getcwd()).resolve()
    for candidate in (here, *here.parents):
        if _looks_like_repo(candidate):
            return candidate
    mine = Path(__file__).resolve()
    if len(mine.parents) > 5 and mine.parents[3].name == "introduction":
        repo = mine.parents[5]
        if _looks_like_repo(repo):
            return repo
    return None


def _node_from_pyproject(path: Path) -> ModuleNode | None:
    data = _read_toml(path)
    if data is None:
        return None
    project = data.get("project", {})
    name = normalize(project.get("name", ""))
    if not name.startswith(_PREFIX) or name == META_DISTRIBUTION:
        return None
    number = data.get("tool", {}).get("tinytorch", {}).get("module")
    requires = tuple(r for r in (requirement_name(x) for x in project.get("dependencies", []))
                     if r and r.startswith(_PREFIX))
    eps = project.get("entry-points", {}).get("tinytorch.tito", {})
    return ModuleNode(name, number if isinstance(number, int) else None,
                      str(project.get("version", "")) or None, project.get("description", ""),
                      requires, path.parent, entry_points=tuple(f"{k} = {v}" for k, v in eps.items()))


def _direct_url(dist: metadata.Distribution) -> dict:
    try:
        data = json.loads(dist.read_text("direct_url.json") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _editable_dir(dist: metadata.Distribution) -> Path | None:
    info = _direct_url(dist)
    url = info.get("url")
    editable = isinstance(info.get("dir_info"), dict) and info["dir_info"].get("editable")
    if editable and isinstance(url, str) and url.startswith("file:"):
        return Path(unquote(urlparse(url).path))
    return None


def _installed(path: list | None = None) -> dict:
    """name -> Distribution for every installed tinytorch-* distribution (first on the path wins)."""
    found: dict = {}
    dists = metadata.distributions(path=path) if path is not None else metadata.distributions()
    for dist in dists:
        name = normalize((dist.metadata["Name"] if dist.metadata else None) or "")
        if name.startswith(_PREFIX) and name != META_DISTRIBUTION and name not in found:
            found[name] = dist
    return found


def _recorded_files(dist: metadata.Distribution) -> tuple:
    """Absolute paths of the files a distribution recorded (empty when RECORD is unreadable)."""
    try:
        return tuple(Path(str(dist.locate_file(f))) for f in dist.files or [])
    except (TypeError, ValueError):  # a malformed RECORD
        return ()


def _node_from_dist(name: str, dist: metadata.Distribution) -> ModuleNode:
    summary = dist.metadata["Summary"] or ""
    editable = _editable_dir(dist)
    number = None
    if editable and (editable / "pyproject.toml").is_file():
        from_source = _node_from_pyproject(editable / "pyproject.toml")
        number = from_source.number if from_source else None
    if number is None:
        m = _MODULE_IN_SUMMARY.search(summary)
        number = int(m.group(1)) if m else None
    requires = tuple(r for r in (requirement_name(x) for x in dist.requires or [])
                     if r and r.startswith(_PREFIX))
    files = () if editable else _recorded_files(dist)
    eps = tuple(f"{ep.name} = {ep.value}" for ep in dist.entry_points if ep.group == "tinytorch.tito")
    return ModuleNode(name, number, dist.version, summary, requires, editable,
                      installed_version=dist.version, installed_files=files, entry_points=eps)


def from_installed(path: list | None = None) -> ModuleGraph:
    """The graph of the installed ``tinytorch-*`` distributions (``importlib.metadata``)."""
    nodes = [_node_from_dist(n, d) for n, d in sorted(_installed(path).items())]
    where = "the installed distributions" + (f" in {', '.join(map(str, path))}" if path else "")
    return ModuleGraph.from_nodes(nodes, where)


def from_repo(repo: str | os.PathLike, path: list | None = None) -> ModuleGraph:
    """The graph of ``repo/packages/*/pyproject.toml``, each annotated with what is installed.

    Raises:
        RuntimeError: Python 3.10 without a TOML reader (use :func:`from_installed`).
    """
    repo = Path(repo)
    if not _has_tomllib():
        raise RuntimeError("reading pyproject.toml needs Python >= 3.11 (tomllib)")
    installed = _installed(path)
    nodes = []
    for pyproject in sorted(repo.glob("packages/*/pyproject.toml")):
        node = _node_from_pyproject(pyproject)
        if node is None:
            continue
        dist = installed.get(node.name)
        if dist is not None:
            node.installed_version = dist.version
            if _editable_dir(dist) is None:
                node.installed_files = _recorded_files(dist)
        nodes.append(node)
    return ModuleGraph.from_nodes(nodes, f"the repository at {repo}")


def _has_tomllib() -> bool:
    return sys.version_info >= (3, 11)


def discover(source: str = "auto", repo: str | os.PathLike | None = None,
             path: list | None = None) -> ModuleGraph:
    """The module graph from ``source``: ``"repo"``, ``"installed"`` or ``"auto"``.

    ``auto`` reads the checkout when there is one (:func:`find_repo`) and Python can read
    TOML, otherwise the installed distributions.
    """
    if source not in ("auto", "repo", "installed"):
        raise ValueError(f"source must be 'auto', 'repo' or 'installed', got {source!r}")
    if source == "installed":
        return from_installed(path)
    where = Path(repo) if repo is not None else find_repo()
    if where is None:
        if source == "repo":
            raise FileNotFoundError("no TinyTorch checkout found (run inside one, or set "
                                    "TINYTORCH_REPO=/path/to/checkout)")
        return from_installed(path)
    if source == "auto" and not _has_tomllib():
        return from_installed(path)
    return from_repo(where, path)
