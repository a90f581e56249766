"""Transaction helpers: one unit of work in a connection and transaction
manager of its own, retried with back-off on conflicts.

Every unit of work in zodbtasks (a claim, one job's run, a fold, a batch
of ``clean()``, a heartbeat, an operator command) is one visible ``with``
block or one ``in_transaction`` call; nothing deep in the call stack
commits the thread-local transaction.
"""
import contextlib
import random
import time

import transaction

#: Transactions tried per unit of work before giving up on conflicts.
CONFLICT_ATTEMPTS = 5
#: First back-off after a conflict (seconds); doubles, with jitter.
BACK_OFF = 0.01


def with_back_off(attempts, base=None, sleep=time.sleep):
    """Yield ``attempts`` (from ``tm.attempts()``), sleeping before each
    retry for an exponentially growing, jittered time (from ``base``
    seconds, by default BACK_OFF)."""
    base = BACK_OFF if base is None else base
    for number, attempt in enumerate(attempts):
        if number:
            sleep(base * 2 ** (number - 1) * random.uniform(0.5, 1.5))
        yield attempt


def in_transaction(tm, func, *args, attempts=CONFLICT_ATTEMPTS, **kwargs):
    """Call ``func(*args, **kwargs)`` in a transaction of ``tm``, retried
    with back-off on conflicts up to ``attempts`` times; return its
    result."""
    for attempt in with_back_off(tm.attempts(attempts)):
        with attempt:
            result = func(*args, **kwargs)
    return result


@contextlib.contextmanager
def own_connection(db):
    """Open a connection of ``db`` with a transaction manager of its own;
    yield ``(connection, tm)``; abort what is left and close it at the
    end."""
    tm = transaction.TransactionManager()
    connection = db.open(transaction_manager=tm)
    try:
        yield connection, tm
    finally:
        tm.abort()
        connection.close()
