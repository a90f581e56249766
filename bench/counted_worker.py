"""``zodbtasks-worker`` that reports every ConflictError of a commit.

Run as ``python -m counted_worker OPTIONS`` (this folder on PYTHONPATH)
with the options of ``zodbtasks-worker``: it wraps
``transaction.Transaction.commit`` so that each ConflictError (ZODB's,
and RelStorage's row lock timeouts, which are ConflictErrors too) raised
by a commit in this process writes one line ``MARK: TYPE`` to stderr
before it propagates, then runs the worker's ``main``.  Nothing else
changes: the benchmarks count those lines in the worker's log (claims,
job runs, folds, sweeps and heartbeats alike).
"""
import sys

import transaction._transaction
from ZODB.POSException import ConflictError

#: The start of each line this module writes.
MARK = 'bench: ConflictError in a commit'


def install():
    """Report the ConflictErrors of every commit of this process."""
    commit = transaction._transaction.Transaction.commit

    def reported(self):
        try:
            return commit(self)
        except ConflictError as exc:
            sys.stderr.write('%s: %s\n' % (MARK, type(exc).__name__))
            raise
    transaction._transaction.Transaction.commit = reported


def main(argv=None):
    from zodbtasks.app import worker
    install()
    return worker.main(argv)


if __name__ == '__main__':
    sys.exit(main())
