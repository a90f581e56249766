"""The hardening of the bundled server, on the real application: the
same-origin rule on zodbtasks' actions and the stock ZTK views, expiring
CSRF tokens, security headers on every page, the body bound, and what
404s, anonymous PUT/DELETE and DELETE of a service answer and log."""
import logging
import os
import re

import pytest

import zodbtasks.browser
from zodbtasks.browser import csrf

from .conftest import SERVICE

#: WebTest's requests go to http://localhost:80.
OWN = 'http://localhost'
EVIL = 'http://evil.example'


@pytest.fixture
def jobs(demo):
    """A job to start later, a failed one, a completed one, a cron job,
    a completed group."""
    s = demo.service
    later = s.add('echo', 'later', startLater=True)
    failed, done = s.add('fail', 'f'), s.add('echo', 'done')
    group = s.addGroup([('echo', 'member')])
    demo.commit()
    s.process()
    cron = s.addCronJob('echo', 'cron', minute=(5,))
    demo.commit()
    return {'later': later, 'failed': failed, 'done': done, 'cron': cron,
            'group': group}


def _state(demo):
    demo.sync()
    service = demo.service
    return (service.isProcessing(), sorted(
        (job.id, job.status, job.task, job.input,
         getattr(job, 'cron', None), getattr(job, 'minute', None))
        for job in service.jobs.values()))


def _actions(jobs):
    """(page, form fields) of every zodbtasks action."""
    job = '%s/%d' % (SERVICE, jobs['later'])
    listing = SERVICE + '/@@jobs.html'
    selected = {'ids': [str(jobs['later']), str(jobs['failed'])]}
    return [
        (listing, dict(selected, cancel='Cancel')),
        (listing, dict(selected, retry='Retry')),
        (listing, dict(selected, delete='Delete')),
        (listing, {'start': 'Start processing'}),
        (listing, {'stop': 'Stop processing'}),
        (listing, {'cancelAll': 'Cancel all waiting'}),
        (listing, {'clean': 'Clean', 'clean_status': 'completed'}),
        (job, {'start': 'Start'}),
        (job, {'cancel': 'Cancel'}),
        (job, {'delete': 'Delete'}),
        ('%s/%d' % (SERVICE, jobs['failed']), {'retry': 'Retry'}),
        (SERVICE + '/@@addJob.html', {'task': 'echo', 'input': '1',
                                      'save': 'Add job'}),
        (SERVICE + '/@@addCronJob.html', {'task': 'echo', 'minute': '1',
                                          'save': 'Add cron job'}),
        ('%s/%d/@@editCronJob.html' % (SERVICE, jobs['cron']),
         {'task': 'echo', 'minute': '7', 'save': 'Save'}),
        ('%s/@@group.html?id=%d' % (SERVICE, jobs['group']),
         {'id': str(jobs['group']), 'clean': 'Clean group'}),
    ]


def _token(browser, page):
    return browser.get(page).html.find(
        'input', attrs={'name': csrf.FIELD})['value']


ACTIONS = range(15)


@pytest.mark.parametrize('number', ACTIONS)
def test_a_cross_origin_zodbtasks_action_is_refused(manager, demo, jobs,
                                                    number):
    page, fields = _actions(jobs)[number]
    fields = dict(fields, **{csrf.FIELD: _token(manager, page)})
    before = _state(demo)
    response = manager.post(page, fields, headers={'Origin': EVIL},
                            status=403)
    assert 'came from another site (%s)' % EVIL in response.text
    assert _state(demo) == before


@pytest.mark.parametrize('number', ACTIONS)
def test_a_cross_site_referer_is_refused_too(manager, demo, jobs, number):
    page, fields = _actions(jobs)[number]
    fields = dict(fields, **{csrf.FIELD: _token(manager, page)})
    before = _state(demo)
    manager.post(page, fields, headers={'Referer': EVIL + '/attack.html'},
                 status=403)
    assert _state(demo) == before


def test_all_actions_are_covered(jobs):
    assert len(_actions(jobs)) == len(ACTIONS)


