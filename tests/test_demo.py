"""The demo package: its tasks, and the demo site made when the database
opens."""
import logging

import pytest
import transaction
import zope.component
import zope.configuration.xmlconfig
import zope.event
import zope.interface
from zope.component.interfaces import ISite
from zope.interface.verify import verifyObject
from zope.processlifetime import DatabaseOpenedWithRoot

import zodbtasks.demo
from zodbtasks import TaskService
from zodbtasks import testing
from zodbtasks.demo import install
from zodbtasks.interfaces import COMPLETED
from zodbtasks.interfaces import CRONJOB
from zodbtasks.interfaces import ERROR
from zodbtasks.interfaces import QUEUED
from zodbtasks.interfaces import STARTLATER
from zodbtasks.interfaces import ITask
from zodbtasks.interfaces import ITaskService
from zodbtasks.task import TaskError

TASKS = ('echo', 'fail', 'log', 'sleep')


@pytest.fixture
def demo_zcml():
    """The demo's configure.zcml loaded: its tasks and its subscriber."""
    zope.configuration.xmlconfig.file('configure.zcml', zodbtasks.demo)


@pytest.fixture
def quick_sleep(demo_zcml):
    """The ``sleep`` task with a sleep that records instead of sleeping."""
    slept = []
    testing.register_task('sleep', zodbtasks.demo.SleepTask(
        sleep=slept.append))
    return slept


def _demo(conn):
    transaction.begin()
    return conn.root()['Application']['demo']


def _service(conn):
    return _demo(conn).getSiteManager()['default']['jobs']


def _statuses(service):
    return sorted(job.status for job in service.jobs.values())


# -- the tasks ---------------------------------------------------------------

@pytest.mark.parametrize('task', [
    zodbtasks.demo.echo_task, zodbtasks.demo.fail_task,
    zodbtasks.demo.sleep_task, zodbtasks.demo.log_task])
def test_tasks_provide_itask(task):
    assert verifyObject(ITask, task)


def test_echo_returns_its_input():
    assert zodbtasks.demo.echo_task(None, 1, {'a': [1]}) == {'a': [1]}


def test_fail_raises_a_task_error():
    with pytest.raises(TaskError, match='demo failure: no mail server'):
        zodbtasks.demo.fail_task(None, 1, 'no mail server')


@pytest.mark.parametrize('input, seconds', [
    (None, 5.0), (3, 3.0), ('0.5', 0.5), (0, 0.0)])
def test_sleep_seconds(input, seconds):
    assert zodbtasks.demo.sleep_seconds(input) == seconds


@pytest.mark.parametrize('input', ['soon', -1, float('nan'), float('inf'),
                                   [1]])
def test_sleep_refuses_what_is_not_a_duration(input):
    with pytest.raises(TaskError, match='sleep needs a number of seconds'):
        zodbtasks.demo.sleep_seconds(input)


def test_sleep_sleeps_in_steps_and_reports_progress(db, service):
    seen = []

    def sleep(seconds):
        # What operators see meanwhile: a connection of their own.
        with testing.open_service(db, service._p_oid) as (_, _, fresh):
            seen.append((seconds, fresh.getProgress(jobid)))

    testing.register_task('sleep', zodbtasks.demo.SleepTask(sleep=sleep))
    jobid = service.add('sleep', 1)
    transaction.commit()
    assert service.process() == 1
    assert service.getResult(jobid) == 1.0
    assert [round(seconds, 6) for seconds, _ in seen] == [0.2] * 5
    assert seen[2][1] == (0.4, 'slept 0.4 of 1.0 s')
    assert service.getProgress(jobid) == (1.0, 'slept 1.0 of 1.0 s')


def test_log_appends_to_the_site_log_and_returns_its_length(db, site,
                                                            service):
    testing.register_task('log', zodbtasks.demo.log_task)
    first = service.add('log', 'one')
    second = service.add('log', 'two')
    transaction.commit()
    service.process()
    assert (service.getResult(first), service.getResult(second)) == (1, 2)
    with testing.open_service(db, site._p_oid) as (_, _, fresh_site):
        entries = getattr(fresh_site, zodbtasks.demo.LOG_ATTRIBUTE)
        assert [input for _, input in entries] == ['one', 'two']
        assert all(isinstance(when, float) for when, _ in entries)


