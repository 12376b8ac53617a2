"""MkDocs hook: the TinyTorch site's package pages, generated from packages/ at build time.

For every folder under packages/ with a pyproject.toml (read by .ci/tt.py, the same code the
contract test and tox use) it adds, as in-memory pages:

* ``modules/<folder>.md``   the module's chapter: its README, links rewritten for the site;
* ``api/<folder>.md``       its API reference (``::: tinytorch.core.<name>``), once it has code;
* ``dependencies.md``       the modules' dependency graph (mermaid) and a table, from the
                            ``[project] dependencies`` of each pyproject.toml.

and builds the navigation around the hand-written pages (index, getting started, instructors).
A new package appears on the site as soon as its folder has a pyproject.toml.
"""
from __future__ import annotations

import importlib.util
import posixpath
import re
import sys
from pathlib import Path
from types import ModuleType

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

_state: dict = {}

_INLINE = re.compile(r"(!?\[(?:[^\[\]]|\[[^\]]*\])*\])\(\s*<?([^)\s>]+)>?(\s+\"[^\"]*\")?\s*\)")
_REFDEF = re.compile(r"(?m)^(\s{0,3}\[[^\]]+\]:\s*)<?(\S+?)>?(\s+\"[^\"]*\")?\s*$")
_FENCE = re.compile(r"(?ms)^(```|~~~).*?^\1")


def _tt(repo: Path) -> ModuleType:
    """Import .ci/tt.py (the repository's one reader of packages/)."""
    name = "_tinytorch_repo_tools"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, repo / ".ci" / "tt.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _has_code(pkg) -> bool:
    src = pkg.path / "src"
    return any(src.rglob("*.py")) if src.is_dir() else False


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    repo = Path(config.config_file_path).resolve().parent
    tt = _tt(repo)
    pkgs = tt.load_packages(repo)
    modules = [p for p in pkgs if not p.is_meta]
    meta = [p for p in pkgs if p.is_meta]
    _state.update(repo=repo, tt=tt, pkgs=pkgs)

    chapters = [{p.label: f"modules/{p.folder}.md"} for p in modules]
    chapters += [{"tinytorch (everything)": f"modules/{p.folder}.md"} for p in meta]
    api = [{p.label: f"api/{p.folder}.md"} for p in modules if _has_code(p)]
    nav = [
        {"Home": "index.md"},
        {"Getting started": "getting-started.md"},
        {"Modules": chapters},
    ]
    if api:
        nav.append({"API reference": api})
    nav += [{"Dependency graph": "dependencies.md"}, {"For instructors": "instructors.md"}]
    config.nav = nav
    return config


def _rewrite_links(text: str, folder: str, known: set[str], repo_url: str) -> str:
    """README links are relative to packages/<folder>/; make them work from modules/<folder>.md."""

    def target(url: str) -> str:
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", url) or url.startswith(("#", "/")):
            return url
        path, _, anchor = url.partition("#")
        anchor = f"#{anchor}" if anchor else ""
        resolved = posixpath.normpath(posixpath.join("packages", folder, path))
        parts = resolved.split("/")
        if len(parts) == 3 and parts[0] == "packages" and parts[2] == "README.md" and parts[1] in known:
            return f"{parts[1]}.md{anchor}"
        if parts[0] == "docs" and len(parts) > 1:
            return posixpath.relpath("/".join(parts[1:]), "modules") + anchor
        return f"{repo_url.rstrip('/')}/blob/main/{resolved}{anchor}"

    def inline(m: re.Match) -> str:
        return f"{m.group(1)}({target(m.group(2))}{m.group(3) or ''})"

    def refdef(m: re.Match) -> str:
        return f"{m.group(1)}{target(m.group(2))}{m.group(3) or ''}"

    # leave fenced code blocks alone
    out, last = [], 0
    for fence in _FENCE.finditer(text):
        chunk = text[last:fence.start()]
        out.append(_REFDEF.sub(refdef, _INLINE.sub(inline, chunk)))
        out.append(fence.group(0))
        last = fence.end()
    out.append(_REFDEF.sub(refdef, _INLINE.sub(inline, text[last:])))
    return "".join(out)


