"""Retention: finished jobs are removed once they are older than their
status's keep time, by the processors, in bounded transactions.

The keep times come from ``<product-config zodbtasks>``:
``keep-completed``, ``keep-failed`` (status ``error``) and
``keep-cancelled``, each a duration (``90`` seconds, ``30s``, ``15m``,
``12h``, ``7d``, ``2w``) or ``keep`` (the default: never removed).  Cron
jobs are never removed by retention, nor are jobs whose worker has not
folded them yet.

``expire_some`` removes, in the caller's transaction, up to ``limit``
jobs whose keep time has passed at ``now``.  It walks each status's ids
from the oldest: an id grows with its job's creation time, and a job
finishes after it was created, so the ids above the cutoff's are never
candidates, and a walk reads only the jobs it removes plus the few that
finished late (a walk is bounded by ``scan`` as well).  Nothing here
commits or reads the clock.
"""
import itertools
import re


from zodbtasks import interfaces
from zodbtasks.interfaces import CANCELLED
from zodbtasks.interfaces import COMPLETED
from zodbtasks.interfaces import ERROR
from zodbtasks.keys import RANDOM_BITS
from zodbtasks.productconfig import product_config
from zodbtasks.trees import SENTINEL

#: product-config key -> the status it keeps.
KEYS = {'keep-completed': COMPLETED, 'keep-failed': ERROR,
        'keep-cancelled': CANCELLED}
#: Jobs removed per transaction at most.
BATCH = 1000
#: Seconds between two retention passes of a processor (while nothing is
#: left to remove).
INTERVAL = 60.0

_UNITS = {'': 1, 's': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800}
_DURATION = re.compile(r'^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$')


def parse_duration(value, key):
    """Seconds of ``value`` (``keep``: None), or ValueError naming
    ``key``."""
    text = str(value).strip().lower()
    if text in ('keep', 'forever', 'off'):
        return None
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(
            '%s %r in <product-config zodbtasks>: expected a duration such '
            'as 90, 30s, 15m, 12h, 7d or 2w, or keep' % (key, value))
    return float(match.group(1)) * _UNITS[match.group(2)]


def policy(config):
    """status -> keep seconds, for the statuses whose jobs are removed
    (``config``: the product configuration, a dict)."""
    kept = {}
    for key, status in KEYS.items():
        if config.get(key) is not None:
            seconds = parse_duration(config[key], key)
            if seconds is not None:
                kept[status] = seconds
    return kept


def check_policy(keep):
    """``keep`` given to ``removeExpired``: a dict of status -> seconds
    (>= 0) for finished statuses."""
    if not isinstance(keep, dict):
        raise ValueError('keep: expected a dict of status -> seconds, not '
                         '%.80r' % (keep,))
    for status, seconds in keep.items():
        if status not in interfaces.FINISHED:
            raise ValueError('keep: %r is not a finished status (%s)'
                             % (status, ', '.join(interfaces.FINISHED)))
        if isinstance(seconds, bool) or not isinstance(
                seconds, (int, float)) or not seconds >= 0:
            raise ValueError('keep: %r: expected seconds >= 0, not %.80r'
                             % (status, seconds))
    return dict(keep)


def configured():
    """The policy of this process's ``<product-config zodbtasks>``."""
    return policy(product_config())


def id_bound(when):
    """An id above every id made at or before ``when`` (epoch seconds)."""
    return (round(when * 1000) + 1) << RANDOM_BITS


def expire_some(maps, keep, now, limit=BATCH, scan=None):
    """Remove up to ``limit`` finished jobs whose status's keep time
    (``keep``: status -> seconds) has passed at ``now``; return
    ``(removed, more)``: ``more`` when the limit or the scan bound
    stopped the walk."""
    scan = limit * 5 if scan is None else scan
    removed = seen = 0
    for status, seconds in sorted(keep.items()):
        cutoff = now - seconds
        ids = maps.index.by_status.sets.get(status)
        if ids is None:
            continue
        # taken first: a tree must not change while it is iterated
        batch = list(itertools.islice(
            ids.keys(min=SENTINEL + 1, max=id_bound(cutoff)), scan - seen))
        for jobid in batch:
            if removed >= limit:
                return removed, True
            seen += 1
            job = maps.jobs.get(jobid)
            if job is None or job.status != status \
                    or interfaces.ICronJob.providedBy(job) \
                    or job.completed is None or job.completed > cutoff \
                    or maps.listed(job):
                continue
            maps.remove(job)
            removed += 1
        if seen >= scan:
            return removed, True
    return removed, False
