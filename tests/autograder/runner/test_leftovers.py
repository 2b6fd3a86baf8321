"""What a grading process killed by a signal leaves (scratch folders, control groups) is
removed at the next start: each carries its owner's mark, and only a gone owner's go."""

from __future__ import annotations

import os
import subprocess
import sys

from autograder.runner import cgroups, leftovers

OWNER = """import sys, time
from autograder.runner import cgroups, leftovers
folder = leftovers.mkdtemp('rnncourse-kernel', dir=sys.argv[1])
(folder / 'kernel.json').write_text('{}')
folder.chmod(0o550)  # sealed, as a kernel's connection folder
group = cgroups.create(64, 8)
print(folder.name, group.dirs['memory'].name if group else '-', flush=True)
time.sleep(120)
"""


def test_a_killed_owners_folder_and_control_group_go_and_the_rest_stay(tmp_path):
    """Are the folder and control group of a process killed by SIGKILL removed, while those
    of a running process, and names without a mark, stay?"""
    owner = subprocess.Popen([sys.executable, "-c", OWNER, str(tmp_path)],
                             stdout=subprocess.PIPE, text=True)
    folder, group = owner.stdout.readline().split()
    mine = leftovers.mkdtemp("rnncourse-score", dir=tmp_path)
    unmarked = tmp_path / "rnncourse-kernel-abc123"
    unmarked.mkdir()
    try:
        leftovers.sweep(tmp_path)
        assert (tmp_path / folder).exists()  # its owner runs
    finally:
        owner.kill()
        owner.wait()
    removed = leftovers.sweep(tmp_path)
    assert not (tmp_path / folder).exists(), removed
    assert mine.exists() and unmarked.exists()
    if group != "-":
        assert group not in {g.name for g in cgroups.marked_groups()}, removed


def test_a_reused_pid_is_not_taken_for_the_owner():
    me = leftovers.mark()
    assert leftovers.owner_alive(f"rnncourse-x{me}abc")
    pid = os.getpid()
    assert not leftovers.owner_alive(f"rnncourse-x-p{pid}.1-abc")  # another start time
