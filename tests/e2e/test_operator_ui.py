"""The operator's tabs in a real Chromium while 2 worker processes run.

A ``runzeo`` server holds the database; the real zodbtasks-server (its
processors off: it only serves pages) and two ``zodbtasks-worker``
processes (2 processor threads each) are its clients, all on
127.0.0.1.  The tests watch the pages update themselves, and save a
screenshot of each tab under test-artifacts/ (the README shows them).
"""
import os
import re
import secrets
import subprocess
import sys

import pytest

from zodbtasks import testing
from zodbtasks.app import instance

from tests.zeo import conftest as zeo
from tests.zeo import tasks as zeo_tasks

from .chromium import DEADLINE
from .chromium import screenshot
from .chromium import skip_without_chromium
from .chromium import start as start_chromium
from .chromium import wait_for

pytestmark = skip_without_chromium
PATH = '/%s/++etc++site/default/%s' % (zeo.SITE, zeo.SERVICE)


class Cluster:
    """runzeo, the web server and two worker processes (stopped by pid)."""

    def __init__(self, folder):
        self.folder = folder
        self.zeo = zeo.ZEOServer(folder)
        self.processes = []
        self.password = secrets.token_urlsafe(12)

    def start(self):
        self.zeo.start()
        home = os.path.join(self.folder, 'instance')
        os.mkdir(home)
        self.config = zeo.make_zeo_instance(home, self.zeo.address)
        instance.ensure_manager(
            home, {'ZODBTASKS_ADMIN_PASSWORD': self.password})
        self.db = zeo.ZEO.DB(self.zeo.address, wait_timeout=DEADLINE)
        zeo_tasks.register()
        self.service = zeo.Service(self.db)
        self.port = zeo.free_port()
        self.server = self._spawn('server', [
            '-m', 'zodbtasks.app.server', '--config', self.config,
            '--host', '127.0.0.1', '--port', str(self.port)])
        wait_for(self._listening, 'the server to listen')
        self.workers = zeo.Workers(self.config,
                                   os.path.join(self.folder, 'runs.txt'))
        for _ in range(2):
            self.workers.start(threads=2)
        self.url = 'http://127.0.0.1:%d' % self.port

    def _spawn(self, name, arguments):
        log = open(os.path.join(self.folder, name + '.log'), 'w')
        environ = zeo.subprocess_environ()
        environ['ZODBTASKS_ADMIN_PASSWORD'] = self.password
        process = subprocess.Popen(
            [sys.executable] + arguments, cwd=os.path.dirname(self.config),
            env=environ, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.processes.append(process)
        return process

    def _listening(self):
        assert self.server.poll() is None, 'the server ended: see %s' % (
            os.path.join(self.folder, 'server.log'))
        return zeo.socket.socket().connect_ex(('127.0.0.1', self.port)) == 0

    def stop(self):
        if getattr(self, 'workers', None) is not None:
            for worker in self.workers.started:
                self.workers.stop(worker)
        for process in self.processes:
            testing.stop_process(process, DEADLINE)
        if getattr(self, 'service', None) is not None:
            self.service.close()
            testing.close_database(self.db)
        self.zeo.stop()


@pytest.fixture(scope='module')
def cluster(tmp_path_factory):
    cluster = Cluster(str(tmp_path_factory.mktemp('operator-ui')))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope='module')
def driver(cluster):
    driver = start_chromium(login=('admin', cluster.password))
    try:
        yield driver
    finally:
        driver.quit()


def _page(driver, cluster, view):
    driver.get(cluster.url + PATH + '/@@' + view)
    wait_for(lambda: driver.execute_script(
        'var live = document.getElementById("zt-live");'
        'return !live || !live.hidden;'), 'the page script to start')


def _rows(driver, css):
    """The text of each element matching ``css``, read in one go (the
    page's script may replace them while they are read)."""
    return driver.execute_script(
        'return Array.prototype.map.call(document.querySelectorAll('
        'arguments[0]), function (e) { return e.innerText; });', css)


