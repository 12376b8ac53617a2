"""``python -m tinytorch.core.mlops serve MODEL``: ``tito serve`` without tinytorch-setup."""

import sys

from .cli import main

sys.exit(main())
