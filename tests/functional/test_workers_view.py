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


def test_threads_of_a_process_are_one_row_with_what_they_finished(
        manager, demo):
    s = demo.service
    jobs = [s.add('echo', n) for n in range(3)]
    demo.commit()
    now = clock.now()
    dispatch = Dispatch(s)
    # (another test's worker may be alive: claims need not be in order)
    first = dispatch.claimJobs(now, 2, 'host-x:33:cccccc/0')
    second = dispatch.claimJobs(now, 1, 'host-x:33:cccccc/1')
    assert sorted(first + second) == sorted(jobs)
    demo.commit()
    dispatch.finishJob(first[0], now + 1, output=1)
    demo.commit()
    dispatch.foldJobs('host-x:33:cccccc/0', now + 2)   # writes its figures
    demo.commit()
    response = manager.get(WORKERS)
    rows = [row for row in response.html.find_all('tr', class_='zt-worker')
            if row.find('code').text.startswith('host-x')]
    assert len(rows) == 1
    row = rows[0]
    assert row.find('code').text == 'host-x:33:cccccc'
    assert row.find(class_='zt-threads').find(class_='zt-count').text == '2'
    assert [c.text for c in row.find('details').find_all('code')] == [
        'host-x:33:cccccc/0', 'host-x:33:cccccc/1']
    assert row.find(class_='zt-finished-hour').text == '1'
    assert [a.text for a in row.find('ul', class_='zt-running')
            .find_all('a')] == [str(first[1]), str(second[0])]
