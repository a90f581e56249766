"""The activities in the ZMI: priority and tags in the Jobs tab and its
tag filter, the activity part of a job's page, the options of the add
forms, and the pause, resume and limit controls of the Overview."""
import datetime
import re

import pytest

from zodbtasks.browser import csrf
from zodbtasks.browser import format
from zodbtasks.job import CronJob

from .conftest import SERVICE

JOBS = SERVICE + '/@@jobs.html'
ADD = SERVICE + '/@@addJob.html'
ADD_CRON = SERVICE + '/@@addCronJob.html'
OVERVIEW = SERVICE + '/@@overview.html'
SCRIPT = '<script>alert(1)</script>'
UTC = datetime.timezone.utc


@pytest.fixture
def service(demo):
    """The demo service without jobs, pauses or limits (they are kept in
    the database between the tests of the module)."""
    yield _reset(demo)
    _reset(demo)


def _reset(demo):
    demo.sync()
    s = demo.service
    s.resume()
    for task in s.pausedTasks():
        s.resume(task)
    for task in s.getTaskLimits():
        s.setTaskLimit(task)
    demo.commit()
    return s


def _ids(response):
    return [int(i) for i in re.findall(r'id="zt-job-(\d+)"', response.text)]


def _text(response, element_id):
    return ' '.join(response.html.find(id=element_id).text.split())


def _error(response, field):
    found = response.html.find(id='zt-error-%s' % field)
    return found.text if found is not None else None


def _job_count(demo):
    demo.sync()
    return len(demo.service.jobs)


# -- the Jobs tab ----------------------------------------------------------

def test_listing_shows_priority_and_tags(manager, demo, service):
    jobid = service.add('echo', priority=5, tag=('beta', 'alpha'))
    demo.commit()
    row = manager.get(JOBS).html.find(id='zt-job-%d' % jobid)
    assert row.find(class_='zt-priority').text == '5'
    assert row.find(class_='zt-tags').text == 'alpha, beta'
    headers = [th.text.strip() for th in manager.get(JOBS).html.find(
        id='zt-job-table').find_all('th')]
    assert 'Priority' in headers and 'Tags' in headers


def test_a_script_tag_is_escaped_in_the_listing_and_the_job_page(
        manager, demo, service):
    jobid = service.add('echo', tag=(SCRIPT, 'plain'), serializationTag=SCRIPT,
                        uniqueKey=SCRIPT)
    demo.commit()
    for page in (manager.get(JOBS), manager.get(JOBS, {'tag': SCRIPT}),
                 manager.get('%s/%d' % (SERVICE, jobid))):
        assert SCRIPT not in page.text
        assert '&lt;script&gt;alert(1)&lt;/script&gt;' in page.text
    listing = manager.get(JOBS)
    assert listing.html.find(id='zt-job-%d' % jobid).find(
        class_='zt-tags').text == '%s, plain' % SCRIPT
    page = manager.get('%s/%d' % (SERVICE, jobid))
    assert _text(page, 'zt-serialization-tag') == SCRIPT
    assert page.html.find(id='zt-unique-key').text == SCRIPT


def test_filter_by_tag(manager, demo, service):
    first = service.add('echo', tag='nightly')
    service.add('echo', tag='hourly')
    third = service.add('log', tag=('nightly', 'hourly'))
    demo.commit()
    response = manager.get(JOBS, {'tag': 'nightly'})
    assert _ids(response) == [third, first]
    assert response.html.find(id='zt-total').text == '2'
    assert response.forms['zt-filter']['tag'].value == 'nightly'
    known = [o['value'] for o in response.html.find(
        id='zt-known-tags').find_all('option')]
    assert {'nightly', 'hourly'} <= set(known)


def test_the_tag_filter_form_combines_with_the_task_filter(manager, demo,
                                                         service):
    service.add('echo', tag='nightly')
    third = service.add('log', tag='nightly')
    service.add('log', tag='hourly')
    service.add('log')
    demo.commit()
    form = manager.get(JOBS).forms['zt-filter']
    form['tag'], form['task'] = 'nightly', 'log'
    assert _ids(form.submit()) == [third]


def test_batch_links_keep_the_tag(manager, demo, service):
    for _ in range(3):
        service.add('echo', tag='many')
    service.add('echo')
    demo.commit()
    response = manager.get(JOBS, {'tag': 'many', 'size': '2'})
    link = response.html.find(id='zt-next')['href']
    assert 'tag=many' in link
    assert len(_ids(manager.get(link))) == 1


