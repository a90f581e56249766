"""``@@metrics``: the metrics of ``zodbtasks.metrics`` for a Prometheus
server to scrape, of one task service or of every service of a site (of
the root folder: every service of the root and of its sites, as
``*@*``).

Who may read it: a principal with the permission
``zodbtasks.ViewMetrics`` ("zodbtasks: View metrics" in Zope; Managers
have it), or anybody sending ``Authorization: Bearer <token>`` with the
token of ``metrics-token`` in ``<product-config zodbtasks>`` (at least
16 characters; there is no default: without the key, only the
permission opens the view).  The token is compared in constant time.  A
``token`` query parameter is refused (400): URLs end up in access logs
and browser histories.  Without either: 401 (anonymous, or a wrong
token) or 403 (logged in without the permission), with a message saying
what is needed.  GET (and HEAD) only: the view changes nothing, so it
needs no CSRF token; other methods get 405.

The view is registered with ``zope.Public`` and checks the permission
itself, because a token holder has no principal: the checks are the
first thing ``__call__`` does, before any service is read.  The format
follows the ``Accept`` header (``zodbtasks.metrics.content_type``).

``MetricsView`` holds the checks; its subclasses say how a platform
checks a permission and finds the services (``ServiceMetrics``,
``SiteMetrics`` here for the Zope Toolkit server, and
``zodbtasks.zope.metrics`` for Zope).
"""
import hmac

import zope.security
from zope.authentication.interfaces import IUnauthenticatedPrincipal
from zope.security.proxy import removeSecurityProxy
from zope.site.interfaces import IRootFolder

from zodbtasks import clock
from zodbtasks import metrics
from zodbtasks import startup
from zodbtasks.productconfig import product_config

#: The permission's id (ZCML, the Zope Toolkit) and its Zope title.
PERMISSION = 'zodbtasks.ViewMetrics'
PERMISSION_TITLE = 'zodbtasks: View metrics'
#: The key of ``<product-config zodbtasks>`` holding the bearer token.
TOKEN_KEY = 'metrics-token'
#: The shortest token accepted (a guessable token is no protection).
MIN_TOKEN = 16
TEXT = 'text/plain; charset=utf-8'

NEEDS = ('metrics need a login with the permission %s ("%s" in Zope) or '
         'the header "Authorization: Bearer <token>" with the token of %s '
         'in <product-config zodbtasks>' % (PERMISSION, PERMISSION_TITLE,
                                            TOKEN_KEY))


class Refused(Exception):
    """The answer is an error: ``status``, message, extra headers."""

    def __init__(self, status, message, headers=()):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


def configured_token(config=None):
    """The token of ``metrics-token``, or None when it is not set;
    Refused (500) for a token shorter than MIN_TOKEN characters."""
    config = product_config() if config is None else config
    token = (config.get(TOKEN_KEY) or '').strip()
    if not token:
        return None
    if len(token) < MIN_TOKEN:
        raise Refused(500, '%s in <product-config zodbtasks> is %d '
                      'characters long; use at least %d (for instance '
                      '`python -c "import secrets; print(secrets.'
                      'token_urlsafe(32))"`)' % (TOKEN_KEY, len(token),
                                                 MIN_TOKEN))
    return token


def bearer(header):
    """The token of an ``Authorization: Bearer <token>`` header, or None
    for another (or no) header."""
    scheme, _, credentials = (header or '').strip().partition(' ')
    if scheme.lower() != 'bearer':
        return None
    return credentials.strip()


def authorization(request):
    """The request's ``Authorization`` header: both publishers take it out
    of the environment into ``request._auth`` (so that views do not see
    passwords), which is where it is read."""
    return getattr(request, '_auth', None) \
        or request.getHeader('Authorization')


def token_matches(given, expected):
    return hmac.compare_digest(given.encode('utf-8'),
                               expected.encode('utf-8'))


