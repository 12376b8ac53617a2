"""The command line behind ``python .ci/tt.py COMMAND``."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from .build import build_all
from .contract import check_all_sources, check_dist
from .data import prepare_cifar10
from .envs import (
    check_installed,
    install_third_party,
    installed_tinytorch,
    requirements_for,
    run_installed_tests,
)
from .meta import mermaid_graph, sync_meta
from .model import CLI_PACKAGE, REPO, STUBS_ENV, get_package, load_packages
from .release import add_commands as add_release_commands
from .release import run_command as run_release_command
from .report import summarize

# Command line
# --------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="tt.py", description="Repository tooling for the TinyTorch monorepo.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    pk = sub.add_parser("packages", help="list the packages in module order")
    pk.add_argument("--folders", action="store_true", help="folder names only, one a line")
    sub.add_parser("envs", help="per-package tox envs for .ci/tox")
    c = sub.add_parser("contract", help="check the contract")
    c.add_argument("--dist", type=Path, help="also check the wheels and sdists in this folder")
    b = sub.add_parser("build", help="build every sdist and wheel")
    b.add_argument("--outdir", type=Path, default=REPO / "dist")
    ins = sub.add_parser("install", help="install third-party requirements (uv if available, else pip)")
    ins.add_argument("--for", dest="for_", metavar="FOLDER", help="what testing this package needs")
    ins.add_argument("--for-all", action="store_true", help="what testing every package needs")
    ins.add_argument("--extra", action="append", default=[], metavar="NAME",
                     help="also the third-party requirements of this optional extra (e.g. lab), "
                          "of every package that declares it")
    ins.add_argument("reqs", nargs="*", help="more requirements")
    t = sub.add_parser("test-installed", help="run the tests shipped in an installed wheel")
    t.add_argument("folder")
    t.add_argument("pytest_args", nargs=argparse.REMAINDER)
    sub.add_parser("check-installed", help="installed tinytorch distributions == all packages")
    sub.add_parser("uninstall-ours", help="pip uninstall every installed tinytorch distribution")
    sub.add_parser("sync-meta", help="rewrite the meta-package's dependencies from packages/")
    sub.add_parser("graph", help="mermaid dependency graph")
    d = sub.add_parser("cifar10", help="prepare CIFAR-10 in $TINYTORCH_DATA")
    d.add_argument("target", nargs="?", type=Path)
    add_release_commands(sub)  # release engineering: versions, tag-check, release-check, min-versions
    s = sub.add_parser("summary", help="summarise test counts and timings")
    s.add_argument("junit_dir", type=Path)
    s.add_argument("--result-json", type=Path)
    args = ap.parse_args(argv)

    if args.cmd == "packages":
        for p in load_packages():
            print(p.folder if args.folders else f"{p.label:<18} {p.name:<28} {p.version}")
        return 0
    if args.cmd == "envs":
        pkgs = load_packages()
        envs = [p.folder for p in pkgs if not p.is_meta]
        if any(p.folder == CLI_PACKAGE for p in pkgs):
            # first: with integration, the longest env; `tox p` starts envs in list order, and
            # starting the long ones first keeps both cores busy to the end
            envs.insert(0, STUBS_ENV)
        print(",".join(envs))
        return 0
    if args.cmd == "contract":
        pkgs = load_packages()
        v = check_all_sources(pkgs)
        if args.dist:
            v += check_dist(args.dist, pkgs)
        for x in v:
            print(f"CONTRACT {x}")
        what = "sources" + (f" and {args.dist}" if args.dist else "")
        print(f"contract ({what}): {len(pkgs)} packages, {len(v)} violation(s)")
        return 1 if v else 0
    if args.cmd == "build":
        t0 = time.perf_counter()
        failed = build_all(args.outdir)
        print(f"built {len(load_packages()) - failed} package(s) into {args.outdir} in "
              f"{time.perf_counter() - t0:.1f}s; {failed} failed")
        return 1 if failed else 0
    if args.cmd == "install":
        reqs = list(args.reqs)
        if args.for_ or args.for_all:
            pkgs = load_packages()
            chosen = [p for p in pkgs if not p.is_meta] if args.for_all else [get_package(args.for_, pkgs)]
            reqs = requirements_for(chosen, pkgs) + reqs
        for name in args.extra:
            reqs += [r.raw for p in load_packages() for r in p.extras.get(name, [])
                     if not r.name.startswith("tinytorch")]
        return install_third_party(reqs)
    if args.cmd == "test-installed":
        extra = args.pytest_args[1:] if args.pytest_args[:1] == ["--"] else args.pytest_args
        return run_installed_tests(args.folder, extra)
    if args.cmd == "check-installed":
        expected = {p.name for p in load_packages()}
        errors = check_installed(expected)
        print("\n".join(errors) if errors else f"installed from wheels: {', '.join(sorted(expected))}")
        return 1 if errors else 0
    if args.cmd == "uninstall-ours":
        # so that a reused env installs the freshly built wheels, never keeps an older build
        ours = sorted(installed_tinytorch())
        if ours:
            return subprocess.call([sys.executable, "-m", "pip", "uninstall", "--quiet", "-y", *ours])
        return 0
    if args.cmd == "sync-meta":
        changed = sync_meta()
        print("packages/tinytorch/pyproject.toml " + ("updated" if changed else "already up to date"))
        return 0
    if args.cmd == "graph":
        print(mermaid_graph())
        return 0
    if args.cmd == "cifar10":
        return prepare_cifar10(args.target)
    if args.cmd == "summary":
        return summarize(args.junit_dir, args.result_json)
    done = run_release_command(args)
    return 2 if done is None else done


if __name__ == "__main__":
    sys.exit(main())