def test_the_workers_tab_shows_both_processes_and_their_running_jobs(
        cluster, driver):
    """Loaded before the workers ran anything, the tab then shows both
    processes (2 threads each) with the progress of their jobs, without
    a reload."""
    _page(driver, cluster, 'workers.html')
    driver.execute_script('window.ztNoReload = true;')
    # One at a time: an idle thread claims each (a thread claims what is
    # due in one go), so that each of the 4 threads runs one.
    for _ in range(4):
        jobid = cluster.service.add('progress', 8.0)
        wait_for(lambda: cluster.service.fresh().jobs[jobid].status
                 == 'processing', 'job %s to start' % jobid, step=0.02)

    def both_running():
        rows = _rows(driver, 'tr.zt-worker.zt-alive')
        bars = _rows(driver, '#zt-worker-table progress')
        return len(rows) == 2 and len(bars) >= 2
    wait_for(both_running, 'two live worker processes running jobs',
             step=0.2)
    pids = {str(worker.pid) for worker in cluster.workers.started}
    cells = driver.execute_script(
        'return Array.prototype.map.call(document.querySelectorAll('
        '"tr.zt-worker.zt-alive"), function (row) { return ['
        'row.cells[2].innerText, '
        'row.querySelector(".zt-threads .zt-count").innerText]; });')
    assert {pid for pid, _ in cells} == pids
    assert {threads for _, threads in cells} == {'2'}
    assert driver.execute_script('return window.ztNoReload') is True
    screenshot(driver, 'workers-tab.png')


def test_the_tasks_tab_and_the_overview_charts_follow_the_workers(
        cluster, driver):
    """Loaded before the jobs finish, the Tasks tab then shows each
    task's failures and run times; the Overview draws its charts."""
    _page(driver, cluster, 'tasks.html')
    driver.execute_script('window.ztNoReload = true;')
    inputs = ['missing %d' % n for n in range(6)] + \
        ['timeout %d' % n for n in range(3)] + ['fine'] * 6
    ids = cluster.service.add_jobs([('broken', text, {}) for text in inputs])

    def task_row(name):
        return driver.execute_script(
            'var row = document.querySelector('
            '"tr.zt-task-row[data-task=\\"" + arguments[0] + "\\"]");'
            'if (!row) { return null; }'
            'var cells = {};'
            'row.querySelectorAll("td[class]").forEach(function (td) {'
            '  cells[td.className.split(" ")[0]] = td.innerText.trim(); });'
            'return cells;', name)

    cluster.service.wait_finished(ids, DEADLINE)
    wait_for(lambda: (task_row('broken') or {}).get('zt-failed') == '9',
             'the Tasks tab to show 9 failed jobs of broken', step=0.2)
    wait_for(lambda: (task_row('broken') or {}).get('zt-failure-rate')
             == '60.0 %', 'the failure rate of broken', step=0.2)
    broken = task_row('broken')
    assert broken['zt-finished-hour'] == '15'
    assert broken['zt-p50'] and broken['zt-p95']
    assert driver.execute_script('return window.ztNoReload') is True
    screenshot(driver, 'tasks-tab.png')
    _page(driver, cluster, 'overview.html')
    captions = _rows(driver, '#zt-charts figcaption')
    assert captions[0] == 'Jobs finished and failed per minute'
    assert driver.execute_script(
        'return document.querySelectorAll('
        '"#zt-charts g[data-series=failed] rect").length') >= 1
    screenshot(driver, 'overview-tab.png')


def test_the_failures_tab_groups_what_the_workers_failed(cluster, driver):
    """The broken jobs the workers failed (previous test): one group per
    exception type and message pattern."""
    _page(driver, cluster, 'failures.html')
    groups = driver.execute_script(
        'return Array.prototype.map.call(document.querySelectorAll('
        '"tr.zt-failure-group"), function (row) { return ['
        'row.querySelector(".zt-count").innerText.trim(),'
        'row.querySelector(".zt-type").innerText.trim(),'
        'row.querySelector(".zt-pattern").innerText.trim()]; });')
    assert ['6', 'LookupError'] in [group[:2] for group in groups]
    assert ['3', 'TaskError'] in [group[:2] for group in groups]
    patterns = {group[1]: group[2] for group in groups}
    assert 'record <n> is missing' in patterns['LookupError']
    assert 'upstream timed out after <n> s' in patterns['TaskError']
    screenshot(driver, 'failures-tab.png')


