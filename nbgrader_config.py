# nbgrader reads this file when run from the repository root; the configuration itself lives
# in autograder/nbgrader_config.py.
c = get_config()  # noqa: F821
load_subconfig("autograder/nbgrader_config.py")  # noqa: F821

# The gradebook: SQLite grading/gradebook.db unless named here. A PostgreSQL server shares it
# between formgrader, teaching assistants and several runs of `python -m autograder grade`,
# which read this same line (book/guides/instructors.md, "Beyond one machine"):
# c.CourseDirectory.db_url = "postgresql://grader@DBHOST/rnncourse"

# Late penalties (book/guides/instructors.md, "Deadlines and late penalties"): set a due date
# with `python -m autograder due ASSIGNMENT "YYYY-MM-DD HH:MM" --timezone ZONE`, then choose a
# plugin; without one, lateness is recorded and nothing is taken. For 10 % of the score per day
# (or part of a day) late:
# c.AssignLatePenalties.plugin_class = "autograder.core.late.PerDayPenalty"
# c.PerDayPenalty.percent_per_day = 10
