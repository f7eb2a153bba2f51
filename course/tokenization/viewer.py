"""The book's old name for :mod:`course.tokenization.widgets`: this module *is* that one (same object)."""

import sys

from course.tokenization import widgets

sys.modules[__name__] = widgets
