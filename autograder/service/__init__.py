"""The grading service, ``python -m autograder serve``: learners send a notebook over HTTP and
get its score and each test's message (never a test's source), graded by the same core as
``score`` and ``grade``.

One module per responsibility:

- ``config``: the service's settings (sizes, rates, queue length), one frozen dataclass;
- ``store``: the database (SQLite ``grading/service.db`` in WAL mode, or the gradebook's
  PostgreSQL by ``--db``): tokens, and the queue of checks with their results;
- ``auth``: tokens (random, handed out as a CSV, only their SHA-256 stored);
- ``hub``: on a JupyterHub, learners signed in through the hub's OAuth (or known by the hub
  token of their server), admitted when they are learners of the course;
- ``grading``: the worker threads that take a queued check, grade it through
  ``autograder.commands.score`` (or on a Dask cluster, ``serve --scheduler``) and store the
  learner-facing result;
- ``app``: the JSON API and its routes; ``pages``: the upload page and the instructor's page;
- ``server``: the running service (store, workers, routes) until SIGINT or SIGTERM;
  ``command``: its command line.
"""
