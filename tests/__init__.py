import autograder  # noqa: F401  (first, in every test process and the pools' children: what it
# leaves out of the imports, 0.7 s of each process that reads a notebook, stays out of them too)
