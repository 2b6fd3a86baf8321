"""Print the grading service's figures, the ones issue 25 asks for, for each assignment: the
time from upload to result for one learner on an idle service, and what a class submitting at
once sees (the 202s, 429s and 503s, the queue positions, each learner's wait for their result:
median, 90th percentile and longest), and the checks graded per minute. A benchmark, not a
test: it prints figures and fails only when the service does.

    python benchmarks/bench_service.py                  # rnn_forward and char_lm, 100 learners
    python benchmarks/bench_service.py --assignments rnn_forward:100 char_lm:30
    python benchmarks/bench_service.py --assignments char_lm --learners 20
    python benchmarks/bench_service.py --queue-limit 50         # back-pressure: 503s

The service runs as ``python -m autograder.service`` on 127.0.0.1 (``--jobs``, default 2)
in a scratch course holding the assignment's source (its pre-flight and template are built
before the clock starts); each learner sends the reference solution, which scores full marks.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def request(port: int, method: str, path: str, token: str, body: bytes | None = None
            ) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers={"Authorization": f"token {token}"})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"{}")
    finally:
        conn.close()


def wait_result(port: int, token: str, check_id: str, poll: float = 0.2) -> tuple[float, dict]:
    """(monotonic time the result was seen, the check)."""
    while True:
        _, check = request(port, "GET", f"/api/checks/{check_id}", token)
        if check["status"] in ("done", "not graded"):
            return time.monotonic(), check
        time.sleep(poll)


def scratch_course(assignment: str, learners: int) -> tuple[Path, dict[str, str], bytes]:
    """A course of ``assignment`` only, its tokens, and the submission (the reference)."""
    from autograder.commands.serve import issue_tokens
    from autograder.core.course import source_notebook

    source = source_notebook(ROOT, assignment)
    course = Path(tempfile.mkdtemp(prefix="bench-service-")) / "course"
    (course / "autograder").mkdir(parents=True)
    shutil.copytree(source.parent, course / "solutions" / assignment)
    names = [f"learner{k:03d}" for k in range(learners)] + ["idle"]
    out = course.parent / "tokens.csv"
    issue_tokens(course, out, students=names)
    with out.open(newline="") as handle:
        tokens = {r["student"]: r["token"] for r in csv.DictReader(handle)}
    return course, tokens, source.read_bytes()


def start(course: Path, args: list[str]) -> tuple[subprocess.Popen, int]:
    ready = course.parent / "port"
    env = {**os.environ, "RNNCOURSE_ROOT": str(course)}
    log = (course.parent / "service.log").open("ab")
    proc = subprocess.Popen([sys.executable, "-m", "autograder.service", "--port", "0",
                             "--ready-file", str(ready), *args], cwd=course, env=env,
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    while not ready.exists():
        if proc.poll() is not None:
            raise SystemExit((course.parent / "service.log").read_text()[-3000:])
        time.sleep(0.1)
    return proc, int(ready.read_text())


def one_learner(port: int, token: str, notebook: bytes, assignment: str) -> tuple[float, dict]:
    t0 = time.monotonic()
    status, reply = request(port, "POST", f"/api/checks?assignment={assignment}", token,
                            notebook)
    if status != 202:
        raise SystemExit(f"the idle service refused a check: {status} {reply}")
    seen, check = wait_result(port, token, reply["id"])
    return seen - t0, check


def class_at_once(port: int, tokens: list[str], notebook: bytes, assignment: str) -> dict:
    """Every learner sends one check at the same moment; what each sees."""
    replies: list[tuple[int, dict, str]] = [None] * len(tokens)
    go = threading.Event()

    def send(k: int) -> None:
        go.wait()
        status, reply = request(port, "POST", f"/api/checks?assignment={assignment}",
                                tokens[k], notebook)
        replies[k] = (status, reply, tokens[k])

    threads = [threading.Thread(target=send, args=(k,)) for k in range(len(tokens))]
    for t in threads:
        t.start()
    t0 = time.monotonic()
    go.set()
    for t in threads:
        t.join()
    accepted = [(r, tok) for s, r, tok in replies if s == 202]
    finished = wait_all(port, accepted)
    last = max((t for t, _ in finished), default=t0)
    waits = sorted(t - t0 for t, _ in finished)
    positions = sorted(r["position"] for r, _ in accepted)
    graded = sum(1 for _, c in finished if c["status"] == "done")
    full = sum(1 for _, c in finished if c["score"] is not None and c["score"] == c["max_score"])
    return {
        "learners": len(tokens),
        "202": len(accepted),
        "429": sum(1 for s, _, _ in replies if s == 429),
        "503": sum(1 for s, _, _ in replies if s == 503),
        "positions": (positions[0], positions[-1]) if positions else None,
        "graded": graded, "full_marks": full,
        "seconds_to_last_result": last - t0,
        "wait_median": statistics.median(waits) if waits else 0.0,
        "wait_p90": waits[int(0.9 * (len(waits) - 1))] if waits else 0.0,
        "checks_per_minute": 60 * len(finished) / (last - t0) if finished else 0.0,
    }


def wait_all(port: int, accepted: list[tuple[dict, str]], poll: float = 1.0
             ) -> list[tuple[float, dict]]:
    """(time each result was first seen, the check) of every accepted check, polling all of
    them in turn (a learner's wait is not stretched by waiting for another's first)."""
    seen: dict[str, tuple[float, dict]] = {}
    while len(seen) < len(accepted):
        for reply, token in accepted:
            if reply["id"] in seen:
                continue
            _, check = request(port, "GET", f"/api/checks/{reply['id']}", token)
            if check["status"] in ("done", "not graded"):
                seen[reply["id"]] = (time.monotonic(), check)
        time.sleep(poll)
    return [seen[r["id"]] for r, _ in accepted]


def plan(specs: list[str], learners: int) -> list[tuple[str, int]]:
    """(assignment, learners at once) of each ``NAME[:LEARNERS]``."""
    out = []
    for spec in specs:
        name, _, count = spec.partition(":")
        out.append((name, int(count) if count else learners))
    return out


def bench(assignment: str, learners: int, jobs: int, idle_runs: int,
          queue_limit: int | None) -> None:
    """Print the figures of one assignment, on a service of its own."""
    course, tokens, notebook = scratch_course(assignment, learners)
    extra = ["--queue-limit", str(queue_limit)] if queue_limit else []
    proc, port = start(course, ["--jobs", str(jobs), *extra])
    try:
        first, check = one_learner(port, tokens["idle"], notebook, assignment)
        print(f"{assignment}: first check (pre-flight and template built): {first:.1f} s, "
              f"score {check['score']}/{check['max_score']}", flush=True)
        times = []
        for _ in range(idle_runs):
            seconds, check = one_learner(port, tokens["idle"], notebook, assignment)
            times.append(seconds)
        print(f"{assignment}: upload to result, one learner, idle service (--jobs "
              f"{jobs}): median {statistics.median(times):.1f} s of {len(times)} "
              f"({', '.join(f'{t:.1f}' for t in times)})", flush=True)
        names = [tokens[f"learner{k:03d}"] for k in range(learners)]
        burst = class_at_once(port, names, notebook, assignment)
        print(f"{assignment}: {burst['learners']} learners at once (--jobs {jobs}"
              f"{', --queue-limit ' + str(queue_limit) if queue_limit else ''}): "
              f"{burst['202']} queued (positions {burst['positions']}), {burst['429']} "
              f"refused 429, {burst['503']} refused 503; {burst['graded']} graded "
              f"({burst['full_marks']} full marks); each learner's wait for their result: "
              f"median {burst['wait_median']:.0f} s, 90th percentile {burst['wait_p90']:.0f} "
              f"s, last {burst['seconds_to_last_result']:.0f} s", flush=True)
        print(f"{assignment}: {burst['checks_per_minute']:.1f} checks per minute "
              f"(--jobs {jobs})", flush=True)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        shutil.rmtree(course.parent, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--assignments", nargs="+", default=["rnn_forward", "char_lm"],
                   metavar="NAME[:LEARNERS]",
                   help="assignments to measure, each with its own class size (default "
                        "rnn_forward and char_lm, --learners each)")
    p.add_argument("--learners", type=int, default=100)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--idle-runs", type=int, default=3)
    p.add_argument("--queue-limit", type=int, default=None)
    args = p.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    for assignment, learners in plan(args.assignments, args.learners):
        bench(assignment, learners, args.jobs, args.idle_runs, args.queue_limit)


if __name__ == "__main__":
    main()
