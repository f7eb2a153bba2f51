"""Check specs and the in-kernel ``check`` entry point used by notebook test cells."""

from autograder.checks.spec import Case, Check, Step, check, get_check, register_pair, run_check

__all__ = ["Case", "Check", "Step", "check", "get_check", "register_pair", "run_check"]
