"""Helpers of the index tests: a cold view of a service (a connection of
its own, transfer counts reset), and an index made to look as indexes
made before tallies do."""
import contextlib

from zodbtasks import testing


@contextlib.contextmanager
def cold(service):
    """``(connection, service)`` in a connection of its own, its transfer
    counts reset, so that what a read loads can be counted."""
    with testing.open_service(service._p_jar.db(),
                              service._p_oid) as (conn, _, svc):
        conn.getTransferCounts(True)
        yield conn, svc


def forget_tallies(index):
    """Make ``index`` as indexes made before tallies are."""
    for name in ('task_tally', 'priority_tally', 'by_priority'):
        del index.__dict__[name]
    for groups in (index.by_status, index.by_task):
        del groups.__dict__['listeners']
        groups._p_changed = True
    index._p_changed = True
