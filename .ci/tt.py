#!/usr/bin/env python3
"""``python .ci/tt.py COMMAND``: the repository's tooling, in the package ``.ci/ttools``
(standard library only; ``python .ci/tt.py --help`` lists the commands, ttools/__init__.py
says what each module does)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ttools.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