def test_an_unknown_tag_lists_no_job(manager, demo, service):
    service.add('echo', tag='known')
    demo.commit()
    response = manager.get(JOBS, {'tag': 'unknown'})
    assert _ids(response) == [] and 'No jobs.' in response.text


def test_blocked_is_in_the_status_filter(manager, demo, service):
    first = service.add('echo', startLater=True)
    blocked = service.add('echo', after=[first])
    demo.commit()
    options = manager.get(JOBS).forms['zt-filter']['status'].options
    assert 'blocked' in [value for value, _, _ in options]
    response = manager.get(JOBS, {'status': 'blocked'})
    assert _ids(response) == [blocked]
    row = response.html.find(id='zt-job-%d' % blocked)
    assert row.find(class_='zt-blocked').text == 'blocked'


# -- the job page ----------------------------------------------------------

def test_a_plain_job_shows_its_defaults(manager, demo, service):
    jobid = service.add('echo', startLater=True)
    demo.commit()
    page = manager.get('%s/%d' % (SERVICE, jobid))
    assert [_text(page, 'zt-' + name) for name in (
        'priority', 'tags', 'deadline', 'unique-key', 'serialization-tag',
        'on-dependency-failure', 'waits-for', 'dependents')] == [
        '0', 'none', 'none', 'none', 'none', 'wait', 'nothing',
        'no blocked job']
    assert _text(page, 'zt-wait-reason') == \
        'not started: it waits for startJob()'


def test_a_job_shows_its_options(manager, demo, service, monkeypatch):
    monkeypatch.setattr(format, 'ZONE', UTC)
    jobid = service.add(
        'echo', priority=-3, tag=('b', 'a'), uniqueKey='order-7',
        serializationTag='orders', onDependencyFailure='cancel',
        beginBy=datetime.datetime(2099, 1, 2, 3, 4, 5, tzinfo=UTC),
        startLater=True)
    demo.commit()
    page = manager.get('%s/%d' % (SERVICE, jobid))
    assert _text(page, 'zt-priority') == '-3'
    assert _text(page, 'zt-tags') == 'a, b'
    assert _text(page, 'zt-deadline') == '2099-01-02 03:04:05 UTC'
    assert _text(page, 'zt-unique-key') == 'order-7'
    assert _text(page, 'zt-serialization-tag') == 'orders'
    assert _text(page, 'zt-on-dependency-failure') == 'cancel'


def test_waits_for_and_waited_for_by(manager, demo, service):
    first = service.add('echo', startLater=True)
    gone = service.add('echo', startLater=True)
    blocked = service.add('echo', after=[first, gone], afterTag='nightly',
                          afterTask=('log', 'fail'))
    demo.commit()
    service.delete(gone)
    demo.commit()
    page = manager.get('%s/%d' % (SERVICE, blocked))
    assert _text(page, 'zt-wait-reason') == \
        'waits for job %d (startlater) and 1 more' % first
    item = page.html.find(id='zt-after-%d' % first)
    assert item.find('a')['href'].endswith('/jobs/%d' % first)
    assert 'startlater' in item.text and 'watched' in item.text
    item = page.html.find(id='zt-after-%d' % gone)
    assert item.find('a') is None and 'deleted' in item.text
    assert _text(page, 'zt-after-tag') == 'jobs tagged nightly'
    assert _text(page, 'zt-after-task') == 'jobs of the tasks fail, log'

    page = manager.get('%s/%d' % (SERVICE, first))
    link = page.html.find(id='zt-dependent-%d' % blocked)
    assert link['href'].endswith('/jobs/%d' % blocked)
    assert _text(page, 'zt-dependents') == 'job %d' % blocked


def test_a_finished_job_does_not_wait(manager, demo, service):
    jobid = service.add('echo')
    demo.commit()
    service.process()
    page = manager.get('%s/%d' % (SERVICE, jobid))
    assert _text(page, 'zt-wait-reason') == 'none: it does not wait'


def test_a_job_of_a_paused_task_says_so(manager, demo, service):
    jobid = service.add('log')
    service.pause('log')
    demo.commit()
    page = manager.get('%s/%d' % (SERVICE, jobid))
    assert _text(page, 'zt-wait-reason') == "task 'log' is paused"


