"""The book's old name for :mod:`course.foundation.widgets`: this module *is* that one (same object)."""

import sys

from course.foundation import widgets

sys.modules[__name__] = widgets