def test_search_select_all_matching_and_retry_them_in_bulk(cluster, driver):
    """Search the failed 'missing' jobs, select the page, then every job
    matching, Retry: the confirmation names the count; confirmed, a bulk
    job of the service retries them (the workers run it and the jobs),
    its progress shown on its page."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    service = cluster.service.fresh()
    missing = sorted(job.id for job in service.jobs.values()
                     if job.task == 'broken' and job.status == 'error'
                     and str(job.input).startswith('missing'))
    assert len(missing) == 6
    runs = {jobid: len(service.jobs[jobid].history) for jobid in missing}
    _page(driver, cluster, 'jobs.html?size=4')
    Select(driver.find_element(By.NAME, 'status')).select_by_value('error')
    search = driver.find_element(By.NAME, 'q')
    search.send_keys('missing')
    search.submit()
    wait_for(lambda: 'q=missing' in driver.current_url, 'the search')
    shown = _rows(driver, '#zt-job-table tbody tr')
    assert len(shown) == 4                    # a page of 4 of the 6
    assert driver.find_element(By.ID, 'zt-total').text.startswith('6')
    screenshot(driver, 'jobs-search.png')
    offer = driver.find_element(By.ID, 'zt-all-matching-label')
    assert not offer.is_displayed()
    driver.find_element(By.ID, 'zt-select-page').click()
    assert offer.is_displayed()
    driver.find_element(By.ID, 'zt-all-matching').click()
    driver.find_element(By.CSS_SELECTOR,
                        '#zt-selected input[name="retry"]').click()
    wait_for(lambda: driver.find_elements(By.ID, 'zt-bulk-question'),
             'the confirmation')
    question = driver.find_element(By.ID, 'zt-bulk-question').text
    assert question.startswith('Retry 6 jobs matching:'), question
    assert 'text=missing' in question and 'status=error' in question
    screenshot(driver, 'bulk-confirm.png')
    driver.find_element(By.ID, 'zt-bulk-confirm-button').click()
    wait_for(lambda: 'job=' in driver.current_url, 'the bulk job page')
    wait_for(lambda: driver.execute_script(
        'var s = document.getElementById("zt-bulk-status");'
        'return s && s.innerText.trim();') == 'completed',
        'the bulk job to complete (shown without a reload)', step=0.2)
    screenshot(driver, 'bulk-job.png')

    def ran_again():
        service = cluster.service.fresh()
        return all(len(service.jobs[jobid].history) == runs[jobid] + 1
                   and service.jobs[jobid].status == 'error'
                   for jobid in missing)
    wait_for(ran_again, 'the 6 jobs to run again (and fail again)',
             step=0.2)


@pytest.mark.parametrize('view, heading, name', [
    ('jobs.html', 'Jobs', 'jobs-tab-zeo.png'),
    ('groups.html', 'Groups', 'groups-tab.png'),
    ('addJob.html', 'Add a job', 'add-job-tab.png'),
    ('addCronJob.html', 'Add a cron job', 'add-cron-job-tab.png'),
])
def test_the_other_tabs_render(cluster, driver, view, heading, name):
    """Every tab of the service renders in the browser (its screenshot
    saved), with no error in the browser's console."""
    from selenium.webdriver.common.by import By
    _page(driver, cluster, view)
    assert driver.find_element(By.TAG_NAME, 'h1').text.startswith(heading)
    errors = [entry for entry in driver.get_log('browser')
              if entry['level'] == 'SEVERE']
    assert errors == []
    screenshot(driver, name)
