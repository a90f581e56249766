"""Tests for zodbtasks.limits: sizes of inputs and results as pickles."""
import pickle
import threading
import tracemalloc

import persistent
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from zodbtasks import interfaces
from zodbtasks import limits

MB = 1_000_000
LIMIT = limits.DEFAULT_MAX_INPUT_SIZE
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=40)
    | st.dictionaries(st.text(max_size=10), inner, max_size=20),
    max_leaves=200)


class Record(persistent.Persistent):
    def __init__(self, payload):
        self.payload = payload


def peak_while(function, *args):
    """(what function returned or raised, peak bytes traced meanwhile)."""
    tracemalloc.start()
    try:
        try:
            outcome = function(*args)
        except interfaces.InputError as error:
            outcome = error
        return outcome, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_default_limit_is_one_mebibyte():
    assert limits.DEFAULT_MAX_INPUT_SIZE == 1048576


@pytest.mark.parametrize('value', [
    None, 'abc', ['a', 'b'] * 100, {'to': ['x@example.com'], 'n': 1.5},
    list(range(100_000)), [str(i) for i in range(50_000)], b'x' * 70_000])
def test_pickled_size_is_the_zodb_pickle_size(value):
    expected = len(pickle.dumps(value, protocol=3))
    assert limits.pickled_size(value) == expected
    assert limits.pickled_size(value, limit=expected) == expected


def test_persistent_objects_count_as_references():
    record = Record(b'x' * 10 * MB)
    assert limits.pickled_size([record], limit=1000) < 100


def test_pickled_size_stops_soon_after_the_limit():
    size = limits.pickled_size([str(i) for i in range(300_000)], limit=1000)
    assert 1000 < size < 1000 + 2 * 65536 + 2000


@pytest.mark.parametrize('make', [
    lambda: b'x' * 100 * MB,
    lambda: 'x' * 100 * MB,
    lambda: '\u00e9' * 50 * MB,
    lambda: bytearray(100 * MB),
    lambda: 1 << (800 * MB),
    lambda: ['%100d' % i for i in range(200_000)],
    lambda: {'a': [b'x' * MB for _ in range(100)]},
], ids=['bytes', 'ascii', 'utf-8', 'bytearray', 'int', 'list', 'nested'])
def test_large_value_is_refused_without_copying_it(make):
    value = make()
    error, peak = peak_while(limits.check_input_size, value, LIMIT,
                             "input of a 'echo' job")
    assert str(error) == ("input of a 'echo' job is more than 1048576 bytes "
                          'pickled, limit 1048576')
    assert peak < 10 * MB


def test_input_just_over_the_limit_gives_its_exact_size():
    value = b'x' * 1000
    size = len(pickle.dumps(value, protocol=3))
    with pytest.raises(interfaces.InputError) as info:
        limits.check_input_size(value, size - 1, "input of a 'echo' job")
    assert str(info.value) == ("input of a 'echo' job is %d bytes pickled, "
                               'limit %d' % (size, size - 1))


def test_input_at_the_limit_is_accepted():
    value = {'k': 'v' * 500}
    size = len(pickle.dumps(value, protocol=3))
    assert limits.check_input_size(value, size, 'input') is None
    assert limits.check_input_size(b'x' * 10 * MB, None, 'input') is None


@pytest.mark.parametrize('value, kind', [
    (threading.Lock(), 'TypeError'), (lambda: 1, 'PicklingError')])
def test_unpicklable_input_is_refused(value, kind):
    with pytest.raises(interfaces.InputError,
                       match="^input of a 'echo' job cannot be stored in "
                             'the ZODB: %s: ' % kind):
        limits.check_input_size(value, LIMIT, "input of a 'echo' job")


def test_deeply_nested_input_is_refused():
    value = []
    for _ in range(100_000):
        value = [value]
    with pytest.raises(interfaces.InputError, match='RecursionError'):
        limits.check_input_size(value, LIMIT, 'input')


def test_result_too_large_message():
    assert limits.result_too_large(b'x' * 10 * MB, LIMIT) == (
        'result too large: more than 1048576 bytes, limit 1048576')
    value = b'x' * 1000
    size = len(pickle.dumps(value, protocol=3))
    assert limits.result_too_large(value, 999) == (
        'result too large: %d bytes, limit 999' % size)


def test_result_that_fits_or_has_no_limit_is_not_too_large():
    assert limits.result_too_large({'ok': True}, LIMIT) is None
    assert limits.result_too_large(b'x' * 10 * MB, None) is None


def test_unpicklable_result_is_left_to_the_store():
    assert limits.result_too_large(threading.Lock(), LIMIT) is None


def test_large_result_is_measured_without_copying_it():
    value = ['%100d' % i for i in range(200_000)]
    message, peak = peak_while(limits.result_too_large, value, LIMIT)
    assert message.startswith('result too large: more than 1048576 bytes')
    assert peak < 10 * MB


@settings(max_examples=150, deadline=None)
@given(value=JSON, limit=st.integers(0, 6000))
def test_refused_exactly_when_the_zodb_pickle_is_over_the_limit(value,
                                                                limit):
    size = len(pickle.dumps(value, protocol=3))
    message = limits.result_too_large(value, limit)
    assert (message is not None) == (size > limit)
    if message is not None and 'more than' not in message:
        assert message == 'result too large: %d bytes, limit %d' % (size,
                                                                   limit)


@pytest.mark.parametrize('value,limit,fits', [
    (None, 100, True), (True, 100, True), (12345, 100, True),
    (1.5, 100, True), ('abc', 100, True), (b'abc', 100, True),
    ('x' * 30, 100, False), (b'x' * 90, 100, False), (2 ** 800, 100, False),
    ([1], 100, False), ({'a': 1}, 10 ** 6, False), ('x' * 10, None, True)])
def test_surely_fits_is_a_safe_shortcut(value, limit, fits):
    assert limits.surely_fits(value, limit) is fits
    if fits and limit is not None:
        assert limits.pickled_size(value) <= limit
