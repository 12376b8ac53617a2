"""``python -m tinytorch.core.mlops serve MODEL``: ``tito serve`` without tinytorch-setup."""

import sys

from .cli import main

if __name__ == "__main__":  # not when a spawned model process imports the parent's main
    sys.exit(main())
