"""The book's old name for :mod:`course.llama.weights`: this module *is* that one (same object)."""

import sys

from course.llama import weights

sys.modules[__name__] = weights
