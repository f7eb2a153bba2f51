"""Contract adapters the prologue's blocks share."""

from __future__ import annotations

from autograder.checks.spec import rand_int

_randint = rand_int  # a random integer in [lo, hi], drawn from the case's generator only
