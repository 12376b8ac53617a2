"""Repository tooling for the TinyTorch monorepo (standard library only).

A small package (standard library only), used four ways:

* as a command line (``python .ci/tt.py COMMAND``) by tox.ini, .ci/*.sh and developers;
* by ``integration/test_package_contract.py`` (the contract as a pytest suite);
* by the docs hook ``docs/hooks/tinytorch_docs.py`` (chapters, API pages, dependency graph);
* by ``.ci/tox``, which derives tox's per-package environments from ``packages/``.

A *package* is a folder ``packages/<folder>/`` that holds a ``pyproject.toml``; nothing is
listed by hand anywhere, so a new package takes part in every check, env and page as soon as
its pyproject.toml lands.

Commands (``python .ci/tt.py --help``):

    packages            list the packages, in module order
    envs                the per-package tox env list (comma separated) for .ci/tox
    contract [--dist D] check the contract (sources, metadata, and the built wheels in D)
    build [--outdir D]  build every sdist, then every wheel from its sdist, into D (default dist/)
    install [--for X]   install the third-party requirements (not ours) needed to test package X
                        (--for-all: every package), plus any given, with uv when available
    test-installed X    run the tests shipped inside the installed wheel of package X
    check-installed     check that the installed tinytorch distributions are exactly the expected set
    uninstall-ours      uninstall every installed tinytorch distribution (before installing fresh wheels)
    sync-meta           rewrite packages/tinytorch/pyproject.toml's dependencies from packages/
    graph               print the module dependency graph as a mermaid diagram
    cifar10             prepare CIFAR-10 in $TINYTORCH_DATA (from ../shared when it is there)
    summary             summarise JUnit XML files and tox's result JSON (tests and timings)

Release engineering (``release.py``, through the same command line; docs/maintainers.md):

    versions            every distribution's version, release tag and CHANGELOG entry
    tag-check TAG       does TAG (<distribution>-v<version>) match that package's version?
    release-check       build all wheels and sdists; twine check; sdist rebuilds the same wheel;
                        each wheel installed alone, offline, in a fresh venv, and imported
    min-versions        each package's shipped tests at the lowest versions its ranges allow

Modules, each importing only those above it: ``model`` (the packages) → ``contract``,
``build``, ``envs``, ``meta``, ``data``, ``report`` → ``release`` → ``cli``.
"""
