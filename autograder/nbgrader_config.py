"""nbgrader configuration of the course (loaded by ../nbgrader_config.py and by `autograder`).

Paths are relative to the course root (the repository, or the temporary course that
`python -m autograder score` builds): the sources are solutions/, the student release is
exercises/, and everything grading writes lives in the git-ignored grading/ folder.
"""

import os
from pathlib import Path

import nbgrader

c = get_config()  # noqa: F821  (provided by traitlets when it loads this file)

c.CourseDirectory.course_id = "rnn-course"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.submitted_directory = "grading/submitted"
c.CourseDirectory.autograded_directory = "grading/autograded"
c.CourseDirectory.feedback_directory = "grading/feedback"
c.CourseDirectory.db_url = "sqlite:///grading/gradebook.db"  # or PostgreSQL: ../nbgrader_config.py

# A kernel must start within 60 s. Every other limit (time per cell and per notebook, memory,
# processes, sizes) is autograder.settings.Limits, read by SplitExecute.
c.Execute.startup_timeout = 60
# `nbgrader validate` runs every cell, the not-graded training runs too (char_lm's takes about
# 5 s on an idle core): nbgrader's 30 s a cell fails it on a slow or busy machine. Grading
# does not read this: SplitExecute sets its own time limits from Limits.
c.Execute.timeout = 120

# Where each cell runs (autograder/runner/execute.py): SplitExecute replaces nbgrader's Execute.
# The learner's cells run in a sandboxed kernel (autograder/runner/sandbox.py); the test cells
# run in the grader, calling the learner's functions across a data-only boundary. The limits
# (autograder/settings.py, Limits) are written into each scratch course's configuration.
# nbgrader fails a test cell that writes anything to stderr: a harmless warning would zero a
# correct answer, so stderr becomes stdout after execution and before grades are saved.
# Learners' outputs and markdown are made inert right after execution (SanitiseOutputs,
# autograder/runner/sanitise.py): the graded notebook, formgrader's view of it and the feedback
# made from it hold no learner script, event handler, frame or javascript: link.
c.Autograde.autograde_preprocessors = [
    "autograder.runner.execute.SplitExecute",
    "autograder.runner.preprocessors.StderrToStdout",
    "autograder.runner.preprocessors.SanitiseOutputs",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]

# Late penalties: nbgrader's AssignLatePenalties, run by `grade` on the course's gradebook entry
# of a submission late for its assignment's due date (`python -m autograder due`; see
# autograder/core/late.py). The plugin is nbgrader's LateSubmissionPlugin, whose default
# records how late a submission is and takes nothing; choose one in ../nbgrader_config.py:
#   c.LateSubmissionPlugin.penalty_method = "zero"   # nbgrader's: a late submission scores 0
#   c.AssignLatePenalties.plugin_class = "autograder.core.late.PerDayPenalty"
#   c.PerDayPenalty.percent_per_day = 10             # of the score, per day or part of one
# A submission without a time (the export gave none) is never late.

# Feedback never shows hidden tests: nbgrader's ClearHiddenTests removes them, by the rule that
# removed them from the release, from the instructor's cells (autograder/runner/hidetests.py).
# Nor a test's traceback (it would quote the failing line): HideTestTracebacks. It cleans the
# learner's outputs again (defence in depth). Its page is nbgrader's with our
# head (autograder/templates/feedback/mathjax.html.j2, see the templates below): a Content
# Security Policy, the course's MathJax configured as the policy allows, and long messages
# that wrap; the head reads the filter feedback_head.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "autograder.runner.hidetests.ClearHiddenTestsInTests",
    "autograder.runner.hidetests.HideTestTracebacks",
    "autograder.runner.preprocessors.SanitiseOutputs",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
c.HTMLExporter.filters = {
    "feedback_head": "autograder.commands.feedback.feedback_head",
    "formgrader_head": "autograder.commands.feedback.formgrader_head",
}

# Offline pages. nbgrader's templates load MathJax 2 from a CDN (nbconvert's mathjax.html.j2,
# called without an address by formgrader's submission page and by the feedback page). Our
# templates come first and replace that macro: formgrade/mathjax.html.j2 loads the course's
# own MathJax (book/_static/mathjax) through the Jupyter server running formgrader, and
# feedback/mathjax.html.j2 (`autograder feedback`, formgrader's "Generate Feedback") the copy
# `autograder feedback` puts beside the pages. nbgrader's formgrader templates stay next:
# formgrader and generate_feedback set them there themselves, and this setting replaces theirs.
c.HTMLExporter.extra_template_basedirs = [
    str(Path(__file__).resolve().parent / "templates"),
    str(Path(nbgrader.__file__).resolve().parent / "server_extensions" / "formgrader"
        / "templates"),
]

# The exchange (nbgrader's release/collect between Jupyter accounts on one machine; this course
# releases exercises/ and collects LMS exports instead) is a folder of the course, so that
# formgrader finds it and shows no "exchange directory does not exist" warning. nbgrader needs
# it to exist: it is made when this file is loaded in a course root (the working folder holds
# nbgrader_config.py, as when formgrader or an nbgrader command runs there). A folder that
# cannot be made (a read-only sandbox) only brings the warning back.
EXCHANGE = "grading/exchange"
c.Exchange.root = EXCHANGE
if os.path.isfile("nbgrader_config.py"):
    try:
        os.makedirs(EXCHANGE, exist_ok=True)
    except OSError:
        pass
