"""The Workers tab: every worker that claimed jobs, alive or lost, its
heartbeat and the jobs it runs (with their progress); lost workers'
jobs."""
from .conftest import SERVICE
from zodbtasks import clock
from zodbtasks.dispatch import Dispatch

WORKERS = SERVICE + '/@@workers.html'


def test_no_worker_yet(manager, demo):
    response = manager.get(WORKERS)
    assert 'id="zt-no-workers"' in response.text
    assert '@@workers.html' in response.text     # a tab


def test_a_live_and_a_lost_worker_with_their_running_jobs(manager, demo):
    s = demo.service
    first, second = s.add('echo', 'a'), s.add('echo', 'b')
    demo.commit()
    now = clock.now()
    dispatch = Dispatch(s)
    assert dispatch.claimJobs(now - 3600, 1, 'lost-host:11:aaaaaa') \
        == [first]
    assert dispatch.claimJobs(now, 1, 'live-host:22:bbbbbb') == [second]
    dispatch.setProgress(second, 0.4, '<b>half</b>')
    demo.commit()
    response = manager.get(WORKERS)
    rows = response.html.find_all('tr', class_='zt-worker')
    assert [row.find('code').text for row in rows] \
        == ['live-host:22:bbbbbb', 'lost-host:11:aaaaaa']
    live, lost = rows
    assert 'zt-alive' in live['class'] and 'zt-lost' in lost['class']
    assert live.find_all('td')[1].text == 'live-host'
    assert live.find_all('td')[2].text == '22'
    assert live.find('progress')['value'] == '40'
    assert '&lt;b&gt;half&lt;/b&gt;' in str(live)      # escaped
    assert live.find('a')['href'].endswith('/jobs/%d' % second)
    stuck = response.html.find(id='zt-stuck')
    assert [a.text for a in stuck.find_all('a')] == [str(first)]


def test_workers_needs_login(anonymous, demo):
    anonymous.get(WORKERS, status=401)
