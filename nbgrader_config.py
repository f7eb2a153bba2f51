"""nbgrader configuration for the course: solutions/ is nbgrader's source, exercises/ its release."""

c = get_config()  # noqa: F821  (provided by nbgrader)
c.CourseDirectory.root = "."
c.CourseDirectory.course_id = "transformer-workloads"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.db_url = "sqlite:///gradebook.db"
# torch code needs more than nbgrader's 30 s default per cell (plain `nbgrader autograde` path).
c.ExecutePreprocessor.timeout = 300
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.begin_solution_delimeter = "BEGIN SOLUTION"
c.ClearSolutions.end_solution_delimeter = "END SOLUTION"
# solutions/NN-slug/*.py are the notebooks' jupytext sources (they hold the solutions): never release them.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*.py"]
