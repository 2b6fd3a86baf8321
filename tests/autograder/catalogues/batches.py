"""Several catalogue entries share one graded notebook where the tests keep them apart.

Grading a notebook costs seconds (a sandboxed kernel, and for some assignments a training
run), and most entries change one function of several. A notebook may carry one entry per
function when each entry keeps a test of its own: a test whose reach (``reach_of_tests``:
the functions its outcome depends on) holds that entry's function and no other function
changed in the notebook. Such a test *isolates* the entry: its outcome is the outcome it
would have in a notebook where only that entry changed.

- A mutant counts as caught when one of its isolating tests fails. A mutant whose isolating
  tests all pass (say, one only the held-out accuracy tiers catch, which reach every
  function) is graded again alone.
- An alternative counts as correct when its notebook scores full marks; a notebook that
  does not is graded again one entry at a time, so that each failure has one author.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from tests.autograder.catalogues.mutations import Variant


def isolating_tests(variant: Variant, batch: Iterable[Variant],
                    reach: Mapping[str, frozenset[str]]) -> list[str]:
    """The tests that reach ``variant``'s function and no other function of ``batch``."""
    changed = {v.function for v in batch}
    return [test for test, functions in reach.items()
            if variant.function in functions and not (functions & changed) - {variant.function}]


def pack(variants: Iterable[Variant], reach: Mapping[str, frozenset[str]] | None = None,
         ) -> list[tuple[Variant, ...]]:
    """The variants in notebooks: at most one per function and, given the tests' ``reach``,
    each isolated by some test (mutants need that; alternatives, all correct, do not).

    Greedy, first fit, taking the functions with the most entries first so that their entries
    spread over the notebooks.
    """
    variants = list(variants)
    counts: dict[str, int] = {}
    for v in variants:
        counts[v.function] = counts.get(v.function, 0) + 1
    batches: list[list[Variant]] = []
    for v in sorted(variants, key=lambda v: -counts[v.function]):  # stable: catalogue order
        for batch in batches:
            candidate = [*batch, v]
            if (v.function not in {b.function for b in batch}
                    and (reach is None
                         or all(isolating_tests(m, candidate, reach) for m in candidate))):
                batch.append(v)
                break
        else:
            batches.append([v])
    return [tuple(batch) for batch in batches]
