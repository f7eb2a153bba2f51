"""Check specs and the in-kernel ``check`` entry point used by notebook test cells."""

from autograder.checks.runner import check, run_check
from autograder.checks.spec import Case, Check, Step, get_check, register_pair

__all__ = ["Case", "Check", "Step", "check", "get_check", "register_pair", "run_check"]
