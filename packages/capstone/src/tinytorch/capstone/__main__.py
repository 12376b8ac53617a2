"""``python -m tinytorch.capstone``: the same as ``tito capstone``."""

import sys

from .cli import main

sys.exit(main())
