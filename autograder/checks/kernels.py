"""Moved to the student kit: ``coursekit.kernels`` (reference-free, shared by the kit and the grader).

This name stays an alias of that very module, so the grader and the kit compare with the same code.
"""

import sys

import coursekit.kernels as _module

sys.modules[__name__] = _module
