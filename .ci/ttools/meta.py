"""The meta-package's dependency list and the module dependency graph."""

from __future__ import annotations

import re

from .model import (
    META,
    REPO,
    Package,
    by_name,
    load_packages,
    lower_bound,
    pad_version,
    version_tuple,
)

# The meta-package and the dependency graph
# --------------------------------------------------------------------------------------------

def meta_requirements(pkgs: list[Package]) -> list[str]:
    """The meta-package's dependencies: every module, from its minor series (`>=0.1`) — or from the
    highest floor another module declares for it, when that is higher — to the next minor (`<0.2`).
    Ranges, not exact pins: a module's bug-fix release reaches `pip install` of the meta-package
    without a new meta release (docs/maintainers.md explains the choice)."""
    floors: dict[str, tuple[int, ...]] = {}
    for p in pkgs:
        for r in p.sibling_requirements if not p.is_meta else []:
            lo = lower_bound(r.specifier)
            if lo is not None and pad_version(lo) > pad_version(floors.get(r.name, ())):
                floors[r.name] = lo
    out = []
    for p in pkgs:
        if p.is_meta:
            continue
        v = version_tuple(p.version)
        lo, hi = (f"{v[0]}.{v[1]}", f"{v[0]}.{v[1] + 1}") if v[0] == 0 else (f"{v[0]}.0", f"{v[0] + 1}")
        declared = floors.get(p.name)
        if declared is not None and pad_version(declared) > pad_version(version_tuple(lo)):
            lo = ".".join(map(str, declared))
        out.append(f"{p.name}>={lo},<{hi}")
    return out


def sync_meta(pkgs: list[Package] | None = None) -> bool:
    """Rewrite the meta-package's dependency list; True if the file changed."""
    pkgs = load_packages() if pkgs is None else pkgs
    path = REPO / "packages" / META / "pyproject.toml"
    text = path.read_text(encoding="utf-8")
    body = "".join(f'    "{r}",\n' for r in meta_requirements(pkgs))
    new, n = re.subn(r"(?ms)^dependencies\s*=\s*\[.*?^\]", f"dependencies = [\n{body}]", text, count=1)
    if n != 1:
        raise SystemExit(f"{path}: no multi-line `dependencies = [ ... ]` array to rewrite")
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


def mermaid_graph(pkgs: list[Package] | None = None) -> str:
    """The modules and their declared sibling dependencies as a mermaid flowchart."""
    pkgs = load_packages() if pkgs is None else pkgs
    modules = [p for p in pkgs if not p.is_meta]
    names = by_name(pkgs)
    lines = ["flowchart LR"]
    for p in modules:
        lines.append(f'    {p.folder}["{p.label}<br/><code>{p.name}</code>"]')
    for p in modules:
        for r in p.sibling_requirements:
            if r.name in names:
                lines.append(f"    {names[r.name].folder} --> {p.folder}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
