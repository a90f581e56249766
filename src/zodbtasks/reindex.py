"""Checking the indexes against the jobs, and rebuilding them from the
jobs: ``ITaskService.checkIndex`` and ``rebuildIndex`` and the operator
command ``zodbtasks reindex``.

The jobs are the truth.  For each job the check derives the entries it
must have: its id in exactly one status set (``processing`` while it is
unfolded, see ``zodbtasks.jobmaps``) and in its task's set, its start
and finish times in the time indexes, a queue entry for ``queueKey`` and a
schedule entry for ``scheduledFor``, and a worker record listing it while
it runs.  Then every entry of every index must belong to a job that wants
it, the counts must equal the sets' sizes, and the tallies
(``zodbtasks.tallies``) must add up to the counts.  ``check`` reports, and
``rebuild`` repairs, with one code path, so that what the check reports
is exactly what the rebuild fixes.

The rebuild runs in transactions of ``batch`` jobs or entries each, so it
can run on a large service while processors work (a batch that conflicts
is retried).
"""
from zodbtasks import dependencies
from zodbtasks import runner
from zodbtasks import tallies
from zodbtasks.interfaces import COMPLETED
from zodbtasks.interfaces import BLOCKED
from zodbtasks.interfaces import FINISHED
from zodbtasks.interfaces import PROCESSING
from zodbtasks.interfaces import QUEUED
from zodbtasks.interfaces import STATUSES
from zodbtasks.interfaces import WAITING
from zodbtasks.jobmaps import JobMaps
from zodbtasks.trees import SENTINEL
from zodbtasks.transactions import in_transaction


def check(maps):
    """The problems of the indexes of ``maps`` (a JobMaps), as a list of
    lines naming the job or entry; empty when they agree with the jobs."""
    problems = []
    for job in maps.jobs.values():
        problems.extend(_job_problems(maps, job, repair=False))
    for step in _ORPHAN_STEPS:
        problems.extend(step(maps, None, None, repair=False)[0])
    problems.extend(_count_problems(maps, repair=False))
    return problems


def rebuild(service, batch):
    """Repair the indexes of ``service`` in transactions of ``batch``
    jobs or entries; return the problems that were repaired."""
    runner.check_no_pending_changes(service)
    tm = runner.transaction_manager_of(service)
    repaired = []
    steps = [_repair_jobs] + list(_ORPHAN_STEPS)
    for step in steps:
        cursor = None
        while True:
            fixed, cursor = in_transaction(
                tm, lambda: step(JobMaps(service), cursor, batch,
                                 repair=True))
            repaired.extend(fixed)
            if cursor is None:
                break
    repaired.extend(in_transaction(
        tm, lambda: _count_problems(JobMaps(service), repair=True)))
    return repaired


def _batch(tree_keys, batch):
    """Up to ``batch`` keys from an iterator and the cursor to go on
    from (None at the end)."""
    keys = []
    for key in tree_keys:
        keys.append(key)
        if batch is not None and len(keys) >= batch:
            return keys, key
    return keys, None


def _after(tree, cursor):
    return tree.keys() if cursor is None else tree.keys(min=cursor,
                                                        excludemin=True)


def _repair_jobs(maps, cursor, batch, repair):
    ids, cursor = _batch(_after(maps.jobs, cursor), batch)
    fixed = []
    for jobid in ids:
        fixed.extend(_job_problems(maps, maps.jobs[jobid], repair))
    return fixed, cursor


class _Problems(list):
    """The problems found for one job; each is repaired at once when
    ``repair`` is set."""

    def __init__(self, job, repair):
        super().__init__()
        self.job, self.repair = job, repair

    def __call__(self, text, fix):
        self.append('job %d: %s' % (self.job.id, text))
        if self.repair:
            fix()


def _job_problems(maps, job, repair):
    problem = problems = _Problems(job, repair)
    index, jobid = maps.index, job.id
    expected = maps.indexed_status(job)
    for status in STATUSES:
        inside = jobid in index.by_status.sets.get(status, ())
        if inside and status != expected:
            problem('listed as %s but is %s' % (status, expected),
                    lambda s=status: index.by_status.remove(s, jobid))
    if jobid not in index.by_status.sets.get(expected, ()):
        problem('missing from the %s set' % expected,
                lambda: index.by_status.add(expected, jobid))
    if jobid not in index.by_task.sets.get(job.task, ()):
        problem('missing from the set of task %r' % job.task,
                lambda: index.by_task.add(job.task, jobid))
    if job.started is not None and not maps.claim_unindexed(job) \
            and (job.started, jobid) not in index.started:
        problem('start time missing from the index',
                lambda: index.started.add((job.started, jobid)))
    if job.completed is not None and expected in FINISHED \
            and (job.completed, jobid) not in index.completed:
        problem('finish time missing from the index',
                lambda: index.completed.add((job.completed, jobid)))
    for tag in job.tags:
        if index.by_tag is None or jobid not in index.by_tag.sets.get(
                tag, ()):
            problem('missing from the set of tag %r' % tag,
                    lambda t=tag: _tag_groups(index).add(t, jobid))
    # an index that got its priority sets on first use holds the
    # completed jobs of before only if they were retried since
    if job.priority and index.by_priority is not None \
            and expected != COMPLETED \
            and jobid not in index.by_priority.sets.get(job.priority, ()):
        problem('missing from the set of priority %r' % job.priority,
                lambda: index.by_priority.add(job.priority, jobid))
    _place_problems(maps, job, problem)
    _dependency_problems(maps, job, expected, problem)
    return list(problems)


