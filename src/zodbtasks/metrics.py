"""Metrics of task services in the text formats Prometheus scrapes:
OpenMetrics 1.0 and the older Prometheus text format 0.0.4 (issue 12).

``render(services, now)`` is the text for ``services``, a list of
``(label, service)`` pairs: every sample carries ``service="<label>"``,
the ``SITE@NAME`` of the operator command and of autostart
(``label_of`` makes it for a service found otherwise).  ``@@metrics``
(``zodbtasks.browser.metrics``, ``zodbtasks.zope.metrics``) and
``zodbtasks metrics`` serve it; docs/metrics.rst lists the metrics.

What is read, per service: the index's task tally (jobs by task and
status, ``zodbtasks.tallies``), the head of the queue and schedule
(``oldestWaiting``), the worker records, and the figures of
``zodbtasks.stats`` (totals and histograms, database-wide, a few seconds
behind).  No job is loaded but the head of the queue and the claims
that wait for a fold (a few per worker), so a scrape costs about the
same with ten jobs or ten million.

Design notes:

- Hand-written rather than ``prometheus_client``'s registry: its
  collectors are process-global and meant for one process's own figures,
  while these are the database's, read in the caller's transaction; the
  two formats differ in a handful of lines (``# UNIT``, ``# EOF``, the
  counters' ``_total`` in ``# TYPE``, ``info``), so a dependency of the
  package for them was rejected.  The tests parse the output with
  ``prometheus_client``'s two parsers.
- ``zodbtasks_jobs`` has a sample for every status of every task that has
  jobs (zeros included): a series that vanishes when its count drops to 0
  breaks ``rate()`` and alert rules.  A task whose jobs are all removed
  leaves the output.
- ``zodbtasks_oldest_waiting_seconds`` is 0 when nothing waits (as
  Sidekiq's latency), so that ``> 300`` alerts need no ``absent()``.
"""
import importlib.metadata
import math

from zodbtasks import folding
from zodbtasks import stats as figures
from zodbtasks.interfaces import PROCESSING
from zodbtasks.interfaces import QUEUED
from zodbtasks.interfaces import STATUSES

OPENMETRICS = 'application/openmetrics-text; version=1.0.0; charset=utf-8'
PROMETHEUS = 'text/plain; version=0.0.4; charset=utf-8'
PREFIX = 'zodbtasks'


def content_type(accept):
    """``(openmetrics, content type)`` for a request's ``Accept`` header:
    OpenMetrics when it names ``application/openmetrics-text`` (Prometheus
    2.5 and later do), else the 0.0.4 text format, which any client and
    browser shows as plain text (as ``prometheus_client`` chooses)."""
    if 'application/openmetrics-text' in (accept or ''):
        return True, OPENMETRICS
    return False, PROMETHEUS


def label_of(service):
    """``SITE@NAME`` of a service: its site's name (empty for a root
    folder or a site without a name) and its own."""
    site = service.getSite()
    site_name = ''
    if site is not None and getattr(site, '__parent__', None) is not None:
        site_name = getattr(site, '__name__', None) or ''
    return '%s@%s' % (site_name, service.__name__ or '')


def render(services, now, openmetrics=True, stats=None):
    """The text of the metrics of ``services`` (``(label, service)``
    pairs) at ``now``; ``stats`` is ``zodbtasks.stats`` or a stand-in."""
    return exposition(collect(services, now, stats), openmetrics)


# -- the families ----------------------------------------------------------------

class Family:
    """One metric family: name (without ``_total`` for counters), type,
    help, unit, and samples ``(suffix, labels, value)``."""

    def __init__(self, name, type, help, unit=None):
        self.name, self.type, self.help, self.unit = name, type, help, unit
        self.samples = []

    def add(self, labels, value, suffix=''):
        self.samples.append((suffix, labels, value))


