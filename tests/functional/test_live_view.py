"""Live views: @@jobs.json, what the Jobs tab's script polls, and the
script itself (static/live.js, served as a resource)."""
from .conftest import SERVICE
from zodbtasks import clock
from zodbtasks.dispatch import Dispatch


def test_the_json_has_the_counts_the_pages_rows_and_progress(manager, demo):
    s = demo.service
    running, waiting = s.add('echo', 'a'), s.add('echo', 'b')
    demo.commit()
    assert Dispatch(s).claimJobs(clock.now(), 1, 'w:1:x') == [running]
    Dispatch(s).setProgress(running, 0.25, '<i>quarter</i>')
    demo.commit()
    data = manager.get(SERVICE + '/@@jobs.json', {'size': '1'}).json
    assert data['total'] == 2 and len(data['rows']) == 1
    assert data['counts']['processing'] == 1
    assert data['counts']['queued'] == 1
    data = manager.get(SERVICE + '/@@jobs.json',
                       {'status': 'processing'}).json
    row, = data['rows']
    assert row['id'] == running and row['progress'] == 0.25
    assert row['message'] == '<i>quarter</i>'   # JSON; the script sets text
    assert row['status'] == 'processing'
    first = data['change']
    Dispatch(s).setProgress(running, 0.5)
    demo.commit()
    again = manager.get(SERVICE + '/@@jobs.json',
                        {'status': 'processing'}).json
    assert again['change'] != first and again['rows'][0]['progress'] == 0.5
    assert waiting not in [r['id'] for r in again['rows']]


def test_the_jobs_tab_points_its_script_at_its_own_query(manager, demo):
    demo.service.add('echo', 'a')
    demo.commit()
    page = manager.get(SERVICE + '/@@jobs.html', {'status': 'queued',
                                                  'sort': 'task'})
    live = page.html.find(id='zt-live')
    assert live.has_attr('hidden')          # shown by the script only
    assert '@@jobs.json?' in live['data-url']
    assert 'status=queued' in live['data-url'] and 'sort=task' in \
        live['data-url']
    assert page.html.find(id='zt-live-count-queued').text == '1'
    script = page.html.find('script', src=lambda v: v and 'live.js' in v)
    assert script is not None
    served = manager.get(script['src'].replace('http://localhost', ''))
    assert 'zt-live' in served.text


def test_the_json_needs_login(anonymous, demo):
    anonymous.get(SERVICE + '/@@jobs.json', status=401)


def test_the_summary_has_counts_workers_and_the_marker_but_no_rows(
        manager, demo):
    s = demo.service
    jobid = s.add('echo', 'w')
    demo.commit()
    assert Dispatch(s).claimJobs(clock.now(), 1, 'sum-host:5:abc') == [jobid]
    demo.commit()
    data = manager.get(SERVICE + '/@@jobs.json', {'summary': '1'}).json
    assert 'rows' not in data and 'total' not in data
    worker, = [w for w in data['workers'] if w['id'] == 'sum-host:5:abc']
    assert worker['alive'] and worker['running'] == 1
    assert data['change'] and data['counts']['processing'] >= 1


def test_the_other_pages_say_what_they_redraw(manager, demo):
    for view, regions in (('overview.html', 'zt-counts'),
                          ('workers.html', 'zt-workers-live'),
                          ('tasks.html', 'zt-tasks-live'),
                          ('failures.html', 'zt-failures-live')):
        page = manager.get(SERVICE + '/@@' + view)
        live = page.html.find(id='zt-live')
        assert live['data-url'].endswith('/@@jobs.json?summary=1')
        assert regions in live['data-regions'].split()
        for region in live['data-regions'].split():
            assert page.html.find(id=region) is not None, (view, region)
        assert live['data-change']
        assert page.html.find(
            'script', src=lambda src: src and src.endswith(
                '++resource++zodbtasks-live.js')) is not None


def test_a_job_page_and_a_bulk_jobs_page_update_themselves(manager, demo):
    s = demo.service
    jobid = s.add('echo', 'live')
    demo.commit()
    page = manager.get(SERVICE + '/%d' % jobid)
    live = page.html.find(id='zt-live')
    assert live['data-url'].endswith(
        '/jobs/@@jobs.json?summary=1')           # the service's, not the job's
    for region in live['data-regions'].split():
        assert page.html.find(id=region) is not None, region
    script = page.html.find('script', src=lambda src: src and src.endswith(
        '++resource++zodbtasks-live.js'))
    assert '/jobs/++resource++' in script['src']
    manager.get(script['src'], status=200)
    from zodbtasks import bulk
    bulk_id = bulk.startBulk(s, 'cancel', {'text': 'nothing-matches-this'})
    demo.commit()
    page = manager.get(SERVICE + '/@@bulk.html', {'job': str(bulk_id)})
    live = page.html.find(id='zt-live')
    assert live['data-regions'] == 'zt-bulk-live'
    assert page.html.find(id='zt-bulk-live') is not None
