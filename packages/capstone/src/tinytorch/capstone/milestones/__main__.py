"""``python -m tinytorch.capstone.milestones``: the same as ``tito milestone``."""

import sys

from .cli import main

sys.exit(main())
