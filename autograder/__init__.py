"""The course's autograder: release, validate and grade nbgrader assignments.

Architecture (trusted side left, untrusted right)::

    cli ── grade ── pool ── runner ──(safetensors/JSON over a socket)── sandbox.child
             │                │                                          (student code,
             │                └─ checks (specs + reference + compare)     rlimits, no net,
             └─ gradebook (nbgrader DB), feedback (HTML), results (resumable)   hidden repo)
"""

__version__ = "0.1.0"
