import random

import pytest

from zodbtasks.keys import BAND
from zodbtasks.keys import RANDOM_BITS
from zodbtasks.keys import next_order_key
from zodbtasks.keys import time_ordered_key


def test_time_ordered_key_grows_with_time():
    assert time_ordered_key(1.001) > time_ordered_key(1.0)
    assert time_ordered_key(1.0) >> RANDOM_BITS == 1000


def test_time_ordered_key_follows_the_greatest_key():
    assert time_ordered_key(1.0, after=10 ** 9) == 10 ** 9 + 1
    assert time_ordered_key(1.0, after=5) > 5 << RANDOM_BITS


def test_time_ordered_key_avoids_taken_keys():
    rng = random.Random(0)
    taken = {time_ordered_key(1.0, rng=random.Random(0))}
    assert time_ordered_key(1.0, taken, rng) not in taken


def test_time_ordered_key_is_exact_in_javascript_until_2039():
    assert time_ordered_key(2 ** 41 / 1000 - 1) < 2 ** 53


def test_order_keys_grow_and_are_not_times():
    first = next_order_key()
    assert 0 < first < 2 ** 12
    assert next_order_key(first) > first


def test_order_keys_avoid_taken_keys():
    rng = random.Random(0)
    taken = {next_order_key(10, rng=random.Random(0))}
    assert next_order_key(10, taken=taken, rng=rng) not in taken


def test_order_keys_stay_in_their_band():
    assert BAND <= next_order_key(None, band=1) < 2 * BAND
    assert BAND < next_order_key(5, band=1)
    with pytest.raises(OverflowError):
        next_order_key(2 * BAND - 2, band=1)


def test_two_appenders_from_one_view_rarely_collide():
    rng = random.Random(1)
    collisions = sum(next_order_key(100, rng=rng) == next_order_key(
        100, rng=rng) for _ in range(1000))
    assert collisions < 5
