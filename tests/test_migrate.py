"""Migrating lovely.remotetask and z3c.taskqueue services (zodbtasks.
migration) on databases built with the stand-ins of tests/fixtures/legacy:
every kind and status of job, with the legacy classes importable and
without them (broken objects)."""
import contextlib
import importlib.util
import sys

import pytest
from zope.interface.verify import verifyObject

from zodbtasks import testing
from zodbtasks.interfaces import CANCELLED
from zodbtasks.interfaces import COMPLETED
from zodbtasks.interfaces import CRONJOB
from zodbtasks.interfaces import DELAYED
from zodbtasks.interfaces import ERROR
from zodbtasks.interfaces import QUEUED
from zodbtasks.interfaces import STARTLATER
from zodbtasks.interfaces import ICronJob
from zodbtasks.interfaces import ITaskService
from zodbtasks.job import CronJob
from zodbtasks.migration import legacy
from zodbtasks.migration import migrate
from zodbtasks.migration.record import records
from zodbtasks.service import TaskService
from zodbtasks.startup import ROOT_NAME
from zodbtasks.transactions import own_connection

import legacy_db
from legacy_db import NOW


@pytest.fixture(params=['lovely', 'z3c'])
def kind(request):
    return request.param


@pytest.fixture
def built(tmp_path, kind):
    return legacy_db.build_in(str(tmp_path), kind)


@pytest.fixture
def db(tmp_path, built):
    """The database ``built`` made, opened anew (a database's pooled
    connections would keep objects of the stand-in classes loaded)."""
    database = testing.create_database(str(tmp_path))
    yield database
    testing.close_database(database)


def _migrate(db, importable, directive='*@*', **options):
    """Migrate every legacy service; return the labels migrated."""
    maybe = legacy_db.legacy_importable() if importable \
        else contextlib.nullcontext()
    with maybe, legacy.legacy_interfaces():
        with own_connection(db) as (connection, tm):
            tm.begin()
            found = migrate.find(connection.root()[ROOT_NAME], directive)
            problems = [problem for each in found
                        for problem in migrate.survey(each).problems]
            assert problems == []
            tm.abort()
            return [migrate.run(connection, tm, each, **options).label
                    for each in found]


def _new_service(connection, facts):
    root = connection.root()[ROOT_NAME]
    site = root[facts.site] if facts.site else root
    return site.getSiteManager().getUtility(ITaskService, facts.name)


def _epoch(value):
    return None if value is None else value.timestamp()


@pytest.mark.parametrize('importable', [True, False],
                         ids=['classes-import', 'broken-objects'])
def test_every_job_keeps_its_id_status_values_and_times(db, built,
                                                        importable):
    assert _migrate(db, importable) == [built.label]
    ids, legacy_jobs = built.ids, built.jobs
    with own_connection(db) as (connection, _):
        service = _new_service(connection, built)
        assert isinstance(service, TaskService)
        verifyObject(ITaskService, service)
        assert sorted(service.jobs.keys()) == legacy_db.all_ids(built)
        statuses = {jobid: service.jobs[jobid].status
                    for jobid in service.jobs.keys()}
        expected = dict.fromkeys(ids['queued'] + [ids['started_later']],
                                 QUEUED)
        expected.update({
            ids['completed']: COMPLETED, ids['error']: ERROR,
            ids['startlater']: STARTLATER, ids['cancelled']: CANCELLED,
            ids['processing']: ERROR, ids['orphan']: ERROR,
            ids['cron']: CRONJOB, ids['delayed']: DELAYED,
            ids['delayed_done']: COMPLETED, ids['cron_cancelled']: CANCELLED,
            ids['cron_error']: CRONJOB, ids['cron_new']: CRONJOB,
            ids['delayed_new']: DELAYED})
        assert statuses == expected
        for jobid, old in legacy_jobs.items():
            job = service.jobs[jobid]
            assert (job.task, job.input) == (old['task'], old['input'])
            assert job.created == _epoch(old['created'])
            assert job.started == _epoch(old.get('started'))
            if old['status'] not in ('processing', 'queued'):
                assert job.completed == _epoch(old.get('completed'))
            assert ICronJob.providedBy(job) == ('minute' in old)
        completed = service.jobs[ids['completed']]
        assert completed.output == {'n': 'completed'}
        assert service.getError(ids['error']) == 'failed: boom'
        assert service.getError(ids['cron_error']) == 'failed: every minute'
        assert service.getError(ids['processing']).startswith(
            'migrated as error: processing: taken by a processor')
        assert 'queued but not in the queue' in service.getError(
            ids['orphan'])
        assert service.checkIndex() == []
        assert service.countByStatus()[QUEUED] == 4


