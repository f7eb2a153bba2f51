"""One exception type for every wrong input: its message is one plain sentence saying what and how."""


class CourseError(Exception):
    """A wrong input (missing file, bad name, malformed notebook...). The CLI prints it and exits 2."""
