"""``python -m tinytorch.introduction``: the same as ``tito system graph``."""

import sys

from .cli import main

sys.exit(main())
