"""Chapter {chapter} ({title}): the reference implementations.

Parts: :mod:`.blocks`, the graded blocks (proven in ``tests/test_{slug}_oracles.py``;
``autograder/chapters/{slug}/`` grades students against them). A published-architecture catalogue,
weight loaders and widgets, when the chapter has them, go in ``catalogue.py``, ``weights.py`` and
``widgets.py`` beside it.
"""

from course.{slug}.blocks import *  # noqa: F403  (every block under the package's name)
