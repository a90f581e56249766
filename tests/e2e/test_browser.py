"""End to end: the real zodbtasks-server and a real headless Chromium.

Chromium and its driver come from Debian (`apt-get install chromium
chromium-driver`, done by .ci/run); nothing is downloaded.  The screenshot
of the Jobs tab is saved to test-artifacts/jobs-tab.png.
"""
import os
import re
import secrets
import socket
import subprocess
import sys

import pytest

from zodbtasks import testing

from .chromium import ARTIFACTS
from .chromium import DEADLINE
from .chromium import TOP
from .chromium import skip_without_chromium
from .chromium import start as start_chromium
from .chromium import wait_for as _wait_for

SERVICE = '/demo/++etc++site/default/jobs'
pytestmark = skip_without_chromium


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _listening(port):
    with socket.socket() as sock:
        return sock.connect_ex(('127.0.0.1', port)) == 0


@pytest.fixture
def server(tmp_path):
    """The real server on a free loopback port; stopped by PID."""
    port, password = _free_port(), secrets.token_urlsafe(12)
    log = open(str(tmp_path / 'server.log'), 'w+')
    env = dict(os.environ, ZODBTASKS_ADMIN_PASSWORD=password)
    proc = subprocess.Popen(
        [sys.executable, '-m', 'zodbtasks.app.server',
         '--config', str(tmp_path / 'var' / 'zope.conf'),
         '--sample', os.path.join(TOP, 'etc', 'zope.conf.sample'),
         '--host', '127.0.0.1', '--port', str(port)],
        cwd=str(tmp_path), env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for(lambda: _listening(port) or proc.poll() is not None,
                  'the server to listen')
        assert proc.poll() is None, 'server died: see %s' % log.name
        yield 'http://127.0.0.1:%d' % port, password
    finally:
        testing.stop_process(proc, DEADLINE)
        log.close()


@pytest.fixture
def browser(server):
    url, password = server
    driver = start_chromium(login=('admin', password))
    try:
        yield driver, url
    finally:
        driver.quit()


def _submit(driver, fields):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    for name, value in fields.items():
        element = driver.find_element(By.NAME, name)
        if element.tag_name == 'select':
            Select(element).select_by_value(value)
        else:
            element.clear()
            element.send_keys(value)
    driver.find_element(By.ID, 'zt-save').click()


def _job_id(driver):
    """The id of the job the form just added.  The click on "save" may
    return before the browser has followed the redirect: wait (bounded)
    for the job's page, and fail with the form's errors if it shows
    them."""
    from selenium.webdriver.common.by import By

    from selenium.common.exceptions import WebDriverException

    def settled():
        if re.search(r'/jobs/(\d+)$', driver.current_url):
            return True
        try:  # the old page may go away while it is read
            return any(element.text.strip() for element in
                       driver.find_elements(By.CLASS_NAME, 'zt-field-error'))
        except WebDriverException:
            return False
    _wait_for(settled, 'the form to be saved')
    match = re.search(r'/jobs/(\d+)$', driver.current_url)
    assert match, (driver.current_url, [
        element.text for element in
        driver.find_elements(By.CLASS_NAME, 'zt-field-error')])
    return match.group(1)


def test_operator_adds_jobs_and_watches_them_complete(browser):
    from selenium.webdriver.common.by import By
    driver, url = browser

    driver.get(url + SERVICE + '/@@jobs.html')
    assert driver.find_element(By.ID, 'zt-job-table')
    assert 'runs' in driver.find_element(By.ID, 'zt-processing').text

    driver.get(url + SERVICE + '/@@addCronJob.html')
    _submit(driver, {'task': 'log', 'input': '"from the browser"',
                     'cron': '*/5 * * * *', 'timezone': 'Europe/Berlin'})
    cron_id = _job_id(driver)
    assert driver.find_element(By.ID, 'zt-job-status').text in (
        'cronjob', 'processing')
    assert '*/5 * * * *' in driver.find_element(By.ID, 'zt-schedule').text

    driver.get(url + SERVICE + '/@@addJob.html')
    _submit(driver, {'task': 'echo', 'input': '{"hello": "browser"}'})
    job_id = _job_id(driver)

    def completed():
        driver.get(url + SERVICE + '/@@jobs.html')
        row = driver.find_element(By.ID, 'zt-job-' + job_id)
        return 'completed' in row.text
    _wait_for(completed, 'job %s to complete' % job_id, step=0.2)

    rows = driver.find_element(By.ID, 'zt-job-table').text
    assert cron_id[-6:] in rows and 'echo' in rows  # short ids
    os.makedirs(ARTIFACTS, exist_ok=True)
    assert driver.save_screenshot(os.path.join(ARTIFACTS, 'jobs-tab.png'))


def test_the_zmi_tree_and_select_all_work_under_the_policy(browser):
    """The server's Content-Security-Policy runs no inline handler; the
    Rotterdam navigation tree and the "select all" box of a container's
    contents still work (through ++resource++zodbtasks-ztk.js), and no
    script of the server is refused."""
    from selenium.webdriver.common.by import By
    driver, url = browser
    driver.get(url + '/@@contents.html')

    def tree_loaded():  # xmltree.js fetched the root's children
        tree = driver.find_element(By.ID, 'navtreecontents')
        return '[top]' in tree.text
    _wait_for(tree_loaded, 'the navigation tree to load')
    # a click on the root's expander (its plus sign, at its left edge)
    expander = driver.find_element(By.CSS_SELECTOR, '#navtreecontents expand')
    driver.execute_script("arguments[0].dispatchEvent(new MouseEvent("
                          "'click', {bubbles: true}));", expander)
    _wait_for(lambda: 'demo' in driver.find_element(
        By.ID, 'navtreecontents').text, 'the tree to expand')
    boxes = driver.find_elements(By.CSS_SELECTOR, 'input.slaveBox')
    assert boxes and not any(box.is_selected() for box in boxes)
    driver.find_element(By.CSS_SELECTOR, 'th input[type=checkbox]').click()
    assert all(box.is_selected() for box in boxes)
    refused = [entry['message'] for entry in driver.get_log('browser')
               if 'Refused to load' in entry['message']]
    assert refused == []
    os.makedirs(ARTIFACTS, exist_ok=True)
    assert driver.save_screenshot(os.path.join(ARTIFACTS,
                                               'zmi-contents.png'))


def test_the_jobs_tab_shows_a_running_jobs_progress_without_a_reload(
        browser):
    """The Jobs tab's script (live.js) polls @@jobs.json and moves the
    progress bar of a running job, then shows it completed, in the page
    it loaded (a marker set on window survives: no reload)."""
    from selenium.webdriver.common.by import By
    driver, url = browser
    driver.get(url + SERVICE + '/@@addJob.html')
    _submit(driver, {'task': 'sleep', 'input': '4'})
    job_id = _job_id(driver)
    driver.get(url + SERVICE + '/@@jobs.html')
    driver.execute_script('window.ztNoReload = true;')
    live = driver.find_element(By.ID, 'zt-live')
    _wait_for(live.is_displayed, 'the live bar to show')
    from selenium.common.exceptions import WebDriverException

    def read(css, attribute=None):
        # Found again each time: an element read while the script
        # redraws its cell may be gone.
        try:
            row = driver.find_element(By.ID, 'zt-job-' + job_id)
            found = row.find_elements(By.CSS_SELECTOR, css)
            if not found:
                return None
            return found[0].get_attribute(attribute) if attribute \
                else found[0].text
        except WebDriverException:
            return None

    def width():
        found = re.search(r'width:\s*(\d+)%',
                          read('.zt-bar span', 'style') or '')
        return int(found.group(1)) if found else None
    first = []
    _wait_for(lambda: (width() or 0) > 0 and (width() or 100) < 100
              and not first.append(width()), 'a progress bar', step=0.1)
    _wait_for(lambda: (width() or 0) > first[0]
              or read('.zt-status') == 'completed',
              'the progress bar to move', step=0.1)
    _wait_for(lambda: read('.zt-status') == 'completed',
              'the job to show completed', step=0.2)
    assert driver.execute_script('return window.ztNoReload') is True
    assert read('.zt-col-completed')
    assert 'updated' in live.text


def test_times_are_redrawn_in_the_browsers_zone_and_ids_copied(browser):
    """readable.js shows the full times of a job's page in the browser's
    zone (here Asia/Tokyo, the server's is UTC), keeps the server's
    relative texts in the Jobs tab with the browser's full time on hover,
    and adds a Copy button to the short ids."""
    from selenium.webdriver.common.by import By
    driver, url = browser
    driver.execute_cdp_cmd('Emulation.setTimezoneOverride',
                           {'timezoneId': 'Asia/Tokyo'})
    driver.get(url + SERVICE + '/@@addJob.html')
    _submit(driver, {'task': 'echo', 'input': '1'})
    job_id = _job_id(driver)
    created = driver.find_element(By.ID, 'zt-created')
    stamp = created.get_attribute('datetime')            # ISO UTC
    hour = (int(stamp[11:13]) + 9) % 24
    _wait_for(lambda: re.match(r'\d{4}-\d\d-\d\d %02d:\d\d:\d\d (JST|GMT\+9)$'
                               % hour, created.text),
              'the time in the browser\'s zone (%s)' % created.text)
    driver.get(url + SERVICE + '/@@jobs.html')
    row = driver.find_element(By.ID, 'zt-job-' + job_id)
    link = row.find_element(By.CSS_SELECTOR, 'a[data-copy]')
    assert link.text == '\u2026' + job_id[-6:]
    assert link.get_attribute('title') == job_id
    _wait_for(lambda: row.find_elements(By.CLASS_NAME, 'zt-copy'),
              'the Copy button')
    time_ = row.find_element(By.CSS_SELECTOR, '.zt-col-created time')
    assert re.search(r'(JST|GMT\+9)$', time_.get_attribute('title'))
    assert time_.text.endswith('ago') or time_.text == 'just now'


def test_a_failed_jobs_page_folds_its_traceback_and_the_failures_tab(
        browser):
    """A failed job's page shows the folded traceback, the full one
    behind a toggle that opens with a click, and its attempt; the
    Failures tab groups it (screenshots in test-artifacts/)."""
    from selenium.webdriver.common.by import By
    driver, url = browser
    driver.get(url + SERVICE + '/@@addJob.html')
    _submit(driver, {'task': 'fail', 'input': '"no printer"'})
    job_id = _job_id(driver)

    def failed():
        driver.get(url + SERVICE + '/' + job_id)
        return driver.find_element(By.ID, 'zt-job-status').text == 'error'
    _wait_for(failed, 'job %s to fail' % job_id, step=0.2)
    full = driver.find_element(By.ID, 'zt-traceback-full')
    assert not full.find_element(By.TAG_NAME, 'pre').is_displayed()
    full.find_element(By.TAG_NAME, 'summary').click()
    assert 'zodbtasks/runner.py' in full.find_element(By.TAG_NAME,
                                                      'pre').text
    assert 'frames of the transaction manager folded' in \
        driver.find_element(By.ID, 'zt-traceback-folded').text
    assert driver.find_element(By.ID, 'zt-attempts').text.count('error') >= 1
    os.makedirs(ARTIFACTS, exist_ok=True)
    assert driver.save_screenshot(os.path.join(ARTIFACTS, 'job-page.png'))
    driver.get(url + SERVICE + '/@@failures.html')
    groups = driver.find_element(By.ID, 'zt-failure-groups').text
    assert 'demo failure: no printer' in groups and 'TaskError' in groups
    assert driver.save_screenshot(os.path.join(ARTIFACTS, 'failures-tab.png'))


def test_select_the_page_then_every_job_matching(browser):
    """select.js: the table head's box selects the page's jobs, and only
    then the offer of every job matching the filter shows; with it, the
    Selected jobs' Cancel leads to the bulk confirmation with the count."""
    from selenium.webdriver.common.by import By
    driver, url = browser
    for number in range(2):
        driver.get(url + SERVICE + '/@@addJob.html')
        _submit(driver, {'task': 'echo', 'input': '"select %d"' % number})
        _job_id(driver)
    driver.get(url + SERVICE + '/@@jobs.html?q=select')
    offer = driver.find_element(By.ID, 'zt-all-matching-label')
    assert not offer.is_displayed()
    driver.find_element(By.ID, 'zt-select-page').click()
    boxes = driver.find_elements(By.CSS_SELECTOR, 'input[name="ids:list"]')
    assert len(boxes) == 2 and all(box.is_selected() for box in boxes)
    assert offer.is_displayed()
    boxes[0].click()
    assert not offer.is_displayed()
    assert not driver.find_element(By.ID, 'zt-select-page').is_selected()
    boxes[0].click()
    driver.find_element(By.ID, 'zt-all-matching').click()
    driver.find_element(By.CSS_SELECTOR, 'input[name="cancel"]').click()
    _wait_for(lambda: 'bulk.html' in driver.current_url,
              'the bulk confirmation')
    question = driver.find_element(By.ID, 'zt-bulk-question').text
    assert question == 'Cancel 2 jobs matching: text=select?'