# -- the Add job form ------------------------------------------------------

def _fill(browser, url, **values):
    form = browser.get(url).forms[0]
    for name, value in values.items():
        form[name] = value
    return form


def _new_jobs(demo, before):
    demo.sync()
    return [job for jobid, job in demo.service.jobs.items()
            if jobid not in before]


def test_the_add_form_shows_the_defaults(manager, service):
    form = manager.get(ADD).forms[0]
    assert form['priority'].value == '0'
    assert form['onDependencyFailure'].value == 'wait'
    assert [value for value, _, _ in form['onDependencyFailure'].options] \
        == ['wait', 'run', 'cancel']
    for name in ('at', 'after', 'tag', 'afterTag', 'afterTask',
                 'serializationTag', 'uniqueKey', 'groupKey'):
        assert form[name].value == ''


def test_add_a_job_with_options(manager, demo, service):
    first = service.add('echo', startLater=True)
    other = service.add('echo', startLater=True)
    demo.commit()
    before = set(service.jobs)
    response = _fill(
        manager, ADD, task='echo', input='{"n": 1}', priority='-2',
        after='%d, %d %d' % (first, other, first), tag='a, b ,, a',
        afterTag='nightly', afterTask='log,fail',
        onDependencyFailure='run', serializationTag='orders',
        uniqueKey='order-9', groupKey='catalog').submit('save', status=302)
    [job] = _new_jobs(demo, before)
    assert response.headers['Location'].endswith('/jobs/%d' % job.id)
    assert (job.priority, job.after, job.tags, job.afterTag,
            job.afterTask) == (-2, (first, other), ('a', 'b'),
                               ('nightly',), ('fail', 'log'))
    assert (job.onDependencyFailure, job.serializationTag, job.uniqueKey,
            job.groupKey, job.status) == ('run', 'orders', 'order-9',
                                          'catalog', 'blocked')
    page = manager.get(response.headers['Location'])
    assert page.html.find(id='zt-group-key').text == 'catalog'


def test_add_a_job_at_a_time_with_a_time_zone(manager, demo, service):
    before = set(service.jobs)
    _fill(manager, ADD, task='echo',
          at='2099-12-01T12:00:00+01:00').submit('save', status=302)
    [job] = _new_jobs(demo, before)
    assert job.status == 'delayed'
    assert job.scheduledFor == datetime.datetime(
        2099, 12, 1, 11, tzinfo=UTC).timestamp()


def test_a_start_time_in_utc_with_z(manager, demo, service):
    before = set(service.jobs)
    _fill(manager, ADD, task='echo', at='2099-12-01T12:00Z').submit(
        'save', status=302)
    [job] = _new_jobs(demo, before)
    assert job.scheduledFor == datetime.datetime(
        2099, 12, 1, 12, tzinfo=UTC).timestamp()


def test_a_naive_start_time_is_refused_beside_the_field(manager, demo,
                                                        service):
    before = _job_count(demo)
    response = _fill(manager, ADD, task='echo', input='{"kept": 1}',
                     at='2026-12-01T12:00:00').submit('save', status=400)
    assert _error(response, 'at') == (
        "at: '2026-12-01T12:00:00' has no time zone; add one, e.g. "
        "2026-12-01T12:00:00+01:00 or Z for UTC")
    assert response.forms[0]['at'].value == '2026-12-01T12:00:00'
    assert response.forms[0]['input'].value == '{"kept": 1}'
    assert _job_count(demo) == before


@pytest.mark.parametrize('field, value, message', [
    ('priority', 'high', "priority: 'high' is not a whole number"),
    ('priority', '1.5', "priority: '1.5' is not a whole number"),
    ('at', 'tomorrow', "at: 'tomorrow' is not a date and time in ISO 8601"),
    ('at', '1960-01-01T00:00:00+00:00', 'is not a time between 1970'),
    ('after', '12, twelve', "after: 'twelve' is not a job id"),
    ('after', '-4', "after: '-4' is not a job id"),
    ('after', '999999999', 'after: there is no job 999999999'),
    ('tag', 'x' * 201, 'tag: expected a non-empty string of at most 200'),
    ('afterTag', 'y' * 201, 'afterTag: expected a non-empty string'),
    ('afterTask', 'z' * 201, 'afterTask: expected a non-empty string'),
    ('serializationTag', 's' * 201, 'serializationTag: expected a non-empty'),
    ('uniqueKey', 'k' * 1001, 'uniqueKey: expected a non-empty string'),
])
def test_a_bad_value_is_refused_beside_its_field(manager, demo, service,
                                                 field, value, message):
    before = _job_count(demo)
    response = _fill(manager, ADD, task='echo', **{field: value}).submit(
        'save', status=400)
    assert message in _error(response, field)
    assert response.forms[0][field].value == value
    assert 'Please correct the marked fields.' in response.text
    assert _job_count(demo) == before


