"""Finding legacy services, surveying them (the dry run) and migrating
them in bounded transactions that a later run resumes.

``find(root, directive)`` names the legacy services; ``survey`` reads one
without writing; ``run`` migrates one: a first transaction makes its
record and the new TaskService, each further one copies at most
``batch_size`` legacy entries and moves the record's cursor with them
(a run that stopped goes on from the last commit, so that no job is
copied twice or left out), and the last one swaps the registrations.
"""
import collections
import logging

from ZODB.broken import Broken

from zodbtasks import clock
from zodbtasks import startup
from zodbtasks.interfaces import CRONJOB
from zodbtasks.interfaces import DELAYED
from zodbtasks.interfaces import ITaskService
from zodbtasks.migration import convert
from zodbtasks.migration import entries
from zodbtasks.migration import legacy
from zodbtasks.migration.legacy import MigrationError
from zodbtasks.migration.legacy import state_of
from zodbtasks.migration.placing import insert_job
from zodbtasks.migration.record import PHASES
from zodbtasks.migration.record import ROOT_KEY
from zodbtasks.migration.record import Migration
from zodbtasks.migration.record import records
from zodbtasks.service import TaskService
from zodbtasks.startup import ROOT_NAME
from zodbtasks.transactions import in_transaction

logger = logging.getLogger(__name__)

#: Legacy entries (jobs, or places in a queue or the schedule) one
#: transaction copies.
BATCH_SIZE = 1000
#: Jobs a survey reads between two garbage collections of the cache.
GC_EVERY = 10000
#: Problems a survey lists per service before it stops looking.
MAX_PROBLEMS = 20
#: Why an entry is not copied.
NOT_IN_JOBS = 'in the %s but no longer in jobs (removed by clean())'
SKIPPED = 'skipped (--skip)'

#: A legacy service found: where, and its registration.
Found = collections.namedtuple('Found', 'label site name provided service')
#: A legacy entry that is not copied (it stays in the old service).
LeftOut = collections.namedtuple('LeftOut', 'jobid why')


def find(root, directive):
    """The legacy services (``Found``) that ``directive`` (SITE@NAME, as
    for every ``zodbtasks`` sub-command) names under the root folder."""
    site_name, _, name = directive.partition('@')
    found = []
    for label_site, site in _sites(root, site_name):
        site_manager = legacy.load_site_manager(
            site, label_site or 'the root folder')
        for registered, provided, service in \
                legacy.legacy_registrations(site_manager):
            if name in ('*', registered):
                found.append(Found('%s@%s' % (label_site, registered),
                                   label_site, registered, provided,
                                   service))
    return found


def _sites(root, site_name):
    try:
        return startup.sites(root, site_name)
    except LookupError as exc:
        raise MigrationError(exc.args[0]) from None


def site_of(root, site_name):
    return root if site_name == '' else root[site_name]


# -- the survey (dry run) -----------------------------------------------------

class Survey:
    """What migrating one service would do: ``legacy_counts`` (legacy
    status -> jobs), ``counts`` (zodbtasks status -> jobs), ``notes``
    (note -> jobs), ``cron`` ([(id, task, status, schedule, next run)]),
    ``left_out`` ([(entry, why)]), ``problems`` (messages: while there is
    one, the service is not migrated), ``jobs`` (how many it holds)."""

    def __init__(self, found, kind):
        self.found, self.kind = found, kind
        self.legacy_counts = collections.Counter()
        self.counts = collections.Counter()
        self.notes = collections.Counter()
        self.cron, self.left_out, self.problems = [], [], []
        self.jobs = 0
        self.broken = False


def survey(found, tz=None, now=None, skip=()):
    """Read the legacy service of ``found`` through, converting every job
    as the migration would (nothing is stored); return a Survey."""
    now = clock.now() if now is None else now
    service = found.service
    result = Survey(found, legacy.service_kind(service) or 'unknown')
    result.broken = isinstance(service, Broken)
    try:
        state = state_of(service)
        entries.check_layout(state, found.label)
    except MigrationError as exc:
        result.problems.append(str(exc))
        return result
    jobs = state['jobs']
    result.jobs = len(jobs)
    seen = set()
    for phase in PHASES[:4]:
        for _, job, found_in, at in entries.walk(state, phase, None):
            if len(result.problems) >= MAX_PROBLEMS:
                return result
            if len(seen) % GC_EVERY == GC_EVERY - 1 \
                    and service._p_jar is not None:
                service._p_jar.cacheGC()  # a read: every job is a ghost again
            job_state = _classify(jobs, job, found_in, seen, skip)
            if isinstance(job_state, LeftOut):
                result.left_out.append(job_state)
            if not isinstance(job_state, dict):
                continue
            seen.add(job_state.get('id'))
            try:
                outcome = convert.convert(job_state, type(job).__name__,
                                          found_in, at, found.label, tz, now)
            except MigrationError as exc:
                result.problems.append(str(exc))
                continue
            _count(result, job_state.get('status'), outcome)
    return result


def _count(result, legacy_status, outcome):
    job = outcome.job
    result.legacy_counts[legacy_status] += 1
    result.counts[job.status] += 1
    if outcome.note:
        result.notes[outcome.note] += 1
    if hasattr(job, 'isDelayed') and job.status in (CRONJOB, DELAYED):
        result.cron.append((job.id, job.task, job.status,
                            job.describeSchedule(), outcome.at))


