# nbgrader reads this file when run from the repository root; the configuration itself lives
# in autograder/nbgrader_config.py.
c = get_config()  # noqa: F821
load_subconfig("autograder/nbgrader_config.py")  # noqa: F821