def _facts(pkg, names: dict, has_api: bool) -> str:
    deps = [names[r.name] for r in pkg.sibling_requirements if r.name in names]
    dep_links = ", ".join(f"[{d.name}]({d.folder}.md)" for d in deps) or "none (numpy only)"
    rows = [
        ("Distribution", f"`{pkg.name}` {pkg.version}"),
        ("Install alone", f"`pip install {pkg.name}`"),
    ]
    if pkg.module is not None:
        rows.insert(0, ("Module", f"{pkg.module:02d}"))
        rows.append(("Import", ", ".join(f"`{r}`" for r in pkg.import_roots) or "—"))
        rows.append(("Builds on", dep_links))
    if has_api:
        rows.append(("API reference", f"[{pkg.folder}](../api/{pkg.folder}.md)"))
    table = "| | |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)
    return table + "\n"


def _chapter(pkg, names: dict, repo_url: str, has_api: bool) -> str:
    readme = pkg.path / "README.md"
    text = readme.read_text(encoding="utf-8") if readme.is_file() else f"# {pkg.name}\n\n(no README yet)\n"
    text = _rewrite_links(text, pkg.folder, {p.folder for p in names.values()}, repo_url)
    facts = _facts(pkg, names, has_api)
    lines = text.split("\n")
    for i, line in enumerate(lines):  # after the first heading, the module's facts
        if line.startswith("# "):
            return "\n".join(lines[: i + 1] + ["", facts] + lines[i + 1:])
    return f"# {pkg.name}\n\n{facts}\n{text}"


def _api(pkg) -> str:
    blocks = "\n\n".join(f"::: {root}" for root in pkg.import_roots)
    return (f"# API: {pkg.name}\n\n"
            f"Module {pkg.label}. The lesson is in [its chapter](../modules/{pkg.folder}.md).\n\n{blocks}\n")


def _dependencies(tt, pkgs: list) -> str:
    names = tt.by_name(pkgs)
    modules = [p for p in pkgs if not p.is_meta]
    users: dict[str, list] = {p.name: [] for p in modules}
    for p in modules:
        for r in p.sibling_requirements:
            if r.name in users:
                users[r.name].append(p)
    rows = []
    for p in modules:
        deps = ", ".join(f"[{names[r.name].folder}](modules/{names[r.name].folder}.md) `{r.specifier}`"
                         for r in p.sibling_requirements if r.name in names) or "—"
        used = ", ".join(f"[{u.folder}](modules/{u.folder}.md)" for u in users[p.name]) or "—"
        number = f"{p.module:02d}" if p.module is not None else "?"
        rows.append(f"| {number} | [{p.name}](modules/{p.folder}.md) | {p.version} | {deps} | {used} |")
    return "\n".join([
        "# Dependency graph",
        "",
        "Generated when this site was built, from the `[project] dependencies` of every",
        "`packages/*/pyproject.toml`. An arrow `a --> b` means *b declares a* (and may import it).",
        "A module declares only modules with a lower number, with a range capped at the next minor",
        "version; the contract test (`integration/test_package_contract.py`) checks that each one",
        "imports nothing it does not declare.",
        "",
        "```mermaid",
        tt.mermaid_graph(pkgs),
        "```",
        "",
        f"{len(modules)} module(s) in `packages/` today; the `tinytorch` meta-package depends on all of them.",
        "",
        "| # | distribution | version | builds on (declared) | used by |",
        "|---|---|---|---|---|",
        *rows,
        "",
    ])


def on_files(files: Files, config: MkDocsConfig) -> Files:
    tt, pkgs = _state["tt"], _state["pkgs"]
    names = tt.by_name(pkgs)
    repo_url = config.repo_url or "https://github.com/tinytorch/tinytorch"
    for pkg in pkgs:
        has_api = not pkg.is_meta and _has_code(pkg)
        files.append(File.generated(config, f"modules/{pkg.folder}.md",
                                    content=_chapter(pkg, names, repo_url, has_api)))
        if has_api:
            files.append(File.generated(config, f"api/{pkg.folder}.md", content=_api(pkg)))
    files.append(File.generated(config, "dependencies.md", content=_dependencies(tt, pkgs)))
    return files