def _tag_groups(index):
    if index.by_tag is None:
        from zodbtasks.index import tail_groups
        index.by_tag = tail_groups()
    return index.by_tag


def _dependency_problems(maps, job, expected, problem):
    """The holder sets of its tags and task, and what a blocked job
    watches (a blocked job that watches nothing would wait forever)."""
    deps, jobid = maps.deps, job.id
    kind = dependencies.hold_class(job, expected)
    for key in deps.keys_of(job) if deps.indexed() else ():
        for groups, name in ((deps.holders, dependencies.LIVE),
                             (deps.failed, dependencies.FAILED)):
            inside = jobid in groups.sets.get(key, ())
            if inside and kind != name:
                problem('held %r as %s but is %s' % (key, name, expected),
                        lambda g=groups, k=key: g.remove(k, jobid))
            elif not inside and kind == name:
                problem('does not hold %r as %s' % (key, name),
                        lambda g=groups, k=key: g.add(k, jobid))
    if job.status != BLOCKED:
        return
    watched = maps.jobs.get(job.waitsOn) if job.waitsOn is not None \
        else None
    listed = job.waitsOn is not None and \
        jobid in deps.watchers_of(job.waitsOn)
    pending = job.waitsOn is not None and \
        job.waitsOn in getattr(maps.service, '_releasing', ())
    # A watched job that finished but is not folded yet still holds:
    # its fold releases the watchers.
    holding = watched is not None and dependencies.hold_class(
        watched, PROCESSING if maps.listed(watched)
        else watched.status) is not None
    if not listed or not (holding or pending):
        problem('blocked but watches no job that blocks it',
                lambda: _recheck(maps, job))


def _recheck(maps, job):
    maps.deps.unwatch(job)
    verdict, detail = maps.deps.evaluate(job)
    maps.settle_dependency(job, verdict, detail, None, 0.0)


def _place_problems(maps, job, problem):
    """Queue, schedule and worker-record entries of one job."""
    jobid = job.id
    if job.queueKey is not None and maps.queue.get(job.queueKey) != jobid:
        problem('its queue entry %d is missing' % job.queueKey,
                lambda: maps.enqueue(job, None, key=job.queueKey))
    when = job.scheduledFor
    if when is not None and maps.schedule.get((when, jobid)) != jobid:
        problem('its schedule entry at %r is missing' % when,
                lambda: maps.schedule_at(job, when))
    gate = job.parkedOn
    if gate is not None and maps.holds.parked_at(gate, job.parkKey) != jobid:
        problem('held back at %r but not parked there' % (gate,),
                lambda: maps.holds.park(job, gate, 0, job.parkKey))
    waiting = job.status in (QUEUED, job.waiting_status)
    if waiting and job.queueKey is None and job.scheduledFor is None \
            and gate is None:
        problem('waits as %s but is neither queued nor scheduled'
                % job.status, lambda: maps.enqueue(job, None))
    key = job.uniqueKey
    if key is not None and job.status in WAITING \
            and maps.find_unique(key) is None:
        problem('waits but does not hold its unique key %r' % key,
                lambda: maps.hold_unique(job))
    if job.status == PROCESSING and not maps.listed(job):
        problem('processing under %s, whose worker record does not list '
                'it' % job.owner,
                lambda: maps.record(job.owner, 0.0).jobs.add(jobid))


def _orphan_step(name, entries, wanted, remove):
    """A step finding the entries of one index that no job wants."""

    def step(maps, cursor, batch, repair):
        keys, cursor = _batch(entries(maps, cursor), batch)
        problems = []
        for key in keys:
            if not wanted(maps, key):
                problems.append('%s entry %r matches no job' % (name, key))
                if repair:
                    remove(maps, key)
        return problems, cursor

    step.__name__ = 'orphans_in_' + name.replace(' ', '_')
    return step


def _group_entries(attribute, groups=None):
    """(value, id) pairs of a _Groups index, from after ``cursor``."""
    def entries(maps, cursor):
        found = groups if groups is not None \
            else getattr(maps.index, attribute)
        if found is None:
            return
        sets = found.sets
        items = sets.items() if cursor is None else sets.items(
            min=cursor[0])
        for value, ids in items:
            low = SENTINEL
            if cursor is not None and value == cursor[0]:
                low = cursor[1]
            for jobid in ids.keys(min=low, excludemin=True):
                yield (value, jobid)
    return entries


