"""pytest plugin loaded by :func:`tinytorch.setup.lesson.check` (``-p tinytorch.setup.check_plugin``).

A lesson's ``check()`` only needs to know *whether* an exercise's tests pass and the first
error, so hypothesis runs without shrinking (a stub fails on its first example anyway, and a
wrong answer need not be minimised to be reported), without a deadline (a slow first try is
not a wrong one) and without writing an example database into the student's folders.
"""

from __future__ import annotations

import pytest

PROFILE = "tinytorch-check"


def pytest_configure(config: pytest.Config) -> None:
    """Load the ``tinytorch-check`` hypothesis profile when hypothesis is installed."""
    try:
        from hypothesis import Phase, settings
    except ImportError:
        return
    settings.register_profile(PROFILE, parent=settings.default, deadline=None, database=None,
                              phases=[Phase.explicit, Phase.reuse, Phase.generate])
    settings.load_profile(PROFILE)
