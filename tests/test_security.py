"""The WSGI middleware of zodbtasks-server (zodbtasks.app.security), around
a small application of its own; the real application is in
test_server.py and functional/test_security.py."""
import logging

import pytest
import webtest

from zodbtasks.app import security
from zodbtasks.app.security import SecurityMiddleware

HOST = 'tasks.example.org:8080'
OWN = 'http://tasks.example.org:8080'


class Recorder:
    """A WSGI application that records the requests it gets."""

    def __init__(self):
        self.calls = []

    def __call__(self, environ, start_response):
        self.calls.append(environ['REQUEST_METHOD'])
        start_response('200 OK', [('Content-Type', 'text/plain'),
                                  ('X-Frame-Options', 'ALLOWALL')])
        return [b'done']


@pytest.fixture
def inner():
    return Recorder()


def _client(inner, **kwargs):
    return webtest.TestApp(SecurityMiddleware(inner, **kwargs),
                           extra_environ={'HTTP_HOST': HOST})


@pytest.fixture
def client(inner):
    return _client(inner)


# -- the same-origin rule ---------------------------------------------------

@pytest.mark.parametrize('method', ['post', 'put', 'delete', 'patch'])
def test_a_cross_origin_state_change_is_refused(client, inner, method):
    response = getattr(client, method)(
        '/x', headers={'Origin': 'http://evil.example'}, status=403)
    assert inner.calls == []
    assert 'came from another site (http://evil.example)' in response.text
    assert 'not from this server (%s)' % OWN in response.text
    assert response.content_type == 'text/html'


@pytest.mark.parametrize('method', ['get', 'head', 'options'])
def test_safe_methods_pass_whatever_their_origin(client, inner, method):
    getattr(client, method)('/x', headers={'Origin': 'http://evil.example'})
    assert inner.calls == [method.upper()]


@pytest.mark.parametrize('origin', [
    OWN, 'HTTP://Tasks.Example.org:8080', OWN + '/'])
def test_a_same_origin_post_passes(client, inner, origin):
    client.post('/x', headers={'Origin': origin})
    assert inner.calls == ['POST']


def test_the_default_port_may_be_left_out(inner):
    client = webtest.TestApp(SecurityMiddleware(inner),
                             extra_environ={'HTTP_HOST': 'example.org'})
    client.post('/x', headers={'Origin': 'http://example.org:80'})
    client.post('/x', headers={'Origin': 'http://example.org'})
    client.post('/x', headers={'Origin': 'https://example.org'}, status=403)
    assert inner.calls == ['POST', 'POST']


@pytest.mark.parametrize('origin', [
    'null', 'http://tasks.example.org:8081', 'https://tasks.example.org:8080',
    'http://tasks.example.org.evil.example:8080', 'garbage', ''])
def test_other_origins_are_refused(client, inner, origin):
    client.post('/x', headers={'Origin': origin}, status=403)
    assert inner.calls == []


def test_without_origin_the_referer_decides(client, inner):
    client.post('/x', headers={'Referer': OWN + '/demo/@@contents.html'})
    client.post('/x', headers={'Referer': 'http://evil.example/page'},
                status=403)
    assert inner.calls == ['POST']


def test_origin_wins_over_referer(client, inner):
    client.post('/x', headers={'Origin': 'http://evil.example',
                               'Referer': OWN + '/'}, status=403)
    assert inner.calls == []


def test_a_request_with_neither_header_passes(client, inner):
    """Non-browser clients (curl, scripts) send neither; browsers send
    Origin on every cross-origin POST."""
    client.post('/x')
    assert inner.calls == ['POST']


def test_the_server_name_is_used_without_a_host_header(inner):
    client = webtest.TestApp(SecurityMiddleware(inner))
    environ = {'HTTP_HOST': '', 'SERVER_NAME': 'box', 'SERVER_PORT': '81'}
    client.post('/x', headers={'Origin': 'http://box:81'},
                extra_environ=environ)
    assert inner.calls == ['POST']


def test_the_public_url_is_an_origin_of_its_own(inner):
    client = _client(inner, public_url='https://tasks.example.com/')
    client.post('/x', headers={'Origin': 'https://tasks.example.com'})
    client.post('/x', headers={'Origin': OWN})
    response = client.post('/x', headers={'Origin': 'http://evil.example'},
                           status=403)
    assert 'not from this server (https://tasks.example.com:443)' \
        in response.text
    assert inner.calls == ['POST', 'POST']


def test_a_wrong_public_url_is_refused(inner):
    with pytest.raises(ValueError, match="public-url 'tasks.example.com' in "
                       "<product-config zodbtasks>: expected an http"):
        SecurityMiddleware(inner, public_url='tasks.example.com')


def test_the_refusal_escapes_what_it_shows(client):
    response = client.post('/x', headers={'Origin': 'http://<b>x</b>'},
                           status=403)
    assert '<b>x' not in response.text
    assert '&lt;b&gt;x&lt;/b&gt;' in response.text


def test_the_refusal_is_logged_on_one_warning_line(client, caplog):
    with caplog.at_level(logging.WARNING, 'zodbtasks.app.security'):
        client.post('/demo/@@contents.html',
                    headers={'Origin': 'http://evil.example'}, status=403)
    [record] = caplog.records
    assert record.levelname == 'WARNING'
    assert record.getMessage() == (
        "refused a cross-origin POST to '/demo/@@contents.html' from "
        "'http://evil.example' (this server is '%s')" % OWN)
    assert record.exc_info is None


# -- headers -------------------------------------------------------------

def _assert_secured(response):
    assert response.headers['X-Frame-Options'] == 'SAMEORIGIN'
    assert response.headers['X-Content-Type-Options'] == 'nosniff'
    csp = response.headers['Content-Security-Policy']
    assert "script-src 'self';" in csp
    assert "frame-ancestors 'self'" in csp


def test_every_response_gets_the_security_headers(client):
    response = client.get('/x')
    _assert_secured(response)
    assert response.headers.getall('X-Frame-Options') == ['SAMEORIGIN']


def test_refusals_get_the_security_headers_too(client):
    _assert_secured(client.post('/x', headers={'Origin': 'http://e.example'},
                                status=403))


# -- the body bound ----------------------------------------------------------

def test_a_body_over_the_bound_is_refused_with_413(inner):
    client = _client(inner, max_body=100)
    response = client.post('/x', b'x' * 101, status=413)
    assert inner.calls == []
    assert ('The request body is 101 bytes; this server accepts at most 100 '
            '(max-request-body in &lt;product-config zodbtasks&gt; of '
            'zope.conf). Nothing was changed.') in response.text
    _assert_secured(response)


def test_a_body_at_the_bound_passes(inner):
    _client(inner, max_body=100).post('/x', b'x' * 100)
    assert inner.calls == ['POST']


def test_the_default_bound_takes_a_url_encoded_input_of_1_mib():
    assert security.DEFAULT_MAX_BODY >= 3 * 1024 * 1024 + 64 * 1024


@pytest.mark.parametrize('text, size', [
    ('4194304', 4194304), ('4MB', 4 * 1024 ** 2), ('512 kb', 512 * 1024),
    ('1G', 1024 ** 3), (' 10 ', 10)])
def test_parse_size(text, size):
    assert security.parse_size(text) == size


@pytest.mark.parametrize('text', ['', 'lots', '4TB', '0', '-1', '1.5MB'])
def test_parse_size_refuses_what_is_not_a_size(text):
    with pytest.raises(ValueError, match='max-request-body %r in '
                       '<product-config zodbtasks>: expected a number of '
                       'bytes' % text):
        security.parse_size(text)
