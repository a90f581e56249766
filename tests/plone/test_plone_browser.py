"""A real browser against a real Plone 6 instance: Debian's Chromium on
the demo Plone site of ``make run-plone`` (``runwsgi`` on a free
127.0.0.1 port, its own FileStorage).  A member logs in, publishes a
folder in the background, watches the "my jobs" viewlet's progress bars
move without a reload, sees the failure (an item they may not publish)
stay across reloads until they dismiss it.  The screenshot goes to
test-artifacts/plone-my-jobs.png."""
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

from zodbtasks import testing

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not (shutil.which('chromium') and shutil.which('chromedriver')),
    reason='Chromium is not installed (apt-get install chromium '
           'chromium-driver; .ci/run does it): browser test skipped')]

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, os.pardir, os.pardir))
ARTIFACTS = os.path.join(TOP, 'test-artifacts')
DEADLINE = 90.0


def free_port():
    import socket
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def wait_for(predicate, what, deadline=DEADLINE, step=0.1):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        result = predicate()
        if result:
            return result
        time.sleep(step)
    raise AssertionError('timed out waiting for %s' % what)


@pytest.fixture
def plone(tmp_path):
    """The demo Plone instance, made and served; stopped by PID."""
    import urllib.request
    port = free_port()
    member = secrets.token_urlsafe(12)
    env = dict(os.environ, ZODBTASKS_ADMIN_PASSWORD=secrets.token_urlsafe(12),
               ZODBTASKS_MEMBER_PASSWORD=member,
               ZODBTASKS_EXAMPLE_PAUSE='0.08')
    log = open(str(tmp_path / 'plone.log'), 'w+')
    proc = subprocess.Popen(
        [sys.executable, '-m', 'zodbtasks.zope.instance', '--plone',
         '--dir', str(tmp_path / 'plone'), '--port', str(port)],
        cwd=str(tmp_path), env=env, stdout=log, stderr=subprocess.STDOUT)
    url = 'http://127.0.0.1:%d/Plone' % port
    # Plone does not theme 127.0.0.1 (plone.app.theming's unthemed host
    # names); the browser asks for localhost, the same loopback server.
    themed = 'http://localhost:%d/Plone' % port

    def up():
        assert proc.poll() is None, 'the instance ended: ' + open(
            log.name).read()[-3000:]
        try:
            return urllib.request.urlopen(url, timeout=2).status == 200
        except OSError:
            return False
    try:
        wait_for(up, 'Plone to serve', deadline=240)
        yield themed, member
    finally:
        testing.stop_process(proc, 30)
        log.close()


@pytest.fixture
def driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which('chromium')
    for argument in ('--headless=new', '--no-sandbox', '--disable-gpu',
                     '--no-first-run', '--disable-background-networking',
                     '--disable-component-update', '--disable-sync',
                     '--window-size=1400,1000',
                     '--user-data-dir=' + tempfile.mkdtemp()):
        options.add_argument(argument)
    chrome = webdriver.Chrome(service=Service(shutil.which('chromedriver')),
                              options=options)
    try:
        yield chrome
    finally:
        chrome.quit()


def test_a_member_watches_their_background_job_and_dismisses_its_failure(
        plone, driver):
    from selenium.webdriver.common.by import By
    url, password = plone
    driver.get(url + '/login')
    driver.find_element(By.NAME, '__ac_name').send_keys('member')
    driver.find_element(By.NAME, '__ac_password').send_keys(password)
    driver.find_element(By.NAME, 'buttons.login').click()
    wait_for(lambda: 'login' not in driver.current_url, 'the login')

    driver.get(url + '/background/@@zodbtasks-publish-contents')
    driver.find_element(By.NAME, 'confirm').click()
    wait_for(lambda: 'zodbtasks_job=' in driver.current_url,
             'the folder after the action')
    # The planning job completes, the folder page reloads itself.
    driver.get(url)                       # then watch from the front page
    driver.execute_script('window.zodbtasksNoReload = true;')
    box = wait_for(lambda: driver.find_elements(By.ID, 'zodbtasks-myjobs'),
                   'the viewlet')[0]

    # Read in the page, in one go: the script replaces the items it
    # redraws, so elements found earlier may be gone.
    def progress():
        values = driver.execute_script(
            "return Array.from(document.querySelectorAll("
            "'#zodbtasks-myjobs .zodbtasks-running progress'))"
            ".map(function (bar) { return bar.getAttribute('value'); });")
        return [float(v) for v in values if v not in (None, '')]

    def failures():
        return driver.execute_script(
            "return Array.from(document.querySelectorAll("
            "'#zodbtasks-myjobs .zodbtasks-failure'))"
            ".map(function (item) { return item.textContent; });")
    first = wait_for(lambda: [v for v in progress() if 0 < v < 100],
                     'a progress bar between 0 and 100 %')
    wait_for(lambda: any(v > max(first) for v in progress()) or
             failures(), 'the progress bar to move')
    assert driver.execute_script('return window.zodbtasksNoReload') is True
    failure = wait_for(failures, 'the failure of the report')[0]
    assert 'restricted' in failure
    assert driver.execute_script('return window.zodbtasksNoReload') is True
    os.makedirs(ARTIFACTS, exist_ok=True)
    driver.execute_script('arguments[0].scrollIntoView();', box)
    driver.save_screenshot(os.path.join(ARTIFACTS, 'plone-my-jobs.png'))

    driver.refresh()                      # the failure stays
    assert len(failures()) == 1
    driver.execute_script("document.querySelector('#zodbtasks-myjobs "
                          ".zodbtasks-failure button').click();")
    wait_for(lambda: not driver.find_elements(By.CSS_SELECTOR,
                                              '.zodbtasks-failure'),
             'the dismissed failure to go')
    driver.refresh()
    assert not driver.find_elements(By.CSS_SELECTOR, '.zodbtasks-failure')
    # The folder is published, but for the item the member may not.
    driver.get(url + '/background/page-1')
    assert 'state-published' in driver.page_source
