"""Chapter 05-ssl (Self-supervised and contrastive learning): the reference implementations.

Parts: :mod:`.blocks`, the graded blocks (proven against oracles in
``tests/test_ssl_learning_oracles.py``; ``autograder/chapters/ssl_learning/`` grades students against
them); :mod:`.widgets`, the book's NT-Xent explorer. The package's names are the blocks' and,
imported on first use, the widgets' (:mod:`course._parts`).
"""

from course._parts import lazy_parts
from course.ssl_learning.blocks import *  # noqa: F403  (every block under the package's name)

__getattr__, __dir__ = lazy_parts(__name__, "widgets")
