"""Transaction helpers: one unit of work in a connection and transaction
manager of its own, retried with back-off on conflicts.

Every unit of work in zodbtasks (a claim, one job's run, a fold, a batch
of ``clean()``, a heartbeat, an operator command) is one visible ``with``
block or one ``in_transaction`` call; nothing deep in the call stack
commits the thread-local transaction.

A storage that went away is not a conflict: ``in_transaction`` raises
``zodbtasks.storage.StorageUnavailable`` at once (``ClientDisconnected`` is
a TransientError, which ``tm.attempts()`` would retry and count), and
``CommitFailed`` when a commit failed otherwise (see
``zodbtasks.storage``).
"""
import collections
import contextlib
import random
import threading
import time

import transaction
from transaction.interfaces import TransientError

from zodbtasks.storage import CommitFailed
from zodbtasks.storage import StorageUnavailable
from zodbtasks.storage import is_conflict
from zodbtasks.storage import is_unavailable

#: Transactions tried per unit of work before giving up on conflicts.
CONFLICT_ATTEMPTS = 5
#: First back-off after a conflict (seconds); doubles, with jitter.
BACK_OFF = 0.01


#: Conflicts retried or given up, per thread name and the class of the
#: object that conflicted (see ``conflicts_of``); processors log theirs
#: when they stop.
_conflicts = collections.defaultdict(collections.Counter)
_conflicts_lock = threading.Lock()


def count_conflict(exc):
    """Count conflict ``exc`` for the current thread, by the class that
    conflicted (``ConflictError.class_name``; else the error's type)."""
    name = getattr(exc, 'class_name', None) or type(exc).__name__
    with _conflicts_lock:
        _conflicts[threading.current_thread().name][name] += 1


def conflicts_of(thread_name):
    """A Counter of the conflicts met in the thread ``thread_name``, by
    the class of the object that conflicted."""
    with _conflicts_lock:
        return collections.Counter(_conflicts.get(thread_name, ()))


def transaction_manager_of(service):
    """The transaction manager of the service's connection (the thread's
    own one when the service is not stored in a database)."""
    jar = service._p_jar
    return jar.transaction_manager if jar is not None else transaction.manager


def with_back_off(attempts, base=None, sleep=time.sleep, cap=None):
    """Yield ``attempts`` (from ``tm.attempts()``), sleeping before each
    retry for an exponentially growing, jittered time (from ``base``
    seconds, by default BACK_OFF; never more than ``cap`` seconds)."""
    base = BACK_OFF if base is None else base
    for number, attempt in enumerate(attempts):
        if number:
            pause = base * 2 ** (number - 1)
            if cap is not None:
                pause = min(pause, cap)
            sleep(pause * random.uniform(0.5, 1.5))
        yield attempt


def in_transaction(tm, func, *args, attempts=CONFLICT_ATTEMPTS,
                   back_off=None, **kwargs):
    """Call ``func(*args, **kwargs)`` in a transaction of ``tm``, retried
    with back-off on conflicts up to ``attempts`` times; return its
    result.  ``back_off``: (first pause, longest pause) in seconds
    (default: from BACK_OFF, doubling).

    Raises StorageUnavailable when the storage went away (in ``func`` or
    in the commit, whose outcome is then unknown) and CommitFailed when
    the commit failed for another reason than a conflict.

    Design note: ``tm.attempts()`` retries every TransientError, and ZEO's
    ClientDisconnected is one; this loop is the same, but for that.
    """
    tries = with_back_off(range(attempts)) if back_off is None else \
        with_back_off(range(attempts), back_off[0], cap=back_off[1])
    for number in tries:
        try:
            tm.begin()  # polls the storage: it may have gone away
            result = func(*args, **kwargs)
        except Exception as exc:
            abort_quietly(tm)
            if is_unavailable(exc):
                raise StorageUnavailable(str(exc)) from exc
            if is_conflict(exc):
                count_conflict(exc)
                if number + 1 < attempts:
                    continue
            raise
        try:
            commit(tm)
        except TransientError as exc:
            count_conflict(exc)
            if number + 1 == attempts:
                raise
            continue
        return result


def abort_quietly(tm):
    """Abort ``tm``'s transaction; an abort that fails because the storage
    went away (RelStorage polls it) is left to the next begin."""
    try:
        tm.abort()
    except Exception as exc:
        if not is_unavailable(exc):
            raise


def commit(tm):
    """Commit ``tm``'s transaction (aborting it when that fails); raise
    conflicts as they are, StorageUnavailable for a storage that went away
    and CommitFailed for any other failure."""
    try:
        tm.commit()
    except Exception as exc:
        abort_quietly(tm)
        if is_conflict(exc):
            raise
        if is_unavailable(exc):
            raise StorageUnavailable(
                'commit outcome unknown: %s' % (exc,)) from exc
        raise CommitFailed('%s: %s' % (type(exc).__name__, exc)) from exc


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
        abort_quietly(tm)
        connection.close()
