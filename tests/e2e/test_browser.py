"""End to end: the real zodbtasks-server and a real headless Chromium.

Chromium and its driver come from Debian (`apt-get install chromium
chromium-driver`, done by .ci/run); nothing is downloaded.  The screenshot
of the Jobs tab is saved to test-artifacts/jobs-tab.png.
"""
import base64
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from zodbtasks import testing

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, os.pardir, os.pardir))
ARTIFACTS = os.path.join(TOP, 'test-artifacts')
CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'
CHROMEDRIVER = shutil.which('chromedriver') or '/usr/bin/chromedriver'
SERVICE = '/demo/++etc++site/default/jobs'
DEADLINE = 30.0  # seconds; only reached when something is broken

pytestmark = pytest.mark.skipif(
    not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
    reason='Chromium is not installed (apt-get install chromium '
           'chromium-driver; .ci/run does it): browser test skipped')


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _wait_for(predicate, what, deadline=DEADLINE, step=0.05):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(step)
    raise AssertionError('timed out waiting for %s' % what)


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
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ('--headless=new', '--no-sandbox', '--disable-gpu',
                     '--disable-quic', '--no-first-run',
                     '--disable-background-networking',
                     '--disable-component-update', '--disable-sync',
                     '--window-size=1400,1000',
                     '--user-data-dir=' + tempfile.mkdtemp()):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    url, password = server
    # Log in: the ZMI uses HTTP basic auth; send the credentials with
    # every request the page makes.
    credentials = base64.b64encode(
        ('admin:%s' % password).encode()).decode()
    driver.execute_cdp_cmd('Network.enable', {})
    driver.execute_cdp_cmd('Network.setExtraHTTPHeaders', {
        'headers': {'Authorization': 'Basic ' + credentials}})
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
    assert cron_id in rows and 'echo' in rows
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
