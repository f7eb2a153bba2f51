"""Chapter 00-prologue (tensors, dtypes and devices): the reference implementations.

Parts: :mod:`.blocks`, the graded blocks (``autograder/chapters/prologue/`` grades students against
them). The device measurements the book's pages plot are shared with chapter 03 and live in
:mod:`course.roofline`.
"""

from course.prologue.blocks import *  # noqa: F403  (every block under the package's name)