def families():
    """The families, in the order they are written, by short name."""
    specs = [
        ('info', 'info', 'The zodbtasks version serving these metrics.'),
        ('service_paused', 'gauge', '1 while the service is paused.'),
        ('task_paused', 'gauge', '1 for each paused task.'),
        ('jobs', 'gauge', 'Jobs by task and status (the index).'),
        ('oldest_waiting_seconds', 'gauge', 'Seconds the oldest queued (or '
         'due) job has waited; 0 when none waits.', 'seconds'),
        ('jobs_completed', 'counter', 'Jobs that completed.'),
        ('jobs_failed', 'counter', 'Jobs that ended in error.'),
        ('jobs_cancelled', 'counter', 'Jobs that ended cancelled.'),
        ('job_retries', 'counter', 'Runs that failed and were queued again.'),
        ('job_run_seconds', 'histogram', 'Run time of jobs.', 'seconds'),
        ('job_latency_seconds', 'histogram', 'Time from being queued to '
         'starting.', 'seconds'),
        ('conflict_retries', 'counter', 'Conflict retries of job '
         'transactions.'),
        ('lease_expiries', 'counter', 'Running jobs found with a lost '
         'worker (swept).'),
        ('lease_timeout_seconds', 'gauge', 'A worker silent this long is '
         'lost.', 'seconds'),
        ('workers_alive', 'gauge', 'Workers whose heartbeat is within the '
         'lease timeout.'),
        ('workers_lost', 'gauge', 'Workers with a record whose heartbeat '
         'is older than the lease timeout.'),
        ('worker_heartbeat_age_seconds', 'gauge', 'Seconds since the '
         "worker's last heartbeat.", 'seconds'),
        ('worker_running_jobs', 'gauge', 'Jobs the worker runs.'),
    ]
    found = {}
    for spec in specs:
        short, type, help = spec[:3]
        name = PREFIX if short == 'info' else '%s_%s' % (PREFIX, short)
        found[short] = Family(name, type, help, *spec[3:])
    return found


def collect(services, now, stats=None):
    """The families with the samples of ``services`` at ``now``."""
    stats = figures if stats is None else stats
    found = families()
    found['info'].add({'version': version()}, 1)
    for label, service in services:
        own = {'service': label}
        add_state(found, own, service)
        add_jobs(found, own, service, now)
        add_workers(found, own, service, now)
        add_totals(found, own, service, stats)
    return list(found.values())


def version():
    try:
        return importlib.metadata.version('zodbtasks')
    except importlib.metadata.PackageNotFoundError:
        return 'unknown'


def add_state(found, own, service):
    found['service_paused'].add(own, int(bool(service.isPaused())))
    for task in service.pausedTasks():
        found['task_paused'].add(dict(own, task=task), 1)
    found['lease_timeout_seconds'].add(own, service.leaseTimeout)


def add_jobs(found, own, service, now):
    for task, counts in job_counts(service).items():
        for status in STATUSES:
            found['jobs'].add(dict(own, task=task, status=status),
                              counts[status])
    waited = service.oldestWaiting(now=now)
    found['oldest_waiting_seconds'].add(own, waited or 0.0)


def job_counts(service):
    """task -> {status: count} from the task tally, the claims that wait
    for a fold counted as processing (as ``countByStatus`` does)."""
    tally = service._index.tally_of_tasks()
    counts = {}
    for task, row in tally.items():
        if row.total() > 0:
            counts[task] = {status: row.get(status) for status in STATUSES}
    for jobid in folding.deferred_claims(service):
        job = service.jobs.get(jobid)
        row = counts.get(job.task) if job is not None else None
        if row is not None and row[QUEUED] > 0:
            row[QUEUED] -= 1
            row[PROCESSING] += 1
    return counts


def add_workers(found, own, service, now):
    alive = lost = 0
    for record in sorted(service.workers(now=now), key=lambda r: r['id']):
        if record['alive']:
            alive += 1
        else:
            lost += 1
        labels = dict(own, worker=record['id'])
        found['worker_heartbeat_age_seconds'].add(
            labels, max(now - record['heartbeat'], 0.0))
        found['worker_running_jobs'].add(labels, len(record['running']))
    found['workers_alive'].add(own, alive)
    found['workers_lost'].add(own, lost)


