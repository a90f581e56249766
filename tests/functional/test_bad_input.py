"""Bad input to the job forms: each refused beside its field, the input
kept, nothing created, memory bounded; and pages that still render odd
data stored by older versions."""
import tracemalloc

import pytest

from .conftest import SERVICE

ADD_CRON = SERVICE + '/@@addCronJob.html'
ADD_JOB = SERVICE + '/@@addJob.html'


def _error(response, field):
    found = response.html.find(id='zt-error-%s' % field)
    return found.text if found is not None else None


def _submit(browser, url, status=400, **values):
    form = browser.get(url).forms[0]
    for name, value in values.items():
        form[name] = value
    return form.submit('save', status=status)


def _schedule(url):
    """A valid schedule for the cron job form, nothing for the job form."""
    return {'minute': '1'} if url == ADD_CRON else {}


def _job_count(demo):
    demo.sync()
    return len(demo.service.jobs)


@pytest.mark.parametrize('text', ['0-1000000000',
                                  '0-999999999999999999999/1'])
def test_huge_minute_range_is_refused_in_bounded_memory(manager, demo, text):
    form = manager.get(ADD_CRON).forms[0]
    form['task'], form['minute'], form['input'] = 'echo', text, '{"k": 1}'
    before = _job_count(demo)
    tracemalloc.start()
    try:
        response = form.submit('save', status=400)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50_000_000  # the old form parser expanded range() first
    assert _error(response, 'minute').startswith('minute: ')
    assert 'is out of range 0-59' in _error(response, 'minute')
    assert response.forms[0]['minute'].value == text
    assert response.forms[0]['input'].value == '{"k": 1}'
    assert _job_count(demo) == before


def test_reversed_range_is_refused_not_read_as_no_minute(manager, demo):
    before = _job_count(demo)
    response = _submit(manager, ADD_CRON, task='echo', minute='50-10',
                       hour='3')
    assert _error(response, 'minute') == "minute: range '50-10' is reversed"
    assert response.forms[0]['hour'].value == '3'
    assert _job_count(demo) == before


@pytest.mark.parametrize('field, text', [
    ('minute', '5/15'), ('hour', '1-2-3'), ('dayOfWeek', '*/0'),
    ('month', '0-1000000000')])
def test_fields_and_cron_strings_share_one_grammar(manager, demo, field,
                                                   text):
    before = _job_count(demo)
    in_field = _error(_submit(manager, ADD_CRON, task='echo',
                              **{field: text}), field)
    position = ['minute', 'hour', 'dayOfMonth', 'month', 'dayOfWeek'].index(
        field)
    cron = ['*'] * 5
    cron[position] = text
    in_cron = _error(_submit(manager, ADD_CRON, task='echo',
                             cron=' '.join(cron)), 'cron')
    assert in_field.split(': ', 1)[1] == in_cron.split(': ', 2)[2]
    assert _job_count(demo) == before


def test_day_and_month_names_are_read_in_fields(manager, demo):
    _submit(manager, ADD_CRON, status=302, task='echo', dayOfWeek='mon-fri',
            month='jan,jul')
    demo.sync()
    [job] = [j for j in demo.service.jobs.values() if j.month == (1, 7)]
    assert job.dayOfWeek == (0, 1, 2, 3, 4)


@pytest.mark.parametrize('delay, message', [
    ('1e300', 'delay: 1e+300 is more than the maximum, 3155760000 s '
              '(100 years)'),
    ('inf', 'delay: inf is more than the maximum, 3155760000 s (100 years)'),
    ('nan', 'delay: nan is not a number >= 0'),
    ('-1', 'delay: -1.0 is not a number >= 0'),
    ('soon', "'soon' is not a number of seconds"),
])
def test_bad_delay_is_refused_beside_the_field(manager, demo, delay,
                                               message):
    before = _job_count(demo)
    response = _submit(manager, ADD_CRON, task='echo', delay=delay)
    assert _error(response, 'delay') == message
    assert response.forms[0]['delay'].value == delay
    assert _job_count(demo) == before


