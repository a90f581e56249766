"""The WSGI middleware of ``zodbtasks-server``: the same-origin rule for
state changes, the security headers, and the bound on request bodies.

It wraps the whole zope.app.wsgi application, so it covers zodbtasks'
views and the stock ZTK management views (``@@contents.html``...) alike,
and error pages too.

Same-origin rule
    A request whose method is not GET, HEAD or OPTIONS is refused with
    403 Forbidden when its ``Origin`` header (or, without one, the
    scheme, host and port of its ``Referer``) is not this server: the
    request's own ``wsgi.url_scheme`` and ``Host``, or the ``public-url``
    of ``<product-config zodbtasks>``.  ``Origin: null`` (sandboxed
    frames, some redirects) is refused.  A request with neither header
    is let through: browsers send ``Origin`` with every cross-origin POST
    (and with same-origin ones), so only non-browser clients such as
    curl or scripts send neither, and a forged request needs a browser.

Headers
    Every response gets ``X-Frame-Options: SAMEORIGIN``,
    ``X-Content-Type-Options: nosniff`` and the Content-Security-Policy
    ``CSP``: scripts only from this server (no inline scripts, no ``on*``
    handlers), framing only by this server's own pages.

Request bodies
    A body longer than ``max-request-body`` bytes (default
    ``DEFAULT_MAX_BODY``) is answered with 413 and a message saying the
    limit and where it is set.

Design note: the checks live here rather than in a publication hook
because the stock ZTK views give no hook of their own and a refused
request should never reach the publisher (no traversal, no transaction).
"""
import html
import logging
import re
import urllib.parse

import zope.app.appsetup.product

logger = logging.getLogger(__name__)

PRODUCT = 'zodbtasks'
#: Methods that never change state, so need no same-origin check.
SAFE_METHODS = frozenset({'GET', 'HEAD', 'OPTIONS'})
#: Big enough for a job input of 1 MiB (the largest the service takes)
#: sent url-encoded, which may triple its size, and the other fields.
DEFAULT_MAX_BODY = 4 * 1024 * 1024
CSP = ("default-src 'self'; script-src 'self'; "
       "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'self'; form-action 'self'; "
       "frame-ancestors 'self'")
HEADERS = (
    ('X-Frame-Options', 'SAMEORIGIN'),
    ('X-Content-Type-Options', 'nosniff'),
    ('Content-Security-Policy', CSP),
)
_DEFAULT_PORTS = {'http': 80, 'https': 443}
_SIZE = re.compile(r'\s*(\d+)\s*([kKmMgG]?)[bB]?\s*')
_UNITS = {'': 1, 'k': 1024, 'm': 1024 ** 2, 'g': 1024 ** 3}

CROSS_ORIGIN = (
    '<h1>Forbidden</h1>\n<p>This %s request came from another site (%s), '
    'not from this server (%s), so it was refused and nothing was changed: '
    'a page elsewhere may not make your browser act here. Use the forms of '
    "this server's own pages.</p>\n")
TOO_LARGE = (
    '<h1>Request too large</h1>\n<p>The request body is %d bytes; this '
    'server accepts at most %d (max-request-body in &lt;product-config '
    'zodbtasks&gt; of zope.conf). Nothing was changed.</p>\n')


def parse_size(text):
    """Bytes from ``4194304``, ``4096KB``, ``4MB`` or ``1GB`` (units of
    1024); raises ValueError naming the key and the value."""
    match = _SIZE.fullmatch(text or '')
    if match is None or int(match.group(1)) < 1:
        raise ValueError(
            'max-request-body %r in <product-config %s>: expected a number '
            'of bytes, such as 4194304 or 4MB' % (text, PRODUCT))
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


