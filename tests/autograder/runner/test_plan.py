"""Where each cell of an assignment runs, read from its source notebook."""

from __future__ import annotations

import nbformat

from autograder.runner.plan import BOTH, GRADER, LEARNER, NOT_GRADED, plan_of
from tests.builders import grade_cell, locked_code_cell, notebook, solution_cell


def test_tests_run_in_the_grader_answers_in_the_kernel_imports_in_both(tmp_path):
    nb = notebook(
        locked_code_cell("import numpy as np", "setup"),
        locked_code_cell("from autograder.keys.checks import check_array", "setup_checks",
                         tags=["grader"]),
        solution_cell("def f(x):\n    return x\n\nclass Model:\n    pass\nSCALE = 2", "f"),
        locked_code_cell("train(model)", "demo", tags=["not-graded"]),
        grade_cell("assert f(1) == 1", "test_f", 1),
    )
    nbformat.write(nb, tmp_path / "a.ipynb")
    plan = plan_of(tmp_path / "a.ipynb")
    assert plan.roles == {"setup": BOTH, "setup_checks": GRADER, "f": LEARNER,
                          "demo": NOT_GRADED, "test_f": GRADER}
    assert plan.contract == ["f", "Model", "SCALE"]
    assert plan.sources["test_f"] == "assert f(1) == 1"


def test_a_cell_without_a_known_grade_id_runs_in_the_learners_kernel(tmp_path):
    nbformat.write(notebook(grade_cell("assert True", "test_f", 1)), tmp_path / "a.ipynb")
    plan = plan_of(tmp_path / "a.ipynb")
    assert plan.role(nbformat.v4.new_code_cell("x = 1")) == LEARNER
    forged = nbformat.v4.new_code_cell("x = 1", metadata={"nbgrader": {"grade_id": 7}})
    assert plan.role(forged) == LEARNER


def test_each_function_of_the_contract_has_the_signature_of_the_source_notebook(tmp_path):
    # A proxy's own signature is (*args, **kwargs): a test's message would then say the
    # learner modified "args" in place instead of naming the argument.
    import inspect

    from autograder.runner.trusted import TrustedSide

    nb = notebook(solution_cell("def f(x, h_prev, *, eps=1e-5):\n    return x", "f"))
    nbformat.write(nb, tmp_path / "a.ipynb")
    plan = plan_of(tmp_path / "a.ipynb")
    assert list(plan.signatures["f"].parameters) == ["x", "h_prev", "eps"]
    side = TrustedSide(remote=None, contract=plan.contract, max_output=100, max_text=100,
                       signatures=plan.signatures)
    assert list(inspect.signature(side.namespace["f"]).parameters) == ["x", "h_prev", "eps"]
