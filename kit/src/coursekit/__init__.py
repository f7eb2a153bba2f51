"""The course's student kit: visible checks replayed from snapshots, and data/weight loaders.

``check(name, obj)`` is what every released notebook's test cells call. It holds no reference
implementation: see :mod:`coursekit.replay`.
"""

from coursekit.replay import check

__version__ = "0.1.0"
__all__ = ["check"]
