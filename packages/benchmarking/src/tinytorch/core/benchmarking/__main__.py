"""``python -m tinytorch.core.benchmarking``: the same as ``tito benchmark`` (see :mod:`.cli`)."""

from .cli import main

raise SystemExit(main())