def test_every_bad_field_is_shown_at_once(manager, demo, service):
    before = _job_count(demo)
    response = _fill(manager, ADD, task='echo', input='{oops',
                     priority='x', at='2026-12-01 12:00',
                     after='a').submit('save', status=400)
    assert {name for name in ('input', 'priority', 'at', 'after')
            if _error(response, name)} == {'input', 'priority', 'at',
                                           'after'}
    assert _job_count(demo) == before


def test_an_unknown_dependency_policy_posted_is_refused(manager, demo,
                                                        service):
    token = manager.get(ADD).forms[0][csrf.FIELD].value
    before = _job_count(demo)
    response = manager.post(ADD, {
        'task': 'echo', 'onDependencyFailure': 'explode', 'save': 'x',
        csrf.FIELD: token}, status=400)
    assert "onDependencyFailure: expected one of 'wait', 'run', 'cancel'" \
        in _error(response, 'onDependencyFailure')
    assert _job_count(demo) == before


def test_a_refused_value_is_escaped(manager, demo, service):
    response = _fill(manager, ADD, task='echo', priority=SCRIPT).submit(
        'save', status=400)
    assert SCRIPT not in response.text
    assert SCRIPT in _error(response, 'priority')


def test_a_unique_key_of_a_waiting_job_adds_nothing(manager, demo, service):
    jobid = service.add('echo', uniqueKey='once', startLater=True)
    demo.commit()
    before = _job_count(demo)
    response = _fill(manager, ADD, task='echo', uniqueKey='once').submit(
        'save', status=302)
    assert response.headers['Location'].endswith(
        '/jobs/%d?unique=1' % jobid)
    page = response.follow()
    assert 'already waiting' in _text(page, 'zt-notice')
    assert _job_count(demo) == before
    assert manager.get('%s/%d' % (SERVICE, jobid)).html.find(
        id='zt-notice') is None


def test_the_add_form_needs_a_csrf_token(manager, demo, service):
    before = _job_count(demo)
    manager.post(ADD, {'task': 'echo', 'priority': '3', 'save': 'x'},
                 status=403)
    assert _job_count(demo) == before


# -- the Add cron job form -------------------------------------------------

def test_add_a_cron_job_with_priority_tags_and_serialization(manager, demo,
                                                             service):
    before = set(service.jobs)
    form = _fill(manager, ADD_CRON, task='echo', minute='5', priority='4',
                 tag='reports, nightly', serializationTag='reports')
    assert 'after' not in form.fields and 'uniqueKey' not in form.fields
    form.submit('save', status=302)
    [job] = _new_jobs(demo, before)
    assert isinstance(job, CronJob)
    assert (job.priority, job.tags, job.serializationTag) == (
        4, ('nightly', 'reports'), 'reports')


def test_a_bad_cron_job_priority_is_refused(manager, demo, service):
    before = _job_count(demo)
    response = _fill(manager, ADD_CRON, task='echo', minute='5',
                     priority='soon', hour='25').submit('save', status=400)
    assert "'soon'" in _error(response, 'priority')
    assert '25' in _error(response, 'hour')
    assert _job_count(demo) == before


def test_the_edit_form_has_no_options(manager, demo, service):
    jobid = service.addCronJob('echo', minute=(5,), priority=2)
    demo.commit()
    form = manager.get('%s/%d/@@editCronJob.html' % (SERVICE, jobid)).forms[0]
    assert 'priority' not in form.fields and 'tag' not in form.fields


# -- the Overview: pausing -------------------------------------------------

def _task_form(response, task):
    [form] = [form for key, form in response.forms.items()
              if isinstance(key, int) and 'task' in form.fields
              and form['task'].value == task]
    return form


def _paused(demo):
    demo.sync()
    return demo.service.isPaused(), demo.service.pausedTasks()


