"""Chapter 02-scaling-laws (Scaling laws): the reference implementations.

Parts: :mod:`.blocks`, the graded blocks (proven against oracles in
``tests/test_scaling_oracles.py``; ``autograder/chapters/scaling/`` grades students against them);
:mod:`.widgets`, the book's tables and compute-budget explorer. The package's names are the
blocks' and, imported on first use, the widgets' (:mod:`course._parts`).
"""

from course._parts import lazy_parts
from course.scaling.blocks import *  # noqa: F403  (every block under the package's name)

__getattr__, __dir__ = lazy_parts(__name__, "widgets")
