"""Reference implementations of the course's blocks.

Each chapter has one module (or subpackage) here, named like its folder under book/ and
solutions/: ``book/00-prologue`` <-> ``course/prologue.py``. The book pages import these to
make their figures; the autograder compares students' code against them; tests/ proves them
right against independent oracles.
"""
