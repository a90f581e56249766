"""The Tasks tab: per task, its waiting, running and failed jobs, what it
finished in the last hour with its failure rate and run times, its pause
state and limits, and pause/resume buttons (POST, CSRF, ManageJobs)."""
import pytest

from zodbtasks import clock

from .conftest import SERVICE
from .test_activities_views import _reset

TASKS = SERVICE + '/@@tasks.html'


@pytest.fixture
def service(demo):
    """The demo service without pauses or limits (as the activities
    tests leave it)."""
    yield _reset(demo)
    _reset(demo)


def _row(page, task):
    for row in page.html.find_all('tr', class_='zt-task-row'):
        if row['data-task'] == task:
            return {cell['class'][0]: cell.get_text(' ', strip=True)
                    for cell in row.find_all('td') if cell.get('class')}
    raise AssertionError('no row for %r' % task)


def test_counts_rates_and_run_times_per_task(manager, demo, service):
    before = _row(manager.get(TASKS), 'fail')
    now = clock.now()
    for n in range(3):
        service.add('echo', n, now=now)
    service.add('fail', 'x', now=now)
    demo.commit()
    service.process(now + 1)
    demo.commit()
    service.add('fail', 'waits', now=now)
    service.setTaskLimit('fail', maxRunning=2)
    demo.commit()
    page = manager.get(TASKS)
    echo, fail = _row(page, 'echo'), _row(page, 'fail')
    assert int(fail['zt-waiting']) == int(before['zt-waiting']) + 1
    assert int(fail['zt-failed']) == int(before['zt-failed']) + 1
    assert int(echo['zt-finished-hour']) >= 3
    assert fail['zt-failure-rate'] == '100.0 %'
    assert echo['zt-failure-rate'] == '0.0 %'
    assert echo['zt-p50'].endswith('s') and echo['zt-p95']
    assert fail['zt-max-running'] == '2' and fail['zt-per-minute'] == ''
    assert fail['zt-state'] == 'claimed'
    link = page.html.find('tr', attrs={'data-task': 'fail'}).find(
        'td', class_='zt-failed').find('a')['href']
    assert 'status=error' in link and 'task=fail' in link


def test_pause_and_resume_a_task_from_the_tab(manager, demo, service):
    page = manager.get(TASKS)
    form = [f for f in page.forms.values()
            if f.get('task', default=None) is not None
            and f['task'].value == 'echo'][0]
    page = form.submit('pauseTask', status=200)
    assert "Task 'echo' paused." in page.html.find(id='zt-message').text
    assert _row(page, 'echo')['zt-state'] == 'paused'
    demo.sync()
    assert 'echo' in service.pausedTasks()
    form = [f for f in page.forms.values()
            if f.get('task', default=None) is not None
            and f['task'].value == 'echo'][0]
    page = form.submit('resumeTask', status=200)
    assert _row(page, 'echo')['zt-state'] == 'claimed'


def test_pausing_needs_a_csrf_token_and_the_manage_permission(
        manager, viewer, demo, service):
    manager.post(TASKS, {'pauseTask': 'Pause', 'task': 'echo'}, status=403)
    page = viewer.get(TASKS)
    assert page.html.find('form', class_='zt-task-form') is None
    demo.sync()
    assert service.pausedTasks() == []


def test_tasks_needs_login(anonymous):
    anonymous.get(TASKS, status=401)
