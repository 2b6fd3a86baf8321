"""One module per command of ``python -m autograder``: each a plain function the CLI calls."""
