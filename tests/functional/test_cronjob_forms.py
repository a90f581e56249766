"""@@addCronJob.html and @@editCronJob.html with good and bad input."""
import re

from zodbtasks.job import CronJob

from .conftest import SERVICE

ADD = SERVICE + '/@@addCronJob.html'


def _fill(form, **values):
    for name, value in values.items():
        form[name] = value
    return form


def _new_cron_jobs(demo, before):
    demo.sync()
    return [j for i, j in demo.service.jobs.items()
            if i not in before and isinstance(j, CronJob)]


def test_task_drop_down_lists_available_tasks(manager, demo):
    options = manager.get(ADD).forms[0]['task'].options
    assert {'echo', 'fail', 'log', 'sleep'} <= {o[0] for o in options}


def test_add_with_fields(manager, demo):
    before = set(demo.service.jobs)
    form = _fill(manager.get(ADD).forms[0], task='echo',
                 input='{"to": ["a", "b"]}', minute='0,30', hour='*/6',
                 dayOfWeek='0-4')
    response = form.submit('save', status=302)
    [job] = _new_cron_jobs(demo, before)
    assert response.headers['Location'].endswith('/jobs/%d' % job.id)
    assert (job.task, job.input) == ('echo', {'to': ['a', 'b']})
    assert (job.minute, job.hour, job.dayOfWeek) == \
        ((0, 30), (0, 6, 12, 18), (0, 1, 2, 3, 4))


def test_add_with_cron_string_and_time_zone(manager, demo):
    before = set(demo.service.jobs)
    _fill(manager.get(ADD).forms[0], task='log', cron='15 2 * * sun',
          timezone='Europe/Berlin').submit('save', status=302)
    [job] = _new_cron_jobs(demo, before)
    assert (job.cron, job.timezone) == ('15 2 * * sun', 'Europe/Berlin')


def test_add_with_delay(manager, demo):
    before = set(demo.service.jobs)
    _fill(manager.get(ADD).forms[0], task='echo',
          delay='30').submit('save', status=302)
    [job] = _new_cron_jobs(demo, before)
    assert job.delay == 30.0 and job.status == 'delayed'


def _error(response, field):
    return response.html.find(id='zt-error-%s' % field).text


def test_bad_minute_is_shown_beside_the_field_and_input_kept(manager, demo):
    before = set(demo.service.jobs)
    form = _fill(manager.get(ADD).forms[0], task='echo', input='{"k": 1}',
                 minute='61', hour='2')
    response = form.submit('save', status=400)
    assert '61' in _error(response, 'minute')
    assert response.forms[0]['input'].value == '{"k": 1}'
    assert response.forms[0]['minute'].value == '61'
    assert response.forms[0]['hour'].value == '2'
    assert _new_cron_jobs(demo, before) == []


def test_month_ranges_are_1_to_12(manager, demo):
    form = _fill(manager.get(ADD).forms[0], task='echo', month='0')
    assert 'month' in _error(form.submit('save', status=400), 'month')


def test_day_of_month_31_is_accepted(manager, demo):
    _fill(manager.get(ADD).forms[0], task='echo',
          dayOfMonth='31').submit('save', status=302)


def test_never_matching_spec_is_refused(manager, demo):
    form = _fill(manager.get(ADD).forms[0], task='echo', month='2',
                 dayOfMonth='30')
    response = form.submit('save', status=400)
    assert 'never' in response.text.lower()


def test_unparsable_field(manager, demo):
    form = _fill(manager.get(ADD).forms[0], task='echo', hour='two')
    assert "'two'" in _error(form.submit('save', status=400), 'hour')


def test_bad_json_input(manager, demo):
    form = _fill(manager.get(ADD).forms[0], task='echo', input='{oops',
                 minute='1')
    assert 'not valid JSON' in _error(form.submit('save', status=400),
                                      'input')


def test_bad_cron_string(manager, demo):
    form = _fill(manager.get(ADD).forms[0], task='echo', cron='*/5 * *')
    assert 'expected 5 fields' in _error(form.submit('save', status=400),
                                         'cron')