def _status_wanted(maps, key):
    status, jobid = key
    job = maps.jobs.get(jobid)
    if job is None:
        return False
    return status == maps.indexed_status(job)


def _task_wanted(maps, key):
    job = maps.jobs.get(key[1])
    return job is not None and job.task == key[0]


def _time_wanted(attribute):
    def wanted(maps, key):
        job = maps.jobs.get(key[1])
        return job is not None and getattr(job, attribute) == key[0]
    return wanted


def _queue_wanted(maps, key):
    job = maps.jobs.get(maps.queue.get(key))
    return job is not None and job.queueKey == key


def _unique_wanted(maps, key):
    return maps.find_unique(key) is not None \
        and maps.jobs[maps.unique[key]].uniqueKey == key


def _unique_entries(maps, cursor):
    tree = maps.unique_tree()
    return iter(()) if tree is None else _after(tree, cursor)


def _tag_wanted(maps, key):
    job = maps.jobs.get(key[1])
    return job is not None and key[0] in job.tags


def _priority_wanted(maps, key):
    job = maps.jobs.get(key[1])
    return job is not None and job.priority == key[0]


def _holder_entries(maps, cursor, attribute):
    if not maps.deps.indexed():
        return iter(())
    groups = getattr(maps.deps, attribute)
    return _group_entries(None, groups)(maps, cursor)


def _holder_wanted(kind):
    def wanted(maps, key):
        (name, jobid) = key
        job = maps.jobs.get(jobid)
        if job is None or name not in maps.deps.keys_of(job):
            return False
        return dependencies.hold_class(job, maps.indexed_status(job)) \
            == kind
    return wanted


def _schedule_wanted(maps, key):
    job = maps.jobs.get(key[1])
    return job is not None and job.scheduledFor == key[0]


_ORPHAN_STEPS = (
    _orphan_step('status', _group_entries('by_status'), _status_wanted,
                 lambda maps, key: maps.index.by_status.remove(*key)),
    _orphan_step('task', _group_entries('by_task'), _task_wanted,
                 lambda maps, key: maps.index.by_task.remove(*key)),
    _orphan_step('start time', lambda maps, c: _after(maps.index.started, c),
                 _time_wanted('started'),
                 lambda maps, key: maps.index.started.remove(key)),
    _orphan_step('finish time',
                 lambda maps, c: _after(maps.index.completed, c),
                 _time_wanted('completed'),
                 lambda maps, key: maps.index.completed.remove(key)),
    _orphan_step('queue', lambda maps, c: maps.queue.keys_after(c),
                 _queue_wanted, lambda maps, key: maps.queue.remove(key)),
    _orphan_step('schedule', lambda maps, c: _after(maps.schedule, c),
                 _schedule_wanted, lambda maps, key: maps.schedule.pop(key)),
    _orphan_step('unique key', _unique_entries, _unique_wanted,
                 lambda maps, key: maps.unique.pop(key)),
    _orphan_step('tag', _group_entries('by_tag'), _tag_wanted,
                 lambda maps, key: maps.index.by_tag.remove(*key)),
    _orphan_step('priority', _group_entries('by_priority'),
                 _priority_wanted,
                 lambda maps, key: maps.index.by_priority.remove(*key)),
    _orphan_step('holder', lambda maps, c: _holder_entries(maps, c,
                                                           'holders'),
                 _holder_wanted(dependencies.LIVE),
                 lambda maps, key: maps.deps.holders.remove(*key)),
    _orphan_step('failed holder', lambda maps, c: _holder_entries(
        maps, c, 'failed'), _holder_wanted(dependencies.FAILED),
        lambda maps, key: maps.deps.failed.remove(*key)),
)


def _count_problems(maps, repair):
    problems = []
    for found, name in ((maps.index.by_status, 'status'),
                        (maps.index.by_task, 'task'),
                        (maps.index.by_tag, 'tag'),
                        (maps.index.by_priority, 'priority'),
                        (maps.deps.indexed() and maps.deps.holders, 'holder'),
                        (maps.deps.indexed() and maps.deps.failed,
                         'failed holder')):
        if not found:
            continue
        groups = found
        for value, ids in list(groups.sets.items()):
            actual = len(ids) - (SENTINEL in ids)
            counted = groups.count(value)
            if actual != counted:
                problems.append('%s count of %r is %d, its set holds %d'
                                % (name, value, counted, actual))
                if repair:
                    groups.counts.change(value, actual - counted)
    for tally, name in ((maps.index.task_tally, 'task'),
                        (maps.index.priority_tally, 'priority')):
        if tally is not None:
            problems.extend(tallies.problems(tally, name, repair))
    return problems