def normalized_origin(url):
    """``scheme://host:port`` of ``url`` (lower case, default port made
    explicit), or None when it has no scheme or host."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return '%s://%s:%d' % (scheme, parts.hostname.lower(),
                           port or _DEFAULT_PORTS[scheme])


def own_origin(environ):
    """The origin of the server as the request addressed it."""
    scheme = environ.get('wsgi.url_scheme', 'http')
    host = environ.get('HTTP_HOST') or '%s:%s' % (
        environ.get('SERVER_NAME', ''), environ.get('SERVER_PORT', ''))
    return normalized_origin('%s://%s' % (scheme, host))


def sender_origin(environ):
    """What the request says it came from: its Origin header, else its
    Referer's origin; None when it has neither."""
    origin = environ.get('HTTP_ORIGIN')
    if origin is not None:
        return origin.strip()
    referer = environ.get('HTTP_REFERER')
    if referer is None:
        return None
    return normalized_origin(referer) or referer.strip()


class SecurityMiddleware:
    """Wrap the WSGI application ``app``; see the module's docstring.

    ``public_url``: the address users reach the server by, when a proxy
    in front of it changes the scheme or the Host header.
    """

    def __init__(self, app, max_body=DEFAULT_MAX_BODY, public_url=None):
        self.app = app
        self.max_body = max_body
        self.public_origin = None
        if public_url:
            self.public_origin = normalized_origin(public_url)
            if self.public_origin is None:
                raise ValueError(
                    'public-url %r in <product-config %s>: expected an '
                    'http:// or https:// address' % (public_url, PRODUCT))

    def __call__(self, environ, start_response):
        def secured_start_response(status, headers, exc_info=None):
            names = {name.lower() for name, _ in HEADERS}
            headers = [(name, value) for name, value in headers
                       if name.lower() not in names] + list(HEADERS)
            return start_response(status, headers, exc_info)

        refusal = self.refusal(environ)
        if refusal is not None:
            status, body = refusal
            secured_start_response(status, [
                ('Content-Type', 'text/html; charset=utf-8'),
                ('Content-Length', str(len(body)))])
            return [body]
        return self.app(environ, secured_start_response)

    def refusal(self, environ):
        """``(status, body)`` of the answer to a refused request, or None
        when the request may go on."""
        method = environ.get('REQUEST_METHOD', 'GET').upper()
        if method in SAFE_METHODS:
            return None
        sender = sender_origin(environ)
        if sender is not None and not self.is_own(sender, environ):
            own = self.public_origin or own_origin(environ)
            logger.warning('refused a cross-origin %s to %r from %r (this '
                           'server is %r)', method, environ.get('PATH_INFO'),
                           sender, own)
            return '403 Forbidden', (CROSS_ORIGIN % (
                html.escape(method), html.escape(sender),
                html.escape(str(own)))).encode('utf-8')
        length = _content_length(environ)
        if length > self.max_body:
            logger.warning('refused a %s to %r with a body of %d bytes '
                           '(max-request-body is %d)', method,
                           environ.get('PATH_INFO'), length, self.max_body)
            return '413 Request Entity Too Large', (TOO_LARGE % (
                length, self.max_body)).encode('utf-8')
        return None

    def is_own(self, sender, environ):
        origin = normalized_origin(sender)
        return origin is not None and origin in (
            own_origin(environ), self.public_origin)


def _content_length(environ):
    try:
        return int(environ.get('CONTENT_LENGTH') or 0)
    except ValueError:
        return 0  # the publisher answers a malformed length


def from_product_config(app):
    """``app`` wrapped in a SecurityMiddleware configured by the
    ``max-request-body`` and ``public-url`` keys of ``<product-config
    zodbtasks>`` (zope.app.appsetup must have read zope.conf)."""
    config = zope.app.appsetup.product.getProductConfiguration(PRODUCT) or {}
    max_body = DEFAULT_MAX_BODY
    if config.get('max-request-body'):
        max_body = parse_size(config['max-request-body'])
    return SecurityMiddleware(app, max_body=max_body,
                              public_url=config.get('public-url'))
