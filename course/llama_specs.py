"""The book's old name for :mod:`course.llama.catalogue`: this module *is* that one (same object)."""

import sys

from course.llama import catalogue

sys.modules[__name__] = catalogue
