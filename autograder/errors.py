"""One exception type for every wrong input: its message is one plain sentence saying what and how."""


class CourseError(Exception):
    """A wrong input (missing file, bad name, malformed notebook...). The CLI prints it and exits 2."""


class GraderEnvironmentError(Exception):
    """The grader's own environment failed (not the student): the student gets a "rerun" note and
    no cached result, so the next run grades them again."""
