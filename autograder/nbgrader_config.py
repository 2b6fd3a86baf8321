"""nbgrader configuration of the course (loaded by ../nbgrader_config.py and by `autograder`).

Paths are relative to the course root (the repository, or the temporary course that
`python -m autograder score` builds): the sources are solutions/, the student release is
exercises/, and everything grading writes lives in the git-ignored grading/ folder.
"""

c = get_config()  # noqa: F821  (provided by traitlets when it loads this file)

c.CourseDirectory.course_id = "rnn-course"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.submitted_directory = "grading/submitted"
c.CourseDirectory.autograded_directory = "grading/autograded"
c.CourseDirectory.feedback_directory = "grading/feedback"
c.CourseDirectory.db_url = "sqlite:///grading/gradebook.db"

# Execution limits: one cell may run for 60 s; a kernel must start within 60 s.
c.Execute.timeout = 60
c.Execute.startup_timeout = 60

# nbgrader fails a test cell that writes anything to stderr: a harmless warning from numpy or
# torch, or a learner's progress bar, would zero a correct answer. Move stderr to stdout in
# executed notebooks, after execution and before grades are saved.
# Learners' code runs in a sandboxed kernel (autograder/sandbox.py) under GuardedExecute
# (autograder/execute.py), which replaces nbgrader's Execute: per-notebook time budget,
# output cap, survives a dying kernel.
c.GuardedExecute.notebook_timeout = 600
c.Autograde.autograde_preprocessors = [
    "autograder.execute.GuardedExecute",
    "autograder.preprocessors.StderrToStdout",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]

# Feedback never shows hidden tests, nor a test's traceback (it would quote the failing line).
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "autograder.hidetests.HideHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