def test_cron_and_delayed_jobs_keep_their_schedules(db, built):
    _migrate(db, importable=False)
    ids, scheduled = built.ids, built.scheduled
    with own_connection(db) as (connection, _):
        service = _new_service(connection, built)
        cron = service.jobs[ids['cron']]
        assert isinstance(cron, CronJob)
        assert (cron.minute, cron.hour, cron.dayOfMonth, cron.month,
                cron.dayOfWeek) == ((0, 30), (3,), (), (), ())
        assert cron.scheduledFor == scheduled[ids['cron']]
        assert cron.describeSchedule() == 'at 03:00, 03:30 every day'
        delayed = service.jobs[ids['delayed']]
        assert (delayed.delay, delayed.scheduledFor) == (
            600, scheduled[ids['delayed']])
        sunday = service.jobs[ids['cron_new']]
        assert (sunday.minute, sunday.hour, sunday.dayOfWeek) == (
            (59,), (23,), (6,))
        assert sunday.scheduledFor is None  # the processor schedules it
        assert service.jobs[ids['delayed_new']].delay == 3600
        assert service.nextScheduledTime() == scheduled[ids['cron_error']]


def test_the_migrated_service_runs_its_jobs_in_the_legacy_order(db, built):
    _migrate(db, importable=False)
    ran = []

    def record(service, jobid, input):
        ran.append(jobid)
        return input
    testing.register_task('echo', testing.ServiceTask(record))
    with own_connection(db) as (connection, tm):
        service = _new_service(connection, built)
        tm.commit()
        assert service.process(now=NOW + 1) == 4
        assert ran == built.queue
        tm.begin()
        assert service.startJob(built.ids['startlater'], now=NOW + 2)
        tm.commit()
        assert service.process(now=NOW + 3) == 1
        tm.begin()
        assert service.getStatus(built.ids['startlater']) == COMPLETED
        assert service.getResult(built.ids['startlater']) == 'later'


def test_the_new_service_takes_the_place_and_name_of_the_old_one(db, built):
    _migrate(db, importable=False)
    # No legacy module is left behind (other z3c packages, Plone's, may be
    # loaded in this process).
    assert not any(name.startswith(('lovely', 'z3c.taskqueue'))
                   for name in sys.modules)
    with own_connection(db) as (connection, _):
        root = connection.root()[ROOT_NAME]
        site = root[built.site] if built.site else root
        sm = site.getSiteManager()  # loads without the legacy interfaces
        container = sm['default'] if built.site else root
        service = container[built.key]
        assert isinstance(service, TaskService)
        assert service.__name__ == built.key
        assert sm.getUtility(ITaskService, built.name) is service
        assert [r.name for r in sm.registeredUtilities()] == [built.name]
        record = records(connection)[built.label]
        assert record.done and record.copied == len(built.jobs)
        assert record.service is service
        assert (record.container, record.key) == (container, built.key)
        assert legacy.class_path(record.legacy) == \
            legacy_db.KINDS[built.kind][0] + '.service.TaskService'
        assert len(legacy.state_of(record.legacy)['jobs']) == len(built.jobs)


def test_an_interrupted_migration_goes_on_where_it_stopped(db, built,
                                                           monkeypatch):
    real, calls = migrate.copy_batch, []

    def failing(*args):
        calls.append(args)
        if len(calls) == 3:
            raise RuntimeError('interrupted')
        return real(*args)
    monkeypatch.setattr(migrate, 'copy_batch', failing)
    with pytest.raises(RuntimeError, match='interrupted'):
        _migrate(db, importable=False, batch_size=2)
    with own_connection(db) as (connection, _):
        with legacy.legacy_interfaces():
            record = records(connection)[built.label]
            assert (record.phase, record.copied) == ('scheduled queue', 4)
            assert len(record.service.jobs) == 4
            still = migrate.find(connection.root()[ROOT_NAME], built.label)
            assert [each.label for each in still] == [built.label]
    monkeypatch.setattr(migrate, 'copy_batch', real)
    assert _migrate(db, importable=False, batch_size=2) == [built.label]
    with own_connection(db) as (connection, _):
        service = _new_service(connection, built)
        assert sorted(service.jobs.keys()) == legacy_db.all_ids(built)
        assert service.checkIndex() == []
        assert records(connection)[built.label].copied == len(built.jobs)
        assert _queue_ids(service) == built.queue


