"""``pyproject.toml`` text: rebuilt from installed metadata, or with a new version.

When a module was installed from a wheel its ``pyproject.toml`` is not on disk, so
:func:`pyproject_from_metadata` writes an equivalent one (hatchling, the same name, version,
``requires-python``, dependencies, extras and entry points, tests force-included where the
wheel had them). :func:`set_project_version` rewrites the static ``version`` of a project.
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict

from .dists import InstalledDist
from .process import TitoError
from .registry import Module

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["pyproject_from_metadata", "set_project_version", "toml_string"]

_EXTRA = re.compile(r"""\s*(?:and\s+)?extra\s*==\s*['"]([^'"]+)['"]\s*(?:and\s+)?""")


def toml_string(text: str) -> str:
    """A TOML basic string (JSON's escapes are valid TOML)."""
    return json.dumps(text, ensure_ascii=False)


def _toml_list(items: list[str]) -> str:
    if not items:
        return "[]"
    return "[\n" + "".join(f"    {toml_string(item)},\n" for item in items) + "]"


def _split_extra(requirement: str) -> tuple[str | None, str]:
    """``'pytest>=7; extra == "test"'`` → ``("test", "pytest>=7")``."""
    if ";" not in requirement:
        return None, requirement.strip()
    spec, marker = requirement.split(";", 1)
    match = _EXTRA.search(marker)
    if match is None:
        return None, requirement.strip()
    rest = (marker[: match.start()] + " " + marker[match.end():]).strip()
    rest = re.sub(r"^(and\s+)|(\s+and)$", "", rest).strip()
    return match.group(1), spec.strip() + (f"; {rest}" if rest else "")


def pyproject_from_metadata(installed: InstalledDist, module: Module) -> str:
    """A hatchling ``pyproject.toml`` equivalent to the installed distribution's metadata."""
    meta = installed.dist.metadata
    name = meta["Name"] or installed.name
    summary = meta["Summary"] or f"TinyTorch module {module.number:02d}"
    dependencies: list[str] = []
    extras: dict[str, list[str]] = defaultdict(list)
    for line in installed.requirements():
        extra, requirement = _split_extra(line)
        (extras[extra] if extra else dependencies).append(requirement)
    lines = [
        "[build-system]",
        'requires = ["hatchling>=1.21"]',
        'build-backend = "hatchling.build"',
        "",
        "[project]",
        f"name = {toml_string(name)}",
        f"version = {toml_string(installed.version)}",
        f"description = {toml_string(summary)}",
        'readme = "README.md"',
        f"requires-python = {toml_string(meta['Requires-Python'] or '>=3.10')}",
        f"dependencies = {_toml_list(dependencies)}",
    ]
    if extras:
        lines += ["", "[project.optional-dependencies]"]
        lines += [f"{toml_string(k)} = {_toml_list(v)}" for k, v in sorted(extras.items())]
    groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for ep in installed.dist.entry_points:
        groups[ep.group].append((ep.name, ep.value))
    for group, entries in sorted(groups.items()):
        header = "[project.scripts]" if group == "console_scripts" else (
            f"[project.entry-points.{toml_string(group)}]")
        lines += ["", header]
        lines += [f"{toml_string(n)} = {toml_string(v)}" for n, v in sorted(entries)]
    lines += [
        "",
        "[tool.hatch.build.targets.wheel]",
        'packages = ["src/tinytorch"]',
        "",
        "[tool.hatch.build.targets.wheel.force-include]",
        f'"tests" = {toml_string(module.tests_dir)}',
    ]
    if any(f.as_posix().startswith(module.import_dir + "/lesson/") for f in installed.dist.files or []):
        lines.append(f'"lesson" = {toml_string(module.import_dir + "/lesson")}')
    lines += [
        "",
        "[tool.tinytorch]",
        f"module = {module.number}",
        "",
    ]
    return "\n".join(lines)


_VERSION_LINE = re.compile(r'^(version\s*=\s*)(["\'])([^"\']*)\2(.*)$', re.MULTILINE)


def set_project_version(text: str, version: str, filename: str = "pyproject.toml") -> str:
    """Replace the static ``[project] version`` of a ``pyproject.toml``.

    Raises:
        TitoError: if the project has no static version to replace.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TitoError(f"{filename}: not valid TOML: {exc}") from None
    project = data.get("project", {})
    if "version" not in project or "version" in project.get("dynamic", []):
        raise TitoError(f"{filename}: [project] has no static version to replace")
    start = re.search(r"^\[project\]\s*$", text, re.MULTILINE)
    if start is None:
        raise TitoError(f"{filename}: cannot find the [project] table")
    end = re.search(r"^\[", text[start.end():], re.MULTILINE)
    stop = start.end() + (end.start() if end else len(text) - start.end())
    section = text[start.end():stop]
    new_section, count = _VERSION_LINE.subn(
        lambda m: f"{m.group(1)}{m.group(2)}{version}{m.group(2)}{m.group(4)}", section, count=1)
    if count != 1:
        raise TitoError(f"{filename}: cannot find the version line of [project]")
    result = text[: start.end()] + new_section + text[stop:]
    if tomllib.loads(result)["project"]["version"] != version:
        raise TitoError(f"{filename}: rewriting the version failed")
    return result