class MetricsView:
    """See the module; subclasses give ``may_view()``, ``anonymous()``
    and ``services()``."""

    def __init__(self, context, request):
        self.context, self.request = context, request

    def __call__(self):
        # No ``now`` argument: the publishers would fill it from the form.
        response = self.request.response
        response.setHeader('Cache-Control', 'no-store')
        try:
            self.check()
            services = self.services()
        except Refused as refused:
            response.setStatus(refused.status)
            for name, value in refused.headers:
                response.setHeader(name, value)
            response.setHeader('Content-Type', TEXT)
            return '%s\n' % refused.message
        openmetrics, content_type = metrics.content_type(
            self.request.getHeader('Accept'))
        text = metrics.render(services, clock.now(), openmetrics)
        response.setHeader('Content-Type', content_type)
        # bytes: zope.publisher takes str only for text/* and +xml types
        return text.encode('utf-8')

    def check(self):
        """Nothing, or Refused saying why the request is not answered."""
        method = getattr(self.request, 'method', None) \
            or self.request.get('REQUEST_METHOD', 'GET')
        if method.upper() not in ('GET', 'HEAD'):
            raise Refused(405, 'Method Not Allowed: @@metrics answers GET '
                          'only (it changes nothing).',
                          [('Allow', 'GET, HEAD')])
        if 'token' in self.request.form:
            raise Refused(400, 'Bad Request: send the metrics token in the '
                          'header "Authorization: Bearer <token>", not in '
                          'the URL (access logs keep URLs).')
        given = bearer(authorization(self.request))
        if given is not None:
            expected = configured_token()
            if expected is None:
                raise Refused(401, 'Unauthorized: a bearer token was sent '
                              'and no %s is set in <product-config '
                              'zodbtasks>; %s.' % (TOKEN_KEY, NEEDS),
                              [('WWW-Authenticate', 'Bearer realm='
                                '"zodbtasks", error="invalid_token"')])
            if not token_matches(given, expected):
                raise Refused(401, 'Unauthorized: the bearer token does not '
                              'match %s of <product-config zodbtasks>.'
                              % TOKEN_KEY,
                              [('WWW-Authenticate', 'Bearer realm='
                                '"zodbtasks", error="invalid_token"')])
            return
        if self.may_view():
            return
        if self.anonymous():
            raise Refused(401, 'Unauthorized: %s.' % NEEDS,
                          [('WWW-Authenticate', 'Basic realm="Zope"')])
        raise Refused(403, 'Forbidden: %s; this login has neither.' % NEEDS)


class ToolkitChecks:
    """Permissions and principals of the Zope Toolkit server."""

    def may_view(self):
        return zope.security.checkPermission(PERMISSION, self.context)

    def anonymous(self):
        return IUnauthenticatedPrincipal.providedBy(
            getattr(self.request, 'principal', None))


class ServiceMetrics(ToolkitChecks, MetricsView):
    """@@metrics of a task service."""

    def services(self):
        service = removeSecurityProxy(self.context)
        return [(metrics.label_of(service), service)]


class SiteMetrics(ToolkitChecks, MetricsView):
    """@@metrics of a site: its task services; of the root folder, those
    of the root and of its sites, or those that ``?service=SITE@NAME``
    names (see the module)."""

    def services(self):
        site = removeSecurityProxy(self.context)
        return site_services(site, IRootFolder.providedBy(site),
                             self.request.form.get('service'))


def site_services(site, root, directive=None):
    """``[(SITE@NAME, service)]`` of the task services of ``site``; with
    ``root``, those of the root folder ``site`` and of its sites that
    ``directive`` names (default ``*@*``).  Refused (400) for a
    directive that is not one, or names a missing site."""
    if root:
        wanted = directive or '*@*'
        try:
            [parsed] = startup.parse_autostart(wanted)
        except ValueError:
            raise Refused(400, 'Bad Request: service=%s: expected SITE@NAME, '
                          '@NAME, SITE@*, *@NAME or *@*' % wanted) from None
        try:
            found = startup.find_services(site, parsed)
        except LookupError as exc:
            raise Refused(400, 'Bad Request: service=%s: %s'
                          % (wanted, exc)) from exc
        return [('%s@%s' % (site_name, name), service)
                for site_name, name, service in found]
    if directive:
        raise Refused(400, 'Bad Request: service= is for the root '
                      "folder's @@metrics; this one is the site's")
    site_name = getattr(site, '__name__', None) or ''
    return [('%s@%s' % (site_name, name), service)
            for name, service in startup._site_services(site, '*')]