def test_unknown_time_zone(manager, demo):
    form = _fill(manager.get(ADD).forms[0], task='echo', cron='* * * * *',
                 timezone='Mars/Base')
    assert 'Mars/Base' in _error(form.submit('save', status=400),
                                 'timezone')


def test_unknown_task_posted(manager, demo):
    form = manager.get(ADD).forms[0]
    token = form['_csrf_token'].value
    response = manager.post(ADD, {'task': 'nosuch', 'minute': '1',
                                  '_csrf_token': token, 'save': 'x'},
                            status=400)
    assert "'nosuch'" in _error(response, 'task')


def test_no_schedule_at_all(manager, demo):
    response = _fill(manager.get(ADD).forms[0], task='echo').submit(
        'save', status=400)
    assert 'no schedule given' in response.text


def test_add_needs_csrf_token(manager, demo):
    before = set(demo.service.jobs)
    manager.post(ADD, {'task': 'echo', 'minute': '1', 'save': 'x'},
                 status=403)
    assert _new_cron_jobs(demo, before) == []


def test_viewer_may_not_add(viewer, demo):
    viewer.get(ADD, status=403)


def _cron_job(demo, **schedule):
    jobid = demo.service.addCronJob('echo', {'n': 1}, **schedule)
    demo.commit()
    demo.service.process(now=0)
    return jobid


def test_edit_form_shows_current_values(manager, demo):
    jobid = _cron_job(demo, minute=(5, 10), hour=(2,))
    form = manager.get('%s/%d/@@editCronJob.html' % (SERVICE, jobid)).forms[0]
    assert form['minute'].value == '5,10' and form['hour'].value == '2'
    assert form['task'].value == 'echo'
    assert '"n": 1' in form['input'].value


def test_edit_saves_and_reschedules(manager, demo):
    jobid = _cron_job(demo, minute=(5,))
    form = manager.get('%s/%d/@@editCronJob.html' % (SERVICE, jobid)).forms[0]
    form['minute'] = ''
    form['cron'] = '0 3 * * *'
    form['input'] = '"changed"'
    response = form.submit('save', status=302)
    assert response.headers['Location'].endswith('/jobs/%d' % jobid)
    demo.sync()
    job = demo.service.jobs[jobid]
    assert (job.cron, job.minute, job.input) == ('0 3 * * *', (), 'changed')
    assert job.scheduledFor is None  # recomputed at the next processing


def test_edit_with_bad_input_changes_nothing(manager, demo):
    jobid = _cron_job(demo, minute=(5,))
    form = manager.get('%s/%d/@@editCronJob.html' % (SERVICE, jobid)).forms[0]
    form['minute'] = '99'
    response = form.submit('save', status=400)
    assert re.search('99', _error(response, 'minute'))
    demo.sync()
    assert demo.service.jobs[jobid].minute == (5,)


def test_add_job_queues_it(manager, demo):
    before = set(demo.service.jobs)
    form = manager.get(SERVICE + '/@@addJob.html').forms[0]
    form['task'] = 'echo'
    form['input'] = '[1, 2]'
    response = form.submit('save', status=302)
    demo.sync()
    [jobid] = set(demo.service.jobs) - before
    assert response.headers['Location'].endswith('/jobs/%d' % jobid)
    assert demo.service.getStatus(jobid) == 'queued'
    assert demo.service.jobs[jobid].input == [1, 2]


def test_add_job_to_start_later_then_start_it(manager, demo):
    before = set(demo.service.jobs)
    form = manager.get(SERVICE + '/@@addJob.html').forms[0]
    form['task'] = 'echo'
    form['startLater'] = True
    page = form.submit('save').follow()
    demo.sync()
    [jobid] = set(demo.service.jobs) - before
    assert demo.service.getStatus(jobid) == 'startlater'
    assert 'Job queued.' in page.forms[0].submit('start').text
    demo.sync()
    assert demo.service.getStatus(jobid) == 'queued'


def test_add_job_with_bad_json_keeps_the_input(manager, demo):
    form = manager.get(SERVICE + '/@@addJob.html').forms[0]
    form['task'] = 'echo'
    form['input'] = '[1,'
    response = form.submit('save', status=400)
    assert 'not valid JSON' in _error(response, 'input')
    assert response.forms[0]['input'].value == '[1,'
