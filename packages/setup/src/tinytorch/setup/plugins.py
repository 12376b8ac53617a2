"""Plugins: later modules add ``tito`` commands without the setup module depending on them.

A distribution declares an entry point in the group ``tinytorch.tito`` naming a callable
``register(subparsers)``; ``tito`` calls it with the ``argparse`` sub-parsers of the command
group the entry point's *name* selects:

* a plain name (``train``) adds a top-level command: ``tito train``;
* a dotted name (``system.graph``) adds a sub-command to a built-in group: ``tito system
  graph``. The groups are ``system``, ``module`` and ``dev``.

``register`` adds a parser and sets ``func`` (a callable taking the parsed arguments and
returning the exit code)::

    def register(subparsers):
        parser = subparsers.add_parser("train", help="train a model", description=...)
        parser.add_argument("--epochs", type=int, default=10)
        parser.set_defaults(func=run)

A plugin that fails to load or register is skipped with a warning (``tito system doctor``
lists it), so one broken package never takes the whole command line down. Keep the module
that holds ``register`` light: import heavy things inside ``run``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata

__all__ = ["GROUP", "Plugin", "discover_plugins", "register_plugins"]

#: The entry point group ``tito`` reads.
GROUP = "tinytorch.tito"


@dataclass(frozen=True)
class Plugin:
    """One ``tinytorch.tito`` entry point.

    Attributes:
        name: The entry point name, e.g. ``train`` or ``system.graph``.
        value: What it points to, e.g. ``tinytorch.core.training.cli:register``.
        distribution: The distribution that declares it.
        entry_point: The entry point itself.
    """

    name: str
    value: str
    distribution: str
    entry_point: metadata.EntryPoint

    @property
    def group(self) -> str:
        """The built-in command group it extends (``""`` for a top-level command)."""
        return self.name.rpartition(".")[0]

    def load(self) -> Callable[[argparse._SubParsersAction], object]:
        """Import the ``register`` callable."""
        register = self.entry_point.load()
        if not callable(register):
            raise TypeError(f"{self.value} is not callable")
        return register


def discover_plugins(path: list[str] | None = None) -> list[Plugin]:
    """Every ``tinytorch.tito`` entry point, the first of each name winning, sorted by name."""
    found: dict[str, Plugin] = {}
    dists = metadata.distributions(path=path) if path is not None else metadata.distributions()
    seen_dists: set[str] = set()
    for dist in dists:
        dist_name = (dist.metadata["Name"] if dist.metadata else None) or "?"
        if dist_name in seen_dists:
            continue
        seen_dists.add(dist_name)
        for ep in dist.entry_points:
            if ep.group == GROUP and ep.name not in found:
                found[ep.name] = Plugin(ep.name, ep.value, dist_name, ep)
    return [found[name] for name in sorted(found)]


def register_plugins(groups: Mapping[str, argparse._SubParsersAction],
                     path: list[str] | None = None) -> list[str]:
    """Let every plugin add its command; return the problems (one line each).

    Args:
        groups: The sub-parsers of each command group; ``""`` is the top level.
        path: Search these folders for distributions instead of ``sys.path``.
    """
    problems: list[str] = []
    for plugin in discover_plugins(path):
        subparsers = groups.get(plugin.group)
        where = f"plugin {plugin.name!r} ({plugin.value}, from {plugin.distribution})"
        if subparsers is None:
            known = ", ".join(sorted(g for g in groups if g)) or "none"
            problems.append(f"{where}: no command group {plugin.group!r} (groups: {known})")
            continue
        try:
            plugin.load()(subparsers)
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not break tito
            problems.append(f"{where}: {type(exc).__name__}: {exc}")
    return problems
