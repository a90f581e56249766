"""Databases of lovely.remotetask and z3c.taskqueue services, built with
the stand-ins of tests/fixtures/legacy (on sys.path only inside
``legacy_importable()``), for the migration tests.

``build(db, kind)`` stores a legacy service with a job of every kind and
status, made through the stand-ins' own add / addCronJob / startJob /
cancel / processNext, and returns what the tests check against
(``Facts``).  lovely's service lives in ``site1``'s site manager under
another key than its utility name (as in lovely's README); z3c's in the
root folder itself (as in z3c.taskqueue's processor.txt).
"""
import contextlib
import datetime
import importlib
import os
import sys

import transaction
import zope.component

from zodbtasks import testing

LEGACY_PATH = os.path.join(os.path.dirname(__file__), 'fixtures', 'legacy')
#: 2026-01-01 10:00:00 UTC: the processors' ``now`` while building.
NOW = 1767261600
KINDS = {
    'lovely': ('lovely.remotetask', 'site1', 'TestTaskService1',
               'testTaskService1'),
    'z3c': ('z3c.taskqueue', '', 'tasks', 'tasks'),
}


def _is_legacy_module(name):
    return name == 'legacy_common' or any(
        name == top or name.startswith(top + '.')
        for top in ('lovely', 'z3c'))


def forget_legacy_modules():
    for name in [name for name in sys.modules if _is_legacy_module(name)]:
        del sys.modules[name]
    importlib.invalidate_caches()


@contextlib.contextmanager
def legacy_importable():
    """The stand-ins import inside the block, and not after it."""
    sys.path.insert(0, LEGACY_PATH)
    importlib.invalidate_caches()
    try:
        yield
    finally:
        sys.path.remove(LEGACY_PATH)
        forget_legacy_modules()


class Facts:
    """What a built database holds: ``ids`` (role -> job id), ``queue``
    (ids in the legacy queue's order), ``scheduled`` (id -> epoch second in
    ``_scheduledJobs``), ``created`` etc. (id -> naive datetime),
    ``label``, ``site``, ``name``, ``key``, ``kind``."""


def echo(service, jobid, input):
    return input


def make_tasks(kind):
    """Register the legacy tasks echo and fail (raising TaskError in
    lovely) as ITask utilities of the stand-in ``kind``."""
    interfaces = importlib.import_module(KINDS[kind][0] + '.interfaces')
    if kind == 'lovely':
        task_error = importlib.import_module('lovely.remotetask.task'
                                             ).TaskError
    else:
        task_error = RuntimeError

    def fail(service, jobid, input):
        raise task_error('failed: %s' % (input,))
    for name, func in (('echo', echo), ('fail', fail)):
        zope.component.provideUtility(func, interfaces.ITask, name)


def build(db, kind='lovely'):
    """Store a legacy service of ``kind`` ('lovely' or 'z3c') with every
    kind and status of job in ``db``; call inside legacy_importable()."""
    package, site_name, name, key = KINDS[kind]
    interfaces = importlib.import_module(package + '.interfaces')
    service_module = importlib.import_module(package + '.service')
    make_tasks(kind)
    connection = db.open()
    try:
        root = testing.setup_root(connection)
        site = testing.add_site(root, site_name) if site_name else root
        service = service_module.TaskService()
        if site_name:
            site.getSiteManager()['default'][key] = service
        else:
            root[key] = service
        site.getSiteManager().registerUtility(
            service, interfaces.ITaskService, name=name)
        facts = _fill(service)
        transaction.commit()
    finally:
        transaction.abort()
        connection.close()
    facts.kind, facts.site, facts.name, facts.key = kind, site_name, name, key
    facts.label = '%s@%s' % (site_name, name)
    return facts


def build_in(directory, kind='lovely'):
    """``build`` in a new database in ``directory`` (Data.fs), closed
    afterwards."""
    db = testing.create_database(directory)
    try:
        with legacy_importable():
            return build(db, kind)
    finally:
        db.close()


def _fill(service):
    ids = {}
    now = NOW
    ids['completed'] = service.add('echo', {'n': 'completed'})
    ids['error'] = service.add('fail', 'boom')
    assert service.processNext(now) and service.processNext(now)
    ids['started_later'] = service.add('echo', 3, startLater=True)
    ids['queued'] = [service.add('echo', n) for n in range(3)]
    service.startJob(ids['started_later'])
    ids['startlater'] = service.add('echo', 'later', startLater=True)
    ids['cancelled'] = service.add('echo', 'cancelled')
    service.cancel(ids['cancelled'])
    ids['processing'] = service.add('echo', 'processing')
    job = service._queue.pull(len(service._queue) - 1)
    job.status, job.started = 'processing', datetime.datetime.now()
    ids['orphan'] = service.add('echo', 'orphan')
    service._queue.pull(len(service._queue) - 1)
    ids['cron'] = service.addCronJob('echo', {'cron': 1}, minute=(0, 30),
                                     hour=(3,))
    ids['delayed'] = service.addCronJob('echo', 'delayed', delay=600)
    ids['delayed_done'] = service.addCronJob('echo', 'soon', delay=1)
    ids['cron_cancelled'] = service.addCronJob('echo', None, hour=(5,))
    ids['cron_error'] = service.addCronJob('fail', 'every minute')
    service.schedule(now)
    service.cancel(ids['cron_cancelled'])
    assert service.pullNext(now + 5).id == ids['delayed_done']
    service.processNext(now + 5, jobid=ids['delayed_done'])
    assert service.pullNext(now + 120).id == ids['cron_error']
    service.processNext(now + 120, jobid=ids['cron_error'])
    ids['cron_new'] = service.addCronJob('echo', 'sunday', minute=(59,),
                                         hour=(23,), dayOfWeek=(6,))
    ids['delayed_new'] = service.addCronJob('echo', 'in an hour',
                                            delay=3600)
    facts = Facts()
    facts.ids = ids
    facts.queue = [job.id for job in service._queue]
    facts.scheduled = {job.id: when
                       for when, jobs in service._scheduledJobs.items()
                       for job in jobs}
    facts.jobs = {jobid: dict(job.__dict__)
                  for jobid, job in service.jobs.items()}
    return facts


def all_ids(facts):
    ids = []
    for value in facts.ids.values():
        ids.extend(value if isinstance(value, list) else [value])
    return sorted(ids)