def _queue_ids(service):
    """The ids of the ready queue in claim order (a lone worker's)."""
    entries = sorted(item for shard in service._queue.shards
                     for item in shard.items())
    return [jobid for _, jobid in entries
            if service.jobs[jobid].status == QUEUED]


def _set(obj, **values):
    """Change stored attributes bypassing the stand-ins' FieldProperty."""
    obj._p_activate()
    obj.__dict__.update(values)
    obj._p_changed = True


def _changed(tmp_path, kind, change):
    """A database built for ``kind``, changed by ``change(root, facts)``
    (in a transaction, the stand-ins importable), opened anew."""
    facts = legacy_db.build_in(str(tmp_path), kind)
    with legacy_db.legacy_importable():
        db = testing.create_database(str(tmp_path))
        with own_connection(db) as (connection, tm):
            change(connection.root()[ROOT_NAME], facts)
            tm.commit()
        db.close()
    return facts, testing.create_database(str(tmp_path))


def test_a_service_it_cannot_convert_is_named_with_its_problems(tmp_path):
    def change(root, facts):
        service = root['site1'].getSiteManager()['default'][facts.key]
        _set(service.jobs[facts.ids['queued'][0]], status='paused')
        _set(service.jobs[facts.ids['cron']], minute=(75,))
    facts, db = _changed(tmp_path, 'lovely', change)
    with legacy.legacy_interfaces():
        with own_connection(db) as (connection, tm):
            [found] = migrate.find(connection.root()[ROOT_NAME], '*@*')
            problems = migrate.survey(found).problems
    db.close()
    assert problems == [
        "site1@TestTaskService1 job %d: status 'paused' is not one of "
        "lovely.remotetask's ('queued', 'processing', 'cancelled', 'error', "
        "'completed', 'delayed', 'cronjob', 'start later')"
        % facts.ids['queued'][0],
        'site1@TestTaskService1 job %d: its schedule cannot be kept: '
        'minute: 75 is out of range 0-59' % facts.ids['cron']]


def test_a_service_without_the_legacy_layout_is_refused(tmp_path):
    def change(root, facts):
        root['tasks']._p_activate()
        del root['tasks'].__dict__['_queue']
        root['tasks']._p_changed = True
    facts, db = _changed(tmp_path, 'z3c', change)
    with legacy.legacy_interfaces():
        with own_connection(db) as (connection, tm):
            [found] = migrate.find(connection.root()[ROOT_NAME], '*@*')
            [problem] = migrate.survey(found).problems
    db.close()
    assert problem.startswith('@tasks: not the layout of a lovely.remotetask '
                              'or z3c.taskqueue service: it has no _queue')
    assert facts.label == '@tasks'


def test_the_interface_stand_ins_exist_only_while_the_migration_runs():
    z3c = 'z3c' in sys.modules or importlib.util.find_spec('z3c')
    with legacy.legacy_interfaces() as made:
        # 'z3c' is a real namespace package where z3c.* packages are
        # installed (Plone's): then only the rest is made.
        assert made == ('lovely', 'lovely.remotetask',
                        'lovely.remotetask.interfaces') + (
                            () if z3c else ('z3c',)) + (
                            'z3c.taskqueue', 'z3c.taskqueue.interfaces')
        from lovely.remotetask.interfaces import ITaskService as legacy_i
        assert legacy_i.__module__ == 'lovely.remotetask.interfaces'
        from z3c.taskqueue.interfaces import ITaskService as legacy_z
        assert legacy_z.__module__ == 'z3c.taskqueue.interfaces'
        with pytest.raises(ImportError):
            __import__('lovely.remotetask.service')
    assert 'lovely' not in sys.modules
    assert 'z3c.taskqueue' not in sys.modules


def test_naive_legacy_times_are_read_in_the_given_time_zone():
    import datetime
    moment = datetime.datetime(2026, 7, 1, 12, 0)
    zurich = legacy.time_zone('Europe/Zurich')
    assert legacy.epoch(moment, zurich, 'x') == 1782900000.0  # 10:00 UTC
    assert legacy.epoch(None, zurich, 'x') is None
    with pytest.raises(legacy.MigrationError, match='not a time zone'):
        legacy.time_zone('Mars/Olympus')
    with pytest.raises(legacy.MigrationError,
                       match="job 7 created: 'soon' is not a date"):
        legacy.epoch('soon', zurich, 'job 7 created')
