"""The wake-up channel: after a transaction that queued or scheduled jobs
of a service commits, the listeners of that service in this process are
called (processors register their ``wake``).

Storage code calls ``notify_after_commit`` and never imports the thread
runtime; processors ``subscribe`` and ``unsubscribe``.
"""
import threading

_listeners = {}  # (id(db), oid) -> list of callables
_lock = threading.Lock()


def key_of(db, oid):
    """The channel of the service stored under ``oid`` in ``db``."""
    return (id(db), oid)


def subscribe(db, oid, callback):
    """Call ``callback()`` after each commit that changed what is due in
    the service ``oid`` of ``db``."""
    with _lock:
        _listeners.setdefault(key_of(db, oid), []).append(callback)


def unsubscribe(db, oid, callback):
    """Stop calling ``callback`` (no error when it was not subscribed)."""
    with _lock:
        callbacks = _listeners.get(key_of(db, oid), [])
        if callback in callbacks:
            callbacks.remove(callback)
        if not callbacks:
            _listeners.pop(key_of(db, oid), None)


def notify_after_commit(service):
    """Wake the listeners of ``service`` once the current transaction of
    its connection commits (at most one hook per transaction and
    service); nothing for a service not stored in a database."""
    jar = service._p_jar
    if jar is None:
        return
    txn = jar.transaction_manager.get()
    try:
        txn.data(service)
    except KeyError:
        txn.set_data(service, True)
        txn.addAfterCommitHook(_after_commit,
                               (key_of(jar.db(), service._p_oid),))


def _after_commit(committed, key):
    if committed:
        with _lock:
            callbacks = list(_listeners.get(key, ()))
        for callback in callbacks:
            callback()