@zope.interface.implementer(ITask)
class LogThenFail:
    """Logs, then fails: the job's transaction is aborted."""

    def __call__(self, service, jobid, input):
        zodbtasks.demo.log_task(service, jobid, input)
        raise TaskError('failed after logging')


def test_log_changes_commit_with_the_job_or_not_at_all(db, site, service,
                                                       quiet):
    testing.register_task('log', zodbtasks.demo.log_task)
    testing.register_task('log_then_fail', LogThenFail())
    failed = service.add('log_then_fail', 'lost')
    logged = service.add('log', 'kept')
    transaction.commit()
    service.process()
    assert service.getStatus(failed) == ERROR
    assert service.getStatus(logged) == COMPLETED
    assert service.getResult(logged) == 1
    entries = getattr(site, zodbtasks.demo.LOG_ATTRIBUTE)
    assert [input for _, input in entries] == ['kept']


def test_log_needs_a_site():
    with pytest.raises(TaskError, match='needs a task service in a site'):
        zodbtasks.demo.log_task(TaskService(), 1, 'x')


# -- configuration and the demo site --------------------------------------

def test_configure_zcml_registers_the_tasks(demo_zcml):
    tasks = dict(zope.component.getUtilitiesFor(ITask))
    assert sorted(tasks) == list(TASKS)
    assert tasks['log'] is zodbtasks.demo.log_task


def test_install_makes_the_demo_site_with_service_and_jobs(db, conn, root,
                                                          demo_zcml):
    assert install.install(db) is True
    demo = _demo(conn)
    assert ISite.providedBy(demo)
    manager = demo.getSiteManager()
    service = manager['default']['jobs']
    assert manager.getUtility(ITaskService, 'jobs') is service
    assert sorted(service.getAvailableTasks()) == list(TASKS)
    assert _statuses(service) == sorted(
        [CRONJOB, QUEUED, QUEUED, QUEUED, STARTLATER])
    [cron] = [job for job in service.jobs.values() if job.status == CRONJOB]
    assert (cron.task, cron.input, cron.cron) == ('log', 'cron tick',
                                                  '* * * * *')
    assert list(getattr(demo, zodbtasks.demo.LOG_ATTRIBUTE)) == []


def test_install_is_idempotent(db, conn, root, demo_zcml):
    install.install(db)
    ids = list(_service(conn).jobs)
    assert install.install(db) is False
    assert list(_service(conn).jobs) == ids


def test_install_leaves_an_existing_demo_alone(db, conn, root, demo_zcml):
    testing.add_site(root, 'demo')
    transaction.commit()
    assert install.install(db) is False
    assert list(_demo(conn).getSiteManager()['default']) == []


def test_install_needs_the_root_folder(db, caplog):
    assert install.install(db) is False
    assert "no root folder 'Application' in the database; the demo site " \
        "was not made" in caplog.text


def test_database_opened_event_makes_the_demo_site(db, conn, root,
                                                   demo_zcml, caplog):
    caplog.set_level(logging.INFO, logger='zodbtasks')
    zope.event.notify(DatabaseOpenedWithRoot(db))
    assert 'jobs' in _demo(conn).getSiteManager()['default']
    assert "made the demo site 'demo' with the task service 'jobs'" \
        in caplog.text


def test_demo_jobs_show_every_outcome(db, conn, root, quick_sleep, quiet):
    install.install(db)
    service = _service(conn)
    transaction.commit()
    service.process(now=1000.0)
    assert quick_sleep and sum(quick_sleep) == pytest.approx(3.0)
    assert _statuses(service) == sorted(
        [COMPLETED, COMPLETED, CRONJOB, ERROR, STARTLATER])
    assert service.process(now=1060.0) == 1  # the cron job logs
    assert len(getattr(_demo(conn), zodbtasks.demo.LOG_ATTRIBUTE)) == 1
