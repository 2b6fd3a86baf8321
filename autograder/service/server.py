"""The running service: its store, its workers (here or on a Dask cluster), its routes (with
the hub's sign-in when it runs on a JupyterHub), listening until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
from collections.abc import Callable
from pathlib import Path

from autograder.service.config import ServiceConfig
from autograder.settings import Limits

log = logging.getLogger("autograder.service")


def course_learners(root: Path, db: str | None, store) -> Callable[[], set[str]]:
    """Who may sign in through a hub: the class the tokens are issued to (the gradebook's
    students, else the learners' registry, read now) and whoever holds a learner token
    (read at each request: a learner issued a token later is known at once)."""
    from autograder.commands.serve import class_students
    from autograder.service.auth import LEARNER

    roster = set(class_students(root, db))

    def learners() -> set[str]:
        return roster | store.holders(LEARNER)

    return learners


def serve(root: Path, host: str = "127.0.0.1", port: int = 8765, *, db: str | None = None,
          jobs: int = 1, limits: Limits | None = None, config: ServiceConfig | None = None,
          course: str = "RNN course", ready: Path | None = None, base_url: str = "/",
          scheduler: str | None = None, environ=os.environ) -> None:
    """Run the grading service until SIGINT or SIGTERM: checks left running by a killed
    service are queued again, ``jobs`` threads grade the queue (on the Dask cluster of
    ``scheduler`` when given, else here), the API and the pages listen on ``host:port``
    (``port`` 0: a free one; ``ready``, when given, receives the port once the service
    listens; ``base_url``: the prefix of every address, as a JupyterHub service's
    ``JUPYTERHUB_SERVICE_PREFIX``). In a JupyterHub service environment (``environ``),
    learners also sign in through the hub."""
    import tornado.httpserver
    import tornado.netutil

    from autograder.commands.serve import open_store
    from autograder.service.app import make_app
    from autograder.service.grading import ClusterGrader, Workers
    from autograder.service.hub import hub_from_environment, on_a_hub

    limits = limits or Limits()
    config = config or ServiceConfig()
    store = open_store(root, db, config)
    again = store.requeue_running()
    if again:
        log.warning("queued again %d check(s) a stopped service left running", again)
    hub = None
    if on_a_hub(environ):
        hub = hub_from_environment(base_url, course_learners(root, db, store))
        log.info("learners sign in through the hub at %s (scopes %s)", hub.auth.api_url,
                 ", ".join(sorted(hub.scopes)))
    cluster = ClusterGrader(root, scheduler, limits) if scheduler else None
    if cluster is not None:
        log.info("checks are graded on the Dask cluster at %s", scheduler)
        workers = Workers(store, root, jobs, limits, grader=lambda: cluster, preflight=False)
    else:
        workers = Workers(store, root, jobs, limits)
    app = make_app(store, root, config, cookie_secret=secrets.token_hex(32), course=course,
                   base_url=base_url, hub=hub)

    async def main() -> None:
        server = tornado.httpserver.HTTPServer(
            app, max_body_size=64 * 2**10, idle_connection_timeout=60,
            body_timeout=config.body_timeout, xheaders=False)
        sockets = tornado.netutil.bind_sockets(port, host)
        server.add_sockets(sockets)
        bound = sockets[0].getsockname()[1]
        log.info("grading service on http://%s:%d%s (%d worker(s))", host, bound,
                 app.settings["base_url"], jobs)
        if ready is not None:
            tmp = ready.with_suffix(".part")
            tmp.write_text(str(bound))
            tmp.replace(ready)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        server.stop()

    workers.start()
    try:
        asyncio.run(main())
    finally:
        workers.stop()
        if cluster is not None:
            cluster.close()
