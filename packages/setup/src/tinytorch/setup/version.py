"""The installed version of tinytorch-setup, for ``tito --version`` and the autograder's files.

Its own module so that the command line (:mod:`.cli`) and the grading formats read it without
importing the package's ``__init__``, which imports them: imports run one way.
"""

from __future__ import annotations

from importlib import metadata

__all__ = ["__version__"]

try:
    __version__ = metadata.version("tinytorch-setup")
except metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"
