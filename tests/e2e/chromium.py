"""Headless Chromium for the browser tests: Debian's `chromium` and
`chromium-driver` (installed by .ci/run), nothing downloaded."""
import base64
import os
import shutil
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, os.pardir, os.pardir))
ARTIFACTS = os.path.join(TOP, 'test-artifacts')
CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'
CHROMEDRIVER = shutil.which('chromedriver') or '/usr/bin/chromedriver'
DEADLINE = 30.0  # seconds; only reached when something is broken

skip_without_chromium = pytest.mark.skipif(
    not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
    reason='Chromium is not installed (apt-get install chromium '
           'chromium-driver; .ci/run does it): browser test skipped')


def wait_for(predicate, what, deadline=DEADLINE, step=0.05):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(step)
    raise AssertionError('timed out waiting for %s' % what)


def start(login=None, size='1400,1000'):
    """A headless Chromium; ``login`` (user, password): HTTP basic
    credentials sent with every request the pages make (the ZMI's)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ('--headless=new', '--no-sandbox', '--disable-gpu',
                     '--disable-quic', '--no-first-run',
                     '--disable-background-networking',
                     '--disable-component-update', '--disable-sync',
                     '--window-size=' + size,
                     '--user-data-dir=' + tempfile.mkdtemp()):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    if login is not None:
        credentials = base64.b64encode(
            ('%s:%s' % login).encode()).decode()
        driver.execute_cdp_cmd('Network.enable', {})
        driver.execute_cdp_cmd('Network.setExtraHTTPHeaders', {
            'headers': {'Authorization': 'Basic ' + credentials}})
    return driver


def screenshot(driver, name):
    """Save the whole page as test-artifacts/``name``."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    height = driver.execute_script(
        'return Math.max(document.body.scrollHeight, 600)')
    width = driver.execute_script('return window.innerWidth')
    driver.set_window_size(max(width, 1400), min(height + 120, 4000))
    path = os.path.join(ARTIFACTS, name)
    assert driver.save_screenshot(path), path
    return path
