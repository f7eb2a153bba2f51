"""The course's autograder: release, validate and grade nbgrader assignments.

Architecture (trusted side left, untrusted right)::

    cli ── service.grade_class ── pool ── grading ──(sandbox.wire: JSON + safetensors)── sandbox.child
     │         │                            │   │                                     (student code:
     │         │                            │   └─ sandbox.client (zygote, Session)     rlimits, own uid,
     │         │                            └─ checks.runner (reference, compare,        hidden paths)
     │         │                                checks.spec: declared; checks.inject:  ◄── callbacks
     │         │                                reference sub-blocks
     │         └─ results (typed) -> result_files: results/<id>.json (resume), grades.csv;
     │            feedback (HTML), gradebook (nbgrader DB)
     ├─ release / sources (jupytext source -> solutions/*.ipynb -> exercises/)
     ├─ validate (solution full marks, stub zero, seed sweep)
     └─ scaffold (new-chapter)

``pool`` is threads on this machine (``pool.LocalPool``) or one actor per worker on a Ray cluster
(``pool_ray.RayPool``); either way workers hand results back as data and only the driver,
``service.grade_class``, writes them.
"""

__version__ = "0.1.0"
