"""``python -m tinytorch.setup`` is ``tito``."""

from tinytorch.setup.cli import main

raise SystemExit(main())
