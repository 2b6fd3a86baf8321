"""The echo test of the ``bptt`` assignment needs memory: a controlled experiment.

One thing varies, whether the state is carried from chunk to chunk: the reference
``train_tbptt`` of the notebook against the same code with the state reset at each chunk (the
catalogue's mutant ``tbptt_state_reset_each_chunk``), on several seeds, with the task, chunk
length and threshold of ``autograder.keys.training.ECHO``. The training is the notebook's (two
epochs over the stream); the figures are printed (``pytest -s``)."""

from __future__ import annotations

import pytest

from autograder.keys import training
from tests.autograder.keys.bptt_notebook import functions, mutant

SEEDS = (0, 1, 2, 3)
MARGIN = 10  # the error is this many times below (carried) or above (reset) the threshold


@pytest.fixture(scope="module")
def errors() -> dict[str, list[float]]:
    """Trained networks' mean squared errors on a new stream, per seed, for both trainings."""
    carried = functions()["train_tbptt"]
    reset = functions(mutant("tbptt_state_reset_each_chunk"))["train_tbptt"]
    out = {name: [training.echo_experiment(fn, seed) for seed in SEEDS]
           for name, fn in (("carried", carried), ("reset", reset))}
    print(f"echo {training.ECHO}, threshold {training.ECHO_THRESHOLD}: "
          + "; ".join(f"{k}: " + ", ".join(f"{e:.4f}" for e in v) for k, v in out.items()))
    return out


def test_every_target_of_the_echo_is_an_input_of_the_previous_chunk():
    """With a delay at least the chunk length, no target can be predicted from its own chunk."""
    assert training.ECHO.delay >= training.ECHO.k


def test_the_reference_train_tbptt_learns_the_echo_by_a_margin_on_every_seed(errors):
    assert max(errors["carried"]) * MARGIN < training.ECHO_THRESHOLD, errors


def test_the_state_reset_at_each_chunk_fails_the_echo_by_a_margin_on_every_seed(errors):
    assert min(errors["reset"]) > MARGIN * training.ECHO_THRESHOLD, errors


def test_the_echo_check_passes_the_reference_and_names_the_reset_state():
    training.check_learns_echo(functions()["train_tbptt"])
    reset = functions(mutant("tbptt_state_reset_each_chunk"))["train_tbptt"]
    with pytest.raises(AssertionError, match="not carried from chunk to chunk"):
        training.check_learns_echo(reset)