def add_totals(found, own, service, stats):
    for task, tally in sorted(stats.task_totals(service).items()):
        labels = dict(own, task=task)
        found['jobs_completed'].add(labels, tally.completed, '_total')
        found['jobs_failed'].add(labels, tally.failed, '_total')
        found['jobs_cancelled'].add(labels, tally.cancelled, '_total')
        found['job_retries'].add(labels, tally.retried, '_total')
        add_histogram(found['job_run_seconds'], labels, stats.RUN_BUCKETS,
                      tally.run_buckets, tally.run_sum)
        add_histogram(found['job_latency_seconds'], labels,
                      stats.LATENCY_BUCKETS, tally.latency_buckets,
                      tally.latency_sum)
    total = stats.service_totals(service)
    found['conflict_retries'].add(own, total.conflicts, '_total')
    found['lease_expiries'].add(own, total.lease_expiries, '_total')


def add_histogram(family, labels, bounds, buckets, total):
    """The cumulative ``_bucket`` samples of non-cumulative ``buckets``
    (one per bound of ``bounds``, then +Inf), ``_count`` and ``_sum``."""
    running = 0
    for bound, count in zip(tuple(bounds) + (math.inf,), buckets):
        running += count
        family.add(dict(labels, le=format_value(float(bound))), running,
                   '_bucket')
    family.add(labels, running, '_count')
    family.add(labels, total, '_sum')


# -- the text ------------------------------------------------------------------

def exposition(found, openmetrics=True):
    """The text of the families ``found``: OpenMetrics 1.0 (with
    ``# UNIT`` and ``# EOF``) or, with ``openmetrics`` false, the
    Prometheus text format 0.0.4."""
    lines = []
    for family in found:
        if not family.samples:
            continue
        lines += header(family, openmetrics)
        for suffix, labels, value in family.samples:
            if family.type == 'info':
                suffix = '_info'
            lines.append('%s%s%s %s' % (family.name, suffix,
                                        format_labels(labels),
                                        format_value(value)))
    if openmetrics:
        lines.append('# EOF')
    return '\n'.join(lines) + '\n'


def header(family, openmetrics):
    """The ``# HELP``, ``# TYPE`` (and ``# UNIT``) lines of ``family``."""
    name, type = family.name, family.type
    if not openmetrics:
        if type == 'counter':
            name += '_total'
        elif type == 'info':
            name, type = name + '_info', 'gauge'
        return ['# HELP %s %s' % (name, escape_help(family.help, False)),
                '# TYPE %s %s' % (name, type)]
    lines = ['# TYPE %s %s' % (name, type)]
    if family.unit:
        lines.append('# UNIT %s %s' % (name, family.unit))
    lines.append('# HELP %s %s' % (name, escape_help(family.help, True)))
    return lines


def format_labels(labels):
    if not labels:
        return ''
    return '{%s}' % ','.join('%s="%s"' % (name, escape_label(str(value)))
                             for name, value in labels.items())


def escape_label(text):
    """A label value as both formats want it: backslash, double quote and
    line feed escaped (task names and worker ids are data)."""
    return text.replace('\\', '\\\\').replace('"', '\\"') \
        .replace('\n', '\\n')


def escape_help(text, openmetrics):
    text = text.replace('\\', '\\\\').replace('\n', '\\n')
    return text.replace('"', '\\"') if openmetrics else text


def format_value(value):
    """A sample value or bound: ints as they are, floats as Go writes
    them (``+Inf``, ``NaN``, ``1.0``)."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    value = float(value)
    if math.isinf(value):
        return '+Inf' if value > 0 else '-Inf'
    if math.isnan(value):
        return 'NaN'
    return repr(value)
