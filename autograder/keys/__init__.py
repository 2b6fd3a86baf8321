"""The answer keys: reference implementations (``reference``, float64 torch) and the test
helpers the assignments' test cells call (``checks``, ``training``, ``forecast``).

They run only in the grader, never in a learner's sandboxed kernel (they are not on disk
there). In JupyterLab the visible test cells import them as any module."""
