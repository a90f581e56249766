"""The page of one job, traversed as <service>/<jobid>, and its actions."""
import datetime

from zodbtasks import runner
from zodbtasks.browser import format
from zodbtasks.dispatch import Dispatch
from zodbtasks.workers import worker_id

from .conftest import SERVICE


def _page(browser, jobid, **kw):
    return browser.get('%s/%d' % (SERVICE, jobid), **kw)


def test_completed_job_shows_input_result_and_timings(manager, demo):
    jobid = demo.service.add('echo', {'to': 'you'})
    demo.commit()
    demo.service.process()
    page = _page(manager, jobid)
    assert page.html.find(id='zt-job-status').text == 'completed'
    assert '"to": "you"' in page.html.find(id='zt-input').text
    assert '"to": "you"' in page.html.find(id='zt-output').text
    info = page.html.find(id='zt-job-info').text
    assert 'Attempts' in info and 'Duration' in info


def test_failed_job_shows_error_and_traceback(manager, demo):
    jobid = demo.service.add('fail', 'the printer')
    demo.commit()
    demo.service.process()
    page = _page(manager, jobid)
    assert 'the printer' in page.html.find(id='zt-error').text
    assert 'Traceback' in page.html.find(id='zt-traceback').text


def test_error_and_traceback_are_escaped(manager, demo):
    jobid = demo.service.add('fail', '<script>alert(1)</script>')
    demo.commit()
    demo.service.process()
    page = _page(manager, jobid)
    assert '<script>alert(1)' not in page.text
    assert page.text.count('&lt;script&gt;alert(1)&lt;/script&gt;') >= 3


def test_unknown_job_is_not_found(manager, demo):
    manager.get(SERVICE + '/12345', status=404)


def test_cron_job_shows_schedule_and_next_run(manager, demo, monkeypatch):
    monkeypatch.setattr(format, 'ZONE', datetime.timezone.utc)
    jobid = demo.service.addCronJob('echo', cron='*/5 * * * *',
                                    timezone='Europe/Berlin')
    demo.commit()
    demo.service.process(now=0)
    page = _page(manager, jobid)
    schedule = page.html.find(id='zt-schedule').text
    assert '*/5 * * * *' in schedule and 'Europe/Berlin' in schedule
    assert page.html.find(id='zt-next-run').text == \
        '1970-01-01 00:05:00 UTC'
    assert page.html.find(id='zt-edit') is not None


def test_progress_of_running_job(manager, demo):
    jobid = demo.service.add('echo')
    demo.commit()
    runner.claim(demo.service, demo.tm, 0, 1)
    Dispatch(demo.service).setProgress(jobid, 0.5, 'half way')
    demo.commit()
    progress = _page(manager, jobid).html.find(id='zt-progress').text
    assert '50 %' in progress and 'half way' in progress


def test_cancel_from_job_page(manager, demo):
    jobid = demo.service.add('echo', startLater=True)
    demo.commit()
    page = _page(manager, jobid).forms[0].submit('cancel')
    assert 'Job cancelled.' in page.text
    demo.sync()
    assert demo.service.getStatus(jobid) == 'cancelled'


def test_retry_from_job_page(manager, demo):
    jobid = demo.service.add('fail')
    demo.commit()
    demo.service.process()
    _page(manager, jobid).forms[0].submit('retry')
    demo.sync()
    assert demo.service.getStatus(jobid) == 'queued'


def test_delete_from_job_page_goes_back_to_the_list(manager, demo):
    jobid = demo.service.add('echo', startLater=True)
    demo.commit()
    response = _page(manager, jobid).forms[0].submit('delete', status=302)
    assert response.headers['Location'].endswith('/jobs/@@jobs.html')
    demo.sync()
    assert jobid not in demo.service.jobs


def test_job_page_post_needs_csrf_token(manager, demo):
    jobid = demo.service.add('echo', startLater=True)
    demo.commit()
    manager.post('%s/%d' % (SERVICE, jobid), {'delete': '1'}, status=403)
    demo.sync()
    assert jobid in demo.service.jobs


def test_viewer_sees_job_without_actions(viewer, demo):
    jobid = demo.service.add('echo', startLater=True)
    demo.commit()
    page = _page(viewer, jobid)
    assert page.html.find(id='zt-job-status').text == 'startlater'
    assert 'name="delete"' not in page.text


def test_job_page_names_the_worker(manager, demo):
    jobid = demo.service.add('echo')
    demo.commit()
    demo.service.process()
    page = _page(manager, jobid)
    assert 'Last run by' in page.text
    assert page.html.find(id='zt-owner').text.startswith(
        worker_id())


def test_cancel_a_running_job_from_its_page(manager, demo):
    jobid = demo.service.add('echo')
    demo.commit()
    runner.claim(demo.service, demo.tm, 0, 1)
    demo.commit()
    page = _page(manager, jobid)
    page = page.forms[0].submit('cancel')
    assert 'Job asked to stop: it ends cancelled at its next checkpoint.' \
        in page.text
    demo.sync()
    assert demo.service.getStatus(jobid) == 'processing'
    assert demo.service._cancel_requests[jobid] == 'zodbtasks.admin'


def test_a_running_job_over_its_time_limit_says_so(manager, demo):
    jobid = demo.service.add('echo', timeLimit=1.0)
    demo.commit()
    runner.claim(demo.service, demo.tm, 0, 1)   # started in 1970
    demo.commit()
    over = _page(manager, jobid).html.find(id='zt-over-time-limit')
    assert over.text == 'over its time limit of 1 s'
