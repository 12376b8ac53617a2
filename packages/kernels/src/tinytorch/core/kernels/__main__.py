"""``python -m tinytorch.core.kernels``: run the lesson's measurements (see :mod:`.cli`)."""

from .cli import main

raise SystemExit(main())
