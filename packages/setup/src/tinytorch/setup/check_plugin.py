"""pytest plugin loaded by :func:`tinytorch.setup.lesson.check` (``-p tinytorch.setup.check_plugin``).

A lesson's ``check()`` is the quick feedback after each exercise (``tito test`` is the full
verdict), and it only needs to know *whether* an exercise's tests pass and the first error.
So hypothesis runs without shrinking (a stub fails on its first example anyway, and a wrong
answer need not be minimised to be reported), without a deadline (a slow first try is not a
wrong one), without writing an example database into the student's folders, and with at most
:data:`MAX_EXAMPLES` examples per property (a test's own smaller number is kept).
"""

from __future__ import annotations

import pytest

PROFILE = "tinytorch-check"
#: Examples per hypothesis property at most (hypothesis' default is 100).
MAX_EXAMPLES = 15


def pytest_configure(config: pytest.Config) -> None:
    """Load the ``tinytorch-check`` hypothesis profile when hypothesis is installed."""
    try:
        from hypothesis import Phase, settings
    except ImportError:
        return
    settings.register_profile(PROFILE, parent=settings.default, deadline=None, database=None,
                              max_examples=min(MAX_EXAMPLES, settings.default.max_examples),
                              phases=[Phase.explicit, Phase.reuse, Phase.generate])
    settings.load_profile(PROFILE)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Cap the examples of properties that set their own ``max_examples`` too.

    ``@settings(max_examples=40)`` on a test overrides any profile, so the cap is applied to
    the settings object hypothesis keeps on the test function (``_hypothesis_internal_use_
    settings``, which it reads when the test runs). If a hypothesis version keeps it
    elsewhere, the tests simply run with their own numbers.
    """
    try:
        from hypothesis import settings
    except ImportError:
        return
    for function in {getattr(item, "obj", None) for item in items}:
        current = getattr(function, "_hypothesis_internal_use_settings", None)
        if isinstance(current, settings) and current.max_examples > MAX_EXAMPLES:
            try:
                function._hypothesis_internal_use_settings = settings(  # type: ignore[union-attr]
                    current, max_examples=MAX_EXAMPLES, deadline=None, database=None,
                    phases=[p for p in current.phases if p.name != "shrink"])
            except (AttributeError, TypeError):
                return
