"""GroupNorm for the extensions track: the spatial module's layer, re-exported.

Group norm (Wu & He, 2018) lives in :mod:`tinytorch.core.spatial` beside batch norm, where the
course's student writes ``group_norm`` (spatial, exercise 7). The capstone only *uses* it: the
``groupnorm`` pair of :mod:`.experiments` measures what it changes. This module keeps the
import path ``tinytorch.capstone.extensions.groupnorm`` working.
"""

from __future__ import annotations

from tinytorch.core.spatial import GroupNorm, group_norm

__all__ = ["GroupNorm", "group_norm"]
