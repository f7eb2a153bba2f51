"""The book's old name for :mod:`course.foundation.weights`: this module *is* that one (same object)."""

import sys

from course.foundation import weights

sys.modules[__name__] = weights
