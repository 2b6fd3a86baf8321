"""What nbgrader runs: ``execute.SplitExecute`` (learner cells in the sandboxed kernel of
``sandbox``, with ``cgroups``; test cells in the grader, ``trusted``), the data-only
``boundary`` between the two (its kernel side is ``kernel_harness``), the cell roles
(``plan``), and the course's preprocessors (``preprocessors``, ``hidetests``)."""