def test_edit_refuses_a_huge_delay_and_keeps_the_job(manager, demo):
    jobid = demo.service.addCronJob('echo', delay=10)
    demo.commit()
    url = '%s/%d/@@editCronJob.html' % (SERVICE, jobid)
    response = _submit(manager, url, delay='1e300')
    assert 'more than the maximum' in _error(response, 'delay')
    demo.sync()
    assert demo.service.jobs[jobid].delay == 10.0


def test_no_schedule_is_refused_beside_minutes(manager, demo):
    before = _job_count(demo)
    response = _submit(manager, ADD_CRON, task='echo', input='[1]')
    assert _error(response, 'minute').startswith('no schedule given: ')
    assert '* in Minutes runs every minute' in _error(response, 'minute')
    assert response.forms[0]['input'].value == '[1]'
    assert _job_count(demo) == before


def test_star_in_minutes_runs_every_minute(manager, demo):
    _submit(manager, ADD_CRON, status=302, task='echo', minute='*',
            input='"tick"')
    demo.sync()
    [job] = [j for j in demo.service.jobs.values() if j.input == 'tick']
    assert job.minute == tuple(range(60))


@pytest.mark.parametrize('url', [ADD_CRON, ADD_JOB])
@pytest.mark.parametrize('text, shown', [
    ('{"x": NaN}', 'NaN is not allowed'),
    ('[Infinity]', 'Infinity is not allowed'),
    ('-Infinity', '-Infinity is not allowed'),
    ('{"x": 1e400}', "'1e400' is too large for a number"),
    ('[' * 100_000, 'not valid JSON: nested too deeply'),
])
def test_non_finite_json_input_is_refused_beside_the_field(manager, demo,
                                                           url, text, shown):
    before = _job_count(demo)
    response = _submit(manager, url, task='echo', input=text,
                       **_schedule(url))
    assert shown in _error(response, 'input')
    assert response.forms[0]['input'].value == text
    assert _job_count(demo) == before


@pytest.fixture
def small_inputs(demo):
    """The demo service with ``maxInputSize`` 100 bytes (see the
    service's size limit); the default again afterwards."""
    old = getattr(demo.service, 'maxInputSize', None)
    demo.service.maxInputSize = 100
    demo.commit()
    yield demo
    demo.sync()
    if old is None:
        del demo.service.maxInputSize
    else:
        demo.service.maxInputSize = old
    demo.commit()


@pytest.mark.parametrize('url', [ADD_CRON, ADD_JOB])
def test_too_large_input_is_refused_beside_the_field(manager, small_inputs,
                                                     url):
    demo = small_inputs
    text = '"%s"' % ('x' * 500)
    before = _job_count(demo)
    response = _submit(manager, url, task='echo', input=text,
                       **_schedule(url))
    message = _error(response, 'input')
    assert message is not None and 'bytes' in message and '100' in message
    assert response.forms[0]['input'].value == text
    assert _job_count(demo) == before


def test_edit_with_too_large_input_changes_nothing(manager, small_inputs):
    demo = small_inputs
    jobid = demo.service.addCronJob('echo', 'small', minute=(5,))
    demo.commit()
    url = '%s/%d/@@editCronJob.html' % (SERVICE, jobid)
    response = _submit(manager, url, input='"%s"' % ('x' * 500))
    message = _error(response, 'input')
    assert message is not None and 'bytes' in message and '100' in message
    demo.sync()
    assert demo.service.jobs[jobid].input == 'small'


def test_job_page_of_a_delay_stored_by_an_older_version(manager, demo):
    jobid = demo.service.addCronJob('echo', delay=10)
    demo.service.jobs[jobid].delay = 1e300  # no maximum before 0.1
    demo.commit()
    demo.service.process(now=0)  # schedules it for 1e300
    demo.sync()
    assert demo.service.jobs[jobid].scheduledFor == 1e300
    page = manager.get('%s/%d' % (SERVICE, jobid))
    assert page.html.find(id='zt-next-run').text == \
        '1e+300 (epoch seconds, out of range)'
    assert 'once, ' in page.html.find(id='zt-schedule').text
    overview = manager.get(SERVICE + '/@@overview.html')
    assert '1e+300' in overview.text