@pytest.mark.parametrize('number', [0, 2, 6, 9, 11, 12, 13, 14])
def test_a_same_origin_zodbtasks_action_works(manager, demo, jobs, number):
    page, fields = _actions(jobs)[number]
    fields = dict(fields, **{csrf.FIELD: _token(manager, page)})
    before = _state(demo)
    response = manager.post(page, fields, headers={'Origin': OWN},
                            status='*')
    assert response.status_int in (200, 302)
    assert _state(demo) != before


def test_a_cross_origin_post_to_the_zmi_contents_is_refused(manager, demo):
    response = manager.post('/@@contents.html', {
        'ids:list': 'demo', 'container_delete_button': 'Delete'},
        headers={'Origin': EVIL}, status=403)
    assert 'nothing was changed' in response.text
    demo.sync()
    assert 'demo' in demo.connection.root()['Application']


def test_a_cross_origin_post_without_login_is_refused_too(anonymous, demo):
    anonymous.post('/@@contents.html', {'container_delete_button': 'x'},
                   headers={'Origin': EVIL}, status=403)


def test_the_refusal_is_logged_as_a_warning(manager, demo, caplog):
    with caplog.at_level(logging.INFO):
        manager.post('/@@contents.html', {'ids:list': 'demo'},
                     headers={'Origin': EVIL}, status=403)
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] \
        == [('zodbtasks.app.security', 'WARNING',
             "refused a cross-origin POST to '/@@contents.html' from "
             "'http://evil.example' (this server is 'http://localhost:80')")]


# -- expiring tokens -------------------------------------------------------

def _old_token(demo, principal='zodbtasks.admin', age=2 * csrf.PERIOD):
    demo.sync()
    key = demo.connection.root()[csrf.SECRET_KEY].encode('ascii')
    return csrf.make_token(key, principal, csrf.time.time() - age)


def test_an_expired_token_is_refused_and_the_form_keeps_the_input(
        manager, demo):
    before = _state(demo)
    response = manager.post(SERVICE + '/@@addJob.html', {
        'task': 'echo', 'input': '{"kept": true}', 'save': 'Add job',
        csrf.FIELD: _old_token(demo)}, status=403)
    problem = response.html.find(id='zt-problem').text
    assert problem.startswith('The form had expired')
    form = response.forms[0]
    assert form['input'].value == '{"kept": true}'
    assert form[csrf.FIELD].value != _old_token(demo)
    assert _state(demo) == before
    form.submit('save', status=302)  # the fresh token works
    assert len(_state(demo)[1]) == len(before[1]) + 1


def test_a_token_of_the_last_period_is_still_accepted(manager, demo):
    before = _state(demo)
    manager.post(SERVICE + '/@@addJob.html', {
        'task': 'echo', 'save': 'Add job',
        csrf.FIELD: _old_token(demo, age=csrf.PERIOD)}, status=302)
    assert len(_state(demo)[1]) == len(before[1]) + 1


def test_a_token_of_another_login_is_refused(manager, viewer, demo):
    token = _token(viewer, SERVICE + '/@@jobs.html')
    before = _state(demo)
    response = manager.post(SERVICE + '/@@jobs.html', {
        'cancelAll': 'x', csrf.FIELD: token}, status=403)
    assert 'belongs to another login' in response.text
    assert _state(demo) == before


# -- headers on every page ----------------------------------------------------

def _assert_secured(response):
    assert response.headers['X-Frame-Options'] == 'SAMEORIGIN'
    assert response.headers['X-Content-Type-Options'] == 'nosniff'
    policy = response.headers['Content-Security-Policy']
    assert "script-src 'self';" in policy
    assert "frame-ancestors 'self'" in policy


@pytest.mark.parametrize('page', [
    '/', '/@@contents.html', '/demo/@@contents.html',
    '/demo/++etc++site/default/@@contents.html', SERVICE,
    SERVICE + '/@@jobs.html', SERVICE + '/@@overview.html',
    SERVICE + '/@@groups.html',
    SERVICE + '/@@addJob.html', SERVICE + '/@@addCronJob.html',
    '/@@/zope3.js'])
def test_every_page_has_the_security_headers(manager, demo, page):
    _assert_secured(manager.get(page).maybe_follow())


def test_job_pages_have_the_security_headers(manager, demo, jobs):
    _assert_secured(manager.get('%s/%d' % (SERVICE, jobs['done'])))
    _assert_secured(manager.get('%s/%d/@@editCronJob.html'
                                % (SERVICE, jobs['cron'])))