def _classify(jobs, job, found_in, done, skip):
    """The state of a legacy entry's job to copy; None for a job copied
    from an earlier entry (its id is in ``done``) or skipped, met before
    the walk of all jobs that reports it; a LeftOut for an entry that is
    not copied."""
    state = state_of(job)
    jobid = state.get('id')
    if type(jobid) is not int:
        return state  # convert() says what is wrong with it
    if jobid in done:
        return None
    if jobs.get(jobid) is not job:
        return LeftOut(jobid, NOT_IN_JOBS % found_in if found_in
                       else 'stored under another id')
    if jobid in skip:
        return LeftOut(jobid, SKIPPED) if found_in is None else None
    return state


# -- the migration ------------------------------------------------------------

def run(connection, tm, found, tz=None, batch_size=BATCH_SIZE, skip=(),
        progress=None):
    """Migrate the legacy service of ``found`` (surveyed without problems
    before) in transactions of ``tm``; go on where an earlier run stopped.
    ``progress(record)`` is called after each committed batch.  Return
    the record."""
    label = found.label
    in_transaction(tm, _start, connection, found)
    while True:
        phase = in_transaction(tm, copy_batch, connection, label, tz,
                               batch_size, frozenset(skip))
        record = records(connection)[label]
        if progress is not None:
            progress(record)
        if phase == 'swap':
            break
    in_transaction(tm, _swap, connection, label)
    record = records(connection)[label]
    logger.info('migrated %s: %d jobs', label, record.copied)
    return record


def _start(connection, found):
    tree = records(connection, create=True)
    record = tree.get(found.label)
    if record is not None and record.done:
        raise MigrationError(
            '%s: migrated before, and a legacy service is registered there '
            'again: delete root[%r][%r] (it keeps the first old service) to '
            'migrate this one' % (found.label, ROOT_KEY, found.label))
    if record is not None and record.legacy is found.service:
        return record
    service = TaskService()
    wait = (state_of(found.service).get('processorArguments') or {}).get(
        'waitTime')
    if isinstance(wait, (int, float)) and wait >= 0.01:
        service.pollInterval = float(wait)
    provided = '%s.%s' % (found.provided.__module__, found.provided.__name__)
    record = Migration(found.label, found.site, found.name,
                       legacy.service_kind(found.service) or 'unknown',
                       provided, found.service, service, clock.now())
    tree[found.label] = record
    return record


def copy_batch(connection, label, tz, batch_size, skip):
    """Copy up to ``batch_size`` entries of the record's phase from its
    cursor (moving on to the next phase when this one ends); return the
    phase the record is in afterwards."""
    record = records(connection)[label]
    state = state_of(record.legacy)
    jobs, service = state['jobs'], record.service
    taken = 0
    for cursor, job, found_in, at in entries.walk(state, record.phase,
                                                  record.cursor):
        if taken == batch_size:
            return record.phase
        taken += 1
        record.cursor = cursor
        _copy(record, service, jobs, job, found_in, at, tz, skip)
    record.next_phase()
    return record.phase


def _copy(record, service, jobs, job, found_in, at, tz, skip):
    job_state = _classify(jobs, job, found_in, service.jobs, skip)
    if isinstance(job_state, LeftOut):
        record.leave_out(*job_state)
    if not isinstance(job_state, dict):
        return
    now = clock.now()
    outcome = convert.convert(job_state, type(job).__name__, found_in, at,
                              record.label, tz, now)
    new = outcome.job
    ready = None
    if outcome.place == convert.QUEUE:
        ready = max(new.created or 0.0, record.ready or 0.0)
        record.ready = ready
    elif outcome.place == convert.TO_SCHEDULE:
        ready = now
    insert_job(service, new, ready=ready, scheduled_for=outcome.at)
    record.copied += 1
    if outcome.note:
        record.note(outcome.note)


def _swap(connection, label):
    """Register the new service where the old one was; keep the old one
    in the record."""
    record = records(connection)[label]
    if record.done:
        return
    site = site_of(connection.root()[ROOT_NAME], record.site)
    site_manager = legacy.load_site_manager(site, record.label)
    old, new = record.legacy, record.service
    for name, provided, service in legacy.legacy_registrations(site_manager):
        if service is old and name == record.name:
            site_manager.unregisterUtility(old, provided, name)
    state = state_of(old)
    container, key = state.get('__parent__'), state.get('__name__')
    if container is None or key is None or container.get(key) is not old:
        container, key = site_manager['default'], record.name
        if key in container:
            raise MigrationError(
                "%s: the old service is not in its folder, and the site's "
                "'default' folder has an item %r already: nowhere to put the "
                'new service' % (label, key))
    else:
        del container[key]
    container[key] = new
    site_manager.registerUtility(new, ITaskService, name=record.name)
    record.container, record.key = container, key
    record.phase = PHASES[-1]
    record.finished = clock.now()


def leftovers(connection, site_name):
    """What the site still registers for legacy interfaces."""
    site = site_of(connection.root()[ROOT_NAME], site_name)
    return legacy.leftover_registrations(site.getSiteManager())
