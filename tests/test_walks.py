"""zodbtasks.walks: bounded walks over sets and time indexes."""
from BTrees.LLBTree import LLTreeSet
from BTrees.OOBTree import OOTreeSet

from zodbtasks.walks import Budget
from zodbtasks.walks import walk_sets
from zodbtasks.walks import walk_times


def test_walks_between_bounds_and_resume():
    evens, threes = LLTreeSet(range(2, 40, 2)), LLTreeSet(range(3, 40, 3))
    assert list(walk_sets([evens, threes], 5, 30, True)) == [30, 24, 18, 12,
                                                             6]
    assert list(walk_sets([evens, threes], 5, 30, False)) == [6, 12, 18, 24,
                                                              30]
    budget = Budget(3)
    assert list(walk_sets([evens], 1, 30, True, budget)) == [30, 28, 26]
    assert budget.resume == 26   # continue after 26
    budget = Budget(2)
    assert list(walk_sets([evens], 1, 30, False, budget)) == [2, 4]
    assert budget.resume == 5
    times = OOTreeSet([(1.0, 5), (2.0, 3), (2.0, 9), (3.0, 1)])
    assert list(walk_times(times, (2.0, 0), (3.0, 0), True)) == [
        (2.0, 9), (2.0, 3)]
    budget = Budget(1)
    assert list(walk_times(times, (0.0, 0), (9.0, 0), True, budget)) == [
        (3.0, 1)]
    assert budget.resume == (3.0, 1)


try:
    from hypothesis import given
    from hypothesis import strategies as st
except ImportError:   # pragma: no cover
    given = None

if given is not None:
    ids = st.lists(st.integers(1, 300), max_size=80)

    @given(st.lists(ids, min_size=1, max_size=3), st.integers(1, 300),
           st.integers(1, 300), st.booleans(), st.integers(1, 20))
    def test_walks_match_a_brute_force_reference(sets, low, high, reverse,
                                                 steps):
        """Walked in budgets of ``steps``, each resumed after the last,
        the keys are those of the intersection, in order."""
        trees = [LLTreeSet(values) for values in sets]
        expected = sorted(set.intersection(*map(set, sets)) &
                          set(range(low, high + 1)), reverse=reverse)
        found, lo, hi = [], low, high
        for _ in range(1000):
            budget = Budget(steps)
            found += list(walk_sets(trees, lo, hi, reverse, budget))
            if budget.resume is None:
                break
            if reverse:
                hi = budget.resume - 1
            else:
                lo = budget.resume + 1
        assert found == expected