def test_error_pages_have_the_security_headers(manager, anonymous, demo):
    _assert_secured(manager.get('/nosuch', status=404))
    _assert_secured(anonymous.get('/@@contents.html', status=401))
    _assert_secured(manager.delete(SERVICE, status=405))


def test_zodbtasks_templates_have_no_inline_scripts():
    """The CSP allows scripts from the server only: no <script> blocks,
    no on* handlers, no javascript: links in zodbtasks' templates."""
    folder = os.path.join(os.path.dirname(zodbtasks.browser.__file__),
                          'templates')
    names = sorted(n for n in os.listdir(folder) if n.endswith('.pt'))
    assert len(names) >= 6
    for name in names:
        with open(os.path.join(folder, name)) as f:
            text = f.read()
        assert not re.search(r'\son[a-z]+\s*=|javascript:', text,
                             re.IGNORECASE), name
        # Scripts come from the server's resources (src), never inline.
        for attributes, body in re.findall(
                r'<script([^>]*)>(.*?)</script>', text,
                re.IGNORECASE | re.DOTALL):
            assert re.search(r'\bsrc\b', attributes) and not body.strip(), \
                name
        assert text.lower().count('<script') == len(re.findall(
            r'<script[^>]*>.*?</script>', text, re.IGNORECASE | re.DOTALL)), \
            name


def test_the_zmi_navigation_tree_is_wired_without_inline_handlers(
        manager, demo):
    """Rotterdam's tree is loaded by ++resource++zodbtasks-ztk.js (the
    policy does not run the body's onload or the box's onclick)."""
    page = manager.get('/demo/@@contents.html')
    body = page.text
    assert 'id="navtreecontents"' in body
    assert not re.search(r'<body[^>]*onload', body)
    assert 'onclick="treeclicked' not in body
    [tag] = re.findall(r'<script[^>]*id="zodbtasks-ztk"[^>]*>', body)
    assert 'data-root-url="http://localhost/"' in tag
    assert 'data-base-url="http://localhost/demo/"' in tag
    src = re.search(r'src="([^"]+)"', tag).group(1)
    script = manager.get(src.replace('http://localhost', ''))
    assert 'loadtree' in script.text and 'updateCheckboxes' in script.text
    _assert_secured(script)


# -- the body bound --------------------------------------------------------

def test_a_body_over_the_bound_is_answered_413(manager, demo):
    before = _state(demo)
    response = manager.post(SERVICE + '/@@addJob.html', {
        'task': 'echo', 'input': 'x' * (4 * 1024 * 1024), 'save': 'x'},
        status=413)
    assert 'this server accepts at most 4194304' in response.text
    assert _state(demo) == before


# -- what client errors answer and log ---------------------------------------

def _errors(caplog):
    return [(r.name, r.getMessage()) for r in caplog.records
            if r.levelno >= logging.ERROR]


def test_a_404_is_not_logged_as_an_error(manager, demo, caplog):
    with caplog.at_level(logging.INFO):
        manager.get('/nosuch', status=404)
        manager.get(SERVICE + '/12345', status=404)
    assert _errors(caplog) == []


@pytest.mark.parametrize('method', ['put', 'delete'])
def test_an_anonymous_put_or_delete_is_challenged_quietly(anonymous, demo,
                                                          caplog, method):
    with caplog.at_level(logging.INFO):
        response = getattr(anonymous, method)('/demo', status=401)
    assert response.headers['WWW-Authenticate'] == 'basic realm="Zope"'
    assert _errors(caplog) == []


@pytest.mark.parametrize('method', ['put', 'delete'])
def test_a_manager_cannot_delete_or_replace_the_service(manager, demo, caplog,
                                                        method):
    with caplog.at_level(logging.INFO):
        response = getattr(manager, method)(SERVICE, status=405)
    assert method.upper() not in response.headers['Allow']
    assert response.text == (
        'Method Not Allowed: %s of this object is not possible.\n'
        % method.upper())
    assert _errors(caplog) == []
    demo.sync()
    assert demo.service.__name__ == 'jobs'
    assert 'jobs' in demo.service.__parent__
