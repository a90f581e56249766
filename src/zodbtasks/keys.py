"""Int keys: job ids, which grow with creation time, and queue order keys,
which are an order only (``ready_key``: the place of a ready job, by the
time it became ready and its priority).

Design note: until 0.1 the queue's order key was the enqueue time in
milliseconds, and ``oldestWaiting`` decoded it, so the queue could only be
FIFO by time.  Now the job-state layer chooses a job's place
(``ready_key``: the time it became ready plus its priority times the
service's ``agingStep``, or a band per priority when priorities are
strict) and nothing decodes a key; the enqueue time is kept on the job
(``enqueued``).  Keys of one *band* lie in ``[band * BAND, (band + 1) *
BAND)``; band 0 holds the aging order and the queue keys of databases made
by 0.1, which were the same kind of time-derived keys.  ``BTreeQueue``
takes the first free key from a job's place, so that jobs placed at one
millisecond keep their order; two transactions choosing one key conflict,
and the loser retries.  ``next_order_key`` (the greatest key so far plus
one plus a few random bits) serves zc.queue's ``put``, which appends.
"""
import random

#: Random low bits of a job id (see time_ordered_key).
RANDOM_BITS = 12
#: Random bits added to each new order key (see next_order_key).
ORDER_SPREAD_BITS = 11
#: The width of one band of order keys.
BAND = 2 ** 53
#: Largest job id: open-ended ranges of (time, id) keys end here.
MAX_ID = 2 ** 63 - 1


def time_ordered_key(now, taken=(), rng=random, after=None):
    """An int job id that grows with ``now`` (epoch seconds), is greater
    than ``after`` (the greatest id so far) and is not in ``taken``.

    It is the milliseconds shifted left by RANDOM_BITS plus random bits,
    or ``after + 1`` when that would not be greater: ids made one after
    the other keep their order even within a millisecond or when clocks
    differ.  Ids stay below 2**53 until 2039, so JavaScript reads them
    exactly.
    """
    key = (round(now * 1000) << RANDOM_BITS) | rng.getrandbits(RANDOM_BITS)
    if after is not None and key <= after:
        key = after + 1
    while key in taken:
        key += 1
    return key


def next_order_key(last=None, band=0, taken=(), rng=random):
    """An order key after ``last`` (the greatest key of the band so far,
    or None for an empty band) that is not in ``taken``."""
    low = band * BAND
    base = low if last is None or last < low else last
    key = base + 1 + rng.getrandbits(ORDER_SPREAD_BITS)
    while key in taken:
        key += 1
    if key >= low + BAND:
        raise OverflowError('order band %d is full' % band)
    return key


#: Default ``agingStep``: how many seconds of waiting one priority level
#: is worth.
AGING_STEP = 300.0
#: With strict priorities (``agingStep`` None), priorities beyond this are
#: ordered as this (so that each has a band of its own).
STRICT_PRIORITY = 511


def ready_key(when, priority=0, aging_step=AGING_STEP):
    """The order key at which a job that became ready at ``when`` (epoch
    seconds) with ``priority`` (lower runs earlier) takes its place.

    With ``aging_step`` (seconds), the place is ``when + priority *
    aging_step``: a priority-1 job added 10 s before a priority-0 one runs
    after it, but one that has waited 400 s runs before a priority-0 job
    added now (300 s per level), so low priorities are never starved.
    With None, priorities are strict (CMFActivity's order): each priority
    has its band, first in first out within it.  The key is a millisecond
    shifted left by RANDOM_BITS; ``BTreeQueue.insert`` takes the first
    free key from there, keeping FIFO within one millisecond.
    """
    if aging_step is None:
        level = max(-STRICT_PRIORITY, min(STRICT_PRIORITY, priority))
        band, effective = level + STRICT_PRIORITY + 1, when
    else:
        band, effective = 0, when + priority * aging_step
    milliseconds = max(1, min(round(effective * 1000),
                              (BAND >> RANDOM_BITS) - 1))
    return band * BAND + (milliseconds << RANDOM_BITS)