def test_overview_shows_the_paused_state(manager, demo, service):
    page = manager.get(OVERVIEW)
    assert _text(page, 'zt-paused') == 'The service is not paused.'
    assert page.html.find(id='zt-pause-service') is not None
    service.pause()
    service.pause('log')
    demo.commit()
    page = manager.get(OVERVIEW)
    assert _text(page, 'zt-paused').startswith('The service is paused')
    assert _text(page, 'zt-paused-tasks') == 'log'
    assert 'paused' in _text(page, 'zt-task-log')
    assert 'claimed' in _text(page, 'zt-task-echo')
    assert page.html.find(id='zt-resume-service') is not None


def test_pause_and_resume_the_service(manager, demo, service):
    page = manager.get(OVERVIEW).forms['zt-pause-form'].submit(
        'pauseService', status=200)
    assert 'The service is paused' in _text(page, 'zt-message')
    assert _paused(demo) == (True, [])
    page = page.forms['zt-pause-form'].submit('resumeService', status=200)
    assert 'resumed' in _text(page, 'zt-message')
    assert _paused(demo) == (False, [])


def test_pause_and_resume_a_task(manager, demo, service):
    page = _task_form(manager.get(OVERVIEW), 'fail').submit(
        'pauseTask', status=200)
    assert _text(page, 'zt-message') == "Task 'fail' paused."
    assert _paused(demo) == (False, ['fail'])
    page = _task_form(page, 'fail').submit('resumeTask', status=200)
    assert _text(page, 'zt-message') == "Task 'fail' resumed."
    assert _paused(demo) == (False, [])


def test_a_pause_without_a_csrf_token_is_refused(manager, demo, service):
    response = manager.post(OVERVIEW, {'pauseService': 'Pause'}, status=403)
    assert 'CSRF check failed' in _text(response, 'zt-problem')
    manager.post(OVERVIEW, {'pauseTask': 'Pause', 'task': 'echo'},
                 status=403)
    manager.post(OVERVIEW, {'setLimit': 'Set', 'limitTask': 'echo',
                            'maxRunning': '1'}, status=403)
    assert _paused(demo) == (False, [])
    assert demo.service.getTaskLimits() == {}


def test_a_get_changes_nothing(manager, demo, service):
    token = manager.get(OVERVIEW).forms['zt-pause-form'][csrf.FIELD].value
    for params in ({'pauseService': 'x'}, {'pauseTask': 'x', 'task': 'echo'},
                   {'setLimit': 'x', 'limitTask': 'echo',
                    'maxRunning': '1'}):
        response = manager.get(OVERVIEW, dict(params, **{csrf.FIELD: token}),
                               status=200)
        assert response.html.find(id='zt-message') is None
    assert _paused(demo) == (False, [])
    assert demo.service.getTaskLimits() == {}


def test_a_cross_origin_pause_is_refused(manager, demo, service):
    token = manager.get(OVERVIEW).forms['zt-pause-form'][csrf.FIELD].value
    manager.post(OVERVIEW, {'pauseService': 'x', csrf.FIELD: token},
                 headers={'Origin': 'http://evil.example'}, status=403)
    assert _paused(demo) == (False, [])


def test_a_viewer_sees_no_controls_and_may_not_pause(viewer, demo, service):
    page = viewer.get(OVERVIEW)
    assert page.html.find(id='zt-pause-form') is None
    assert page.html.find(id='zt-limit-form') is None
    assert page.html.find(class_='zt-task-form') is None
    token = viewer.get(JOBS).forms['zt-jobs-form'][csrf.FIELD].value
    response = viewer.post(OVERVIEW, {'pauseService': 'x',
                                      csrf.FIELD: token}, status=403)
    assert 'may view jobs but not manage them' in response.text
    assert _paused(demo) == (False, [])


def test_pausing_an_unknown_task_is_refused(manager, demo, service):
    token = manager.get(OVERVIEW).forms['zt-pause-form'][csrf.FIELD].value
    response = manager.post(OVERVIEW, {'pauseTask': 'x', 'task': SCRIPT,
                                       csrf.FIELD: token}, status=400)
    assert 'no task named' in _text(response, 'zt-problem')
    assert SCRIPT not in response.text
    assert _paused(demo) == (False, [])


# -- the Overview: limits and priorities -----------------------------------

