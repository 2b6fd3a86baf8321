# nbgrader reads this file when run from the repository root; the configuration itself lives
# in autograder/nbgrader_config.py.
c = get_config()  # noqa: F821
load_subconfig("autograder/nbgrader_config.py")  # noqa: F821

# The gradebook: SQLite grading/gradebook.db unless named here. A PostgreSQL server shares it
# between formgrader, teaching assistants and several runs of `python -m autograder grade`,
# which read this same line (book/guides/instructors.md, "Beyond one machine"):
# c.CourseDirectory.db_url = "postgresql://grader@DBHOST/rnncourse"
