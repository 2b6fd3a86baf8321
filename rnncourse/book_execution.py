"""Sphinx extension of the book (listed in ``_config.yml``): pages execute in parallel.

MyST-NB's cache mode (``execute_notebooks: cache``) executes a page when Sphinx reads it and
finds no match in the execution cache (``_build/.jupyter_cache``): one page after another,
with one core idle. This extension starts at Sphinx's ``env-before-read-docs`` event. Of the
pages Sphinx is about to read (new or changed since the last build: all of them in a cold
build, none when nothing changed, one when one page changed), it takes those that MyST-NB
would execute and finds no match for in the cache, and starts executing them in a pool of
worker processes, one kernel each, longest first (by the time the page took last, when the
cache remembers it; pages never timed first). Sphinx reads the other pages meanwhile, then
these in the order they were started; just before it reads one (``source-read``), the
extension waits for its execution and puts it in the cache exactly as MyST-NB would (same
reader, same hash, same ``execution_seconds``). MyST-NB then finds every page in the cache.

The pages import this package (``rnncourse``), which the cache's match on a page's code does
not see: when the package's files or ``requirements.lock`` change between builds, the
extension starts the build afresh (``config-inited``: no pickled Sphinx environment, an empty
execution cache), so every page executes again with the new code.

The pages are the ones Sphinx builds, that is ``_toc.yml``'s (``only_build_toc_files``), read
by MyST-NB's own reader with the book's configuration. A page that fails stops the build with
its cell and traceback, once the other pages have finished (so their results are cached).

Settings (environment variables, for benchmarks and small machines):

- ``RNNCOURSE_BOOK_JOBS``: parallel kernels (default: the number of CPUs available).
- ``RNNCOURSE_KERNEL_THREADS``: OpenMP/BLAS threads of each kernel (default: CPUs / jobs,
  at least 1), unless ``OMP_NUM_THREADS`` is already set.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from tempfile import TemporaryDirectory

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
PACKAGE = Path(__file__).resolve().parent
FINGERPRINT = "rnncourse.fingerprint"  # in Sphinx's doctree folder


@dataclass
class Page:
    """One page to execute: its document name, path, notebook and execution settings."""

    docname: str
    path: Path
    notebook: object  # nbformat.NotebookNode
    read_fmt: dict | None
    timeout: int | None
    allow_errors: bool
    in_temp: bool
    last_seconds: float | None = None


def available_cpus() -> int:
    """CPUs this process may run on (the affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def job_count() -> int:
    """Parallel kernels: ``RNNCOURSE_BOOK_JOBS`` or the number of CPUs."""
    value = os.environ.get("RNNCOURSE_BOOK_JOBS", "")
    if not value:
        return available_cpus()
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"RNNCOURSE_BOOK_JOBS={value!r}: give a whole number of kernels, >= 1")
    return int(value)