def _limit_form(browser, **values):
    form = browser.get(OVERVIEW).forms['zt-limit-form']
    for name, value in values.items():
        form[name] = value
    return form


def test_set_and_remove_task_limits(manager, demo, service):
    page = manager.get(OVERVIEW)
    assert page.html.find(id='zt-no-limits') is not None
    page = _limit_form(manager, limitTask='log', maxRunning='2',
                       perMinute='').submit('setLimit', status=200)
    assert _text(page, 'zt-message') == "Limits of task 'log' set."
    demo.sync()
    limit = demo.service.getTaskLimits()['log']
    assert (limit['maxRunning'], limit['perMinute']) == (2, None)
    row = page.html.find(id='zt-limit-log')
    assert row.find(class_='zt-max-running').text == '2'
    assert row.find(class_='zt-per-minute').text == 'no limit'
    assert '(limited)' in _text(page, 'zt-task-log')

    page = _limit_form(manager, limitTask='log', maxRunning='0',
                       perMinute='30').submit('setLimit', status=200)
    demo.sync()
    limit = demo.service.getTaskLimits()['log']
    assert (limit['maxRunning'], limit['perMinute']) == (0, 30)

    page = _limit_form(manager, limitTask='log', maxRunning='',
                       perMinute='').submit('setLimit', status=200)
    assert _text(page, 'zt-message') == "Task 'log' has no limits now."
    demo.sync()
    assert demo.service.getTaskLimits() == {}


def test_the_limits_table_shows_what_runs(manager, demo, service):
    service.setTaskLimit('echo', maxRunning=0)
    service.add('echo')
    demo.commit()
    service.process()
    row = manager.get(OVERVIEW).html.find(id='zt-limit-echo')
    cells = [td.text for td in row.find_all('td')]
    assert cells == ['echo', '0', 'no limit', '0', '0', '1']


@pytest.mark.parametrize('values, errors', [
    ({'maxRunning': '-1', 'perMinute': 'many'},
     {'maxRunning': 'maxRunning: -1 is below 0',
      'perMinute': "perMinute: 'many' is not a whole number"}),
    ({'maxRunning': '2.5', 'perMinute': '3'},
     {'maxRunning': "maxRunning: '2.5' is not a whole number"}),
])
def test_bad_limits_are_refused_beside_their_fields(manager, demo, service,
                                                    values, errors):
    page = _limit_form(manager, limitTask='echo', **values).submit(
        'setLimit', status=400)
    for field in ('maxRunning', 'perMinute'):
        message = _error(page, field)
        assert (message or '').startswith(errors.get(field, '')) and \
            bool(message) == (field in errors)
    form = page.forms['zt-limit-form']
    assert (form['limitTask'].value, form['maxRunning'].value,
            form['perMinute'].value) == ('echo', values['maxRunning'],
                                         values['perMinute'])
    demo.sync()
    assert demo.service.getTaskLimits() == {}


def test_a_limit_of_an_unknown_task_is_refused(manager, demo, service):
    token = manager.get(OVERVIEW).forms['zt-pause-form'][csrf.FIELD].value
    page = manager.post(OVERVIEW, {'setLimit': 'x', 'limitTask': 'nosuch',
                                   'maxRunning': '1', csrf.FIELD: token},
                        status=400)
    assert "no task named 'nosuch'" in _error(page, 'limitTask')
    page = manager.post(OVERVIEW, {'setLimit': 'x', 'maxRunning': '1',
                                   csrf.FIELD: token}, status=400)
    assert _error(page, 'limitTask') == 'choose the task to limit'
    demo.sync()
    assert demo.service.getTaskLimits() == {}


def test_counts_per_priority(manager, demo, service):
    page = manager.get(OVERVIEW)
    assert page.html.find(id='zt-no-priorities') is not None
    for priority in (0, 0, 5, -3):
        service.add('echo', priority=priority, startLater=True)
    done = service.add('echo', priority=9)
    failed = service.add('fail', priority=5)
    demo.commit()
    service.process()
    assert service.jobs[done].status == 'completed'
    assert service.jobs[failed].status == 'error'   # not waiting
    table = manager.get(OVERVIEW).html.find(id='zt-priorities')
    rows = [[td.text for td in tr.find_all('td')]
            for tr in table.find_all('tr') if tr.get('id')]
    assert rows == [['-3', '1'], ['0', '2'], ['5', '1']]
    assert table.find(id='zt-priority--3') is not None
