"""Milestones: your own framework retraces the history of neural networks, 1957 → 2018.

    $ tito milestone list                  # the six milestones, and your latest result of each
    $ tito milestone run 1969              # XOR: one layer fails, one hidden layer succeeds
    $ tito milestone run all --quick       # every milestone on small data (seconds each)
    $ tito milestone status                # what milestones.json holds

Each milestone runs on whatever versions of the modules are installed — yours, where you ran
``tito module start`` — says at the start which implementation of each module it uses (yours or
the reference, and for convolutions the composite or the fused path), trains for real, and ends
with a measured result against its threshold: passed or not. Every run is appended to
``milestones.json`` (see :mod:`.record`).
"""

from .registry import MILESTONES, Milestone, get_milestone

__all__ = ["MILESTONES", "Milestone", "get_milestone"]