def kernel_environment(jobs: int) -> dict[str, str]:
    """Thread settings of each kernel, so that parallel kernels do not oversubscribe."""
    if any(name in os.environ for name in THREAD_VARIABLES):
        return {}
    threads = os.environ.get("RNNCOURSE_KERNEL_THREADS") or str(max(1, available_cpus() // jobs))
    return dict.fromkeys(THREAD_VARIABLES, threads)


def fingerprint(package: Path, lock: Path) -> str:
    """sha256 of the package's files (names and bytes; no bytecode) and of the lock file."""
    digest = hashlib.sha256()
    files = sorted(p for p in package.rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")
    for path in [*files, lock]:
        if path.is_file():
            name = path.relative_to(package.parent) if path.is_relative_to(package.parent) else path
            digest.update(f"{name.as_posix()}\0".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def forget_stale_pages(app, config) -> None:
    """``config-inited``: when the package or the lock changed since the last build, drop the
    pickled environment (Sphinx reads every page again) and the execution cache (every page
    executes again). The first build, with neither, has nothing to drop."""
    from sphinx.util import logging

    doctrees = Path(app.doctreedir)
    stamp = doctrees / FINGERPRINT
    now = fingerprint(PACKAGE, Path(app.srcdir) / "requirements.lock")
    before = stamp.read_text().strip() if stamp.is_file() else None
    if before == now:
        return
    cache = (getattr(config, "nb_execution_cache_path", "")
             or Path(app.outdir).parent / ".jupyter_cache")
    stale = [p for p in (doctrees / "environment.pickle", Path(cache)) if p.exists()]
    if stale:
        logging.getLogger(__name__).info(
            "[rnncourse] rnncourse/ or requirements.lock changed since the last build: "
            "every page executes again")
    for path in stale:
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    doctrees.mkdir(parents=True, exist_ok=True)
    stamp.write_text(now + "\n")


def _init_worker(env: dict[str, str]) -> None:
    os.environ.update(env)  # inherited by the kernel the worker starts


def _execute(nb_json: str, cwd: str | None, in_temp: bool, timeout: int | None,
             allow_errors: bool) -> tuple[str, float, str | None]:
    """In a worker: execute a notebook as MyST-NB does; (notebook, seconds, traceback)."""
    import nbformat
    from jupyter_cache.executors.utils import single_nb_execution

    nb = nbformat.from_dict(json.loads(nb_json))
    if in_temp:
        with TemporaryDirectory() as tmp:
            result = single_nb_execution(nb, cwd=tmp, timeout=timeout,
                                         allow_errors=allow_errors, meta_override=True)
    else:
        result = single_nb_execution(nb, cwd=cwd, timeout=timeout, allow_errors=allow_errors,
                                     meta_override=True)
    # The cell and its traceback (nbclient's own call stack would only hide them).
    error = f"{type(result.err).__name__}: {result.err}" if result.err is not None else None
    return json.dumps(result.nb), result.time, error


def pages_to_execute(app, env, docnames, cache) -> list[Page]:
    """The pages among ``docnames`` that MyST-NB would execute now (no match in the cache)."""
    from myst_nb.core.read import create_nb_reader

    md_config = env.myst_config
    base_config = env.mystnb_config
    last = _last_seconds(cache)
    pages = []
    for docname in docnames:
        path = Path(env.doc2path(docname))
        if path.suffix not in (".md", ".ipynb") or not path.is_file():
            continue
        text = path.read_text(encoding=app.config.source_encoding)
        reader = create_nb_reader(str(path), md_config, base_config, text)
        if reader is None:  # plain Markdown, nothing to execute
            continue
        notebook = reader.read(text)
        nb_config = _page_config(base_config, notebook)
        if nb_config is None or nb_config.execution_mode != "cache":
            continue
        posix = PurePosixPath(path.as_posix())
        if any(posix.match(pattern) for pattern in nb_config.execution_excludepatterns):
            continue
        try:
            cache.match_cache_notebook(notebook)
            continue  # executed before, with the same code
        except KeyError:
            pass
        pages.append(Page(docname, path, notebook, reader.read_fmt,
                          nb_config.execution_timeout, nb_config.execution_allow_errors,
                          nb_config.execution_in_temp, last.get(str(path))))
    return pages


def _page_config(nb_config, notebook):
    """MyST-NB's configuration for this notebook, as its parser builds it (kernel aliases,
    the notebook's own ``mystnb`` metadata); None if the metadata is invalid (MyST-NB warns)."""
    import re

    from myst_nb.core.nb_to_tokens import nb_node_to_dict

    kernel = notebook.metadata.get("kernelspec", {}).get("name")
    if kernel is not None and nb_config.kernel_rgx_aliases:
        for rgx, alias in nb_config.kernel_rgx_aliases.items():
            if re.fullmatch(rgx, kernel):
                notebook.metadata["kernelspec"]["name"] = alias
                break
    if nb_config.metadata_key in notebook.metadata:
        overrides = nb_node_to_dict(notebook.metadata[nb_config.metadata_key])
        overrides.pop("output_folder", None)
        try:
            return nb_config.copy(**overrides)
        except Exception:
            return None
    return nb_config


def _last_seconds(cache) -> dict[str, float]:
    """The execution time of each page's newest cached run, by path."""
    newest: dict[str, tuple] = {}
    for record in cache.list_cache_records():
        seconds = (record.data or {}).get("execution_seconds")
        if seconds is not None and (record.uri not in newest
                                    or record.created > newest[record.uri][0]):
            newest[record.uri] = (record.created, float(seconds))
    return {uri: seconds for uri, (_, seconds) in newest.items()}


def longest_first(pages: list[Page]) -> list[Page]:
    """Pages never timed first (in Sphinx's order), then the others, slowest first."""
    unknown = [p for p in pages if p.last_seconds is None]
    known = sorted((p for p in pages if p.last_seconds is not None),
                   key=lambda p: -p.last_seconds)
    return unknown + known


class ParallelRun:
    """The pages of one build executing in a pool of worker processes, each page waited for
    (and put in the cache) when Sphinx is about to read it, so that Sphinx reads the pages
    that are done while the others still execute."""

    def __init__(self, cache, pages: list[Page], jobs: int, kernel_env: dict[str, str]):
        self.cache = cache
        self.pages = {page.docname: page for page in pages}
        self.failures: list[tuple[Page, str]] = []
        self.done = 0
        self.start = time.perf_counter()
        self.pid = os.getpid()  # Sphinx's parallel reading (-j) would read in other processes
        # fork where there is one (Linux): a spawned worker would import jupyter-book's CLI
        # (the parent's __main__) again, seconds each.
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        self.pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context,
                                        initializer=_init_worker, initargs=(kernel_env,))
        self.futures = {
            page.docname: self.pool.submit(_execute, json.dumps(page.notebook),
                                           str(page.path.parent), page.in_temp, page.timeout,
                                           page.allow_errors)
            for page in pages}

    def wait(self, docname: str) -> None:
        """Wait for this page (if it is executing): cache it, or note its failure. After a
        failure, wait for all the others (so that they are cached) and stop the build."""
        future = self.futures.pop(docname, None)
        if future is None:
            return
        self._collect(docname, future)
        if self.failures:
            while self.futures:
                self._collect(*self.futures.popitem())
        if not self.futures:
            self.finish()

    def _collect(self, docname: str, future) -> None:
        import nbformat
        from sphinx.util import logging

        page = self.pages[docname]
        self.done += 1
        progress = f"[rnncourse] [{self.done}/{len(self.pages)}] {docname}"
        try:
            nb_json, seconds, error = future.result()
        except Exception as exc:  # the worker itself died
            nb_json, seconds, error = None, 0.0, f"{type(exc).__name__}: {exc}"
        logger = logging.getLogger(__name__)
        if error is not None:
            self.failures.append((page, error))
            logger.info(f"{progress}: FAILED")
        else:
            _store(self.cache, page, nbformat.from_dict(json.loads(nb_json)), seconds)
            logger.info(f"{progress}: executed in {seconds:.1f} s")

    def finish(self) -> None:
        """All pages are done: report, and stop the build if any failed."""
        from sphinx.errors import ExtensionError
        from sphinx.util import logging

        self.pool.shutdown()
        logger = logging.getLogger(__name__)
        logger.info(f"[rnncourse] executed {len(self.pages) - len(self.failures)} of "
                    f"{len(self.pages)} page(s) in {time.perf_counter() - self.start:.1f} s")
        if self.failures:
            for page, error in self.failures:
                logger.error(f"executing this page failed:\n{error}", location=page.docname)
            names = ", ".join(str(page.path) for page, _ in self.failures)
            self.failures = []
            raise ExtensionError(f"page(s) failed to execute: {names}. The traceback of each "
                                 "is above; fix the page and build again.")

    def cancel(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def execute_in_parallel(app, env, docnames) -> None:
    """``env-before-read-docs``: start executing the pages that need it, and have Sphinx read
    the other pages first, then these in the order they were started."""
    from jupyter_cache import get_cache
    from sphinx.util import logging

    nb_config = getattr(env, "mystnb_config", None)
    if nb_config is None or nb_config.execution_mode != "cache":
        return
    cache = get_cache(nb_config.execution_cache_path or ".jupyter_cache")
    pages = longest_first(pages_to_execute(app, env, docnames, cache))
    if not pages:
        return
    jobs = min(job_count(), len(pages))
    kernel_env = kernel_environment(jobs)
    threads = kernel_env.get("OMP_NUM_THREADS", "as set")
    logging.getLogger(__name__).info(
        f"[rnncourse] executing {len(pages)} page(s) on {jobs} parallel kernel(s), "
        f"{threads} thread(s) each")
    app._rnncourse_run = ParallelRun(cache, pages, jobs, kernel_env)
    executing = [page.docname for page in pages]
    others = [name for name in docnames if name not in set(executing)]
    docnames[:] = others + executing


def wait_for_page(app, docname, source) -> None:
    """``source-read``: the page's execution must be in the cache before MyST-NB reads it."""
    run = getattr(app, "_rnncourse_run", None)
    if run is not None and run.pid == os.getpid():
        run.wait(docname)


def stop(app, exception) -> None:
    """``build-finished``: no worker outlives the build (after an error, say)."""
    run = getattr(app, "_rnncourse_run", None)
    if run is not None and run.pid == os.getpid():
        run.cancel()


def _store(cache, page: Page, executed, seconds: float) -> None:
    """Put an executed notebook in the cache as MyST-NB's cache client does."""
    from jupyter_cache.base import CacheBundleIn
    from jupyter_cache.cache.db import NbProjectRecord

    if page.read_fmt is not None:
        record = cache.add_nb_to_project(str(page.path), read_data=page.read_fmt)
    else:
        record = cache.add_nb_to_project(str(page.path))
    NbProjectRecord.remove_tracebacks([record.pk], cache.db)
    cache.cache_notebook_bundle(
        CacheBundleIn(executed, record.uri, data={"execution_seconds": seconds}),
        check_validity=False, overwrite=True)


def setup(app) -> dict:
    app.connect("config-inited", forget_stale_pages)
    app.connect("env-before-read-docs", execute_in_parallel)
    app.connect("source-read", wait_for_page)
    app.connect("build-finished", stop)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
