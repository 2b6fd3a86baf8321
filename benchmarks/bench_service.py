"""Print the grading service's figures: the time from upload to result for one learner on an
idle service, and what a class submitting at once sees (the 202s, 429s and 503s, the queue
positions, the time to the last result, the checks graded per minute). A benchmark, not a
test: it prints figures and fails only when the service does.

    python benchmarks/bench_service.py                          # rnn_forward, 100 learners
    python benchmarks/bench_service.py --assignment char_lm --learners 20
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
    finished = [wait_result(port, tok, r["id"], poll=1.0) for r, tok in accepted]
    last = max((t for t, _ in finished), default=t0)
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
        "checks_per_minute": 60 * len(finished) / (last - t0) if finished else 0.0,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--assignment", default="rnn_forward")
    p.add_argument("--learners", type=int, default=100)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--idle-runs", type=int, default=3)
    p.add_argument("--queue-limit", type=int, default=None)
    args = p.parse_args()
    course, tokens, notebook = scratch_course(args.assignment, args.learners)
    extra = ["--queue-limit", str(args.queue_limit)] if args.queue_limit else []
    proc, port = start(course, ["--jobs", str(args.jobs), *extra])
    try:
        first, check = one_learner(port, tokens["idle"], notebook, args.assignment)
        print(f"{args.assignment}: first check (pre-flight and template built): {first:.1f} s, "
              f"score {check['score']}/{check['max_score']}")
        times = []
        for _ in range(args.idle_runs):
            seconds, check = one_learner(port, tokens["idle"], notebook, args.assignment)
            times.append(seconds)
        print(f"{args.assignment}: upload to result, one learner, idle service (--jobs "
              f"{args.jobs}): median {statistics.median(times):.1f} s of {len(times)} "
              f"({', '.join(f'{t:.1f}' for t in times)})")
        learners = [tokens[f"learner{k:03d}"] for k in range(args.learners)]
        burst = class_at_once(port, learners, notebook, args.assignment)
        print(f"{args.assignment}: {burst['learners']} learners at once (--jobs {args.jobs}"
              f"{', --queue-limit ' + str(args.queue_limit) if args.queue_limit else ''}): "
              f"{burst['202']} queued (positions {burst['positions']}), {burst['429']} "
              f"refused 429, {burst['503']} refused 503; {burst['graded']} graded "
              f"({burst['full_marks']} full marks); last result after "
              f"{burst['seconds_to_last_result']:.0f} s; "
              f"{burst['checks_per_minute']:.1f} checks per minute")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        shutil.rmtree(course.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
