"""Jobs in Zope run as the user who added them, in the site they were
added in, with a request like theirs (IJobEnvironment for Zope).

When ``add()`` runs in a Zope request, the job records (in
``job.runContext``, see ``capture``):

- ``userFolder``: the physical path of the user folder that
  authenticated the user (``job.runAs`` holds the user's id);
- ``site``: the physical path of the current site (``getSite()``);
- ``serverURL``, ``virtualRoot`` (``VirtualRootPhysicalPath``),
  ``script`` (the path before a virtual root) and ``language``
  (``HTTP_ACCEPT_LANGUAGE``): what ``absolute_url()``, the virtual host
  and the negotiated language are made of.

When the job runs (``running``), a processor thread has no request, no
site and no security manager.  It makes a request with
``Testing.makerequest`` from those facts (so ``absolute_url()`` gives
the URLs the user saw, virtual host included), sets it as the global
request (``zope.globalrequest``), traverses to the site and fires the
``BeforeTraverseEvent`` that a real request fires there (this sets the
site, and Plone's browser layers), then opens a security manager for
the user found in the recorded user folder
(``AccessControl.SecurityManagement.newSecurityManager``).  So
``checkPermission``, ``restrictedTraverse``, views, ``absolute_url()``
and ``plone.api.portal.get()`` work inside tasks as they did in the
request.  A user who no longer exists ends the job in error
(``PrincipalGone``: "user ... no longer exists"): it never runs as
anybody else.  Afterwards everything is taken down again.

Design note: the request itself is never stored (it holds the response,
the body, cookies and credentials); only the facts above are, which are
small and harmless.  A job added outside a request (a script, a cron
job's run) records no request facts: it runs with a request for
``http://localhost`` (Zope's default), in the service's own site.
``runAs=None`` runs with no user (Zope's Anonymous User, which is what
unrestricted Python code of a script sees too).
"""
import contextlib
import urllib.parse

import zope.component.hooks
import zope.event
import zope.globalrequest
from AccessControl.SecurityManagement import getSecurityManager
from AccessControl.SecurityManagement import newSecurityManager
from AccessControl.SecurityManagement import noSecurityManager
from AccessControl.SecurityManagement import setSecurityManager
from AccessControl.SpecialUsers import system as system_user
from Acquisition import aq_base
from Acquisition import aq_chain
from Acquisition import aq_inner
from Acquisition import aq_parent
from Testing.makerequest import makerequest
from zope.traversing.interfaces import BeforeTraverseEvent

from zodbtasks import identity
from zodbtasks.identity import PrincipalGone
from zodbtasks.interfaces import CURRENT_PRINCIPAL
from zodbtasks.startup import ROOT_NAME

#: The longest request fact kept, and the most names of a path.
FACT_LIMIT = 500
PATH_LIMIT = 50


def capture(runAs, request=None, site=None, user=None):
    """``(runAs, runContext)`` of a job added now (see IJobEnvironment):
    the request, site and user default to the current ones."""
    if isinstance(runAs, identity.Identity):
        return runAs.principal, runAs.context
    facts = []
    if runAs is CURRENT_PRINCIPAL:
        principal, folder = current_user(user)
        if folder is not None:
            facts.append(('userFolder', folder))
    else:
        principal = identity.run_as(runAs)
    site = zope.component.hooks.getSite() if site is None else site
    path = physical_path(site)
    if path is not None:
        facts.append(('site', path))
    request = zope.globalrequest.getRequest() if request is None else request
    facts.extend(request_facts(request))
    return principal, tuple(facts) or None


def current_user(user=None):
    """``(user id, user folder path)`` of the security manager's user:
    ``(None, None)`` for Anonymous and for Zope's system user."""
    user = getSecurityManager().getUser() if user is None else user
    if user is None or aq_base(user) is aq_base(system_user):
        return None, None
    userid = user.getId()
    if not userid:  # Anonymous User (SpecialUsers.nobody)
        return None, None
    return userid, physical_path(aq_parent(aq_inner(user)))


def physical_path(obj):
    """The absolute physical path of an acquisition-wrapped object, as a
    tuple of strings, or None."""
    get = getattr(obj, 'getPhysicalPath', None)
    if get is None:
        return None
    path = tuple(get())
    return path if path and path[0] == '' else None


def request_facts(request):
    """The facts of a Zope request that a rebuilt one needs."""
    other = getattr(request, 'other', None)
    if not isinstance(other, dict):
        return []
    facts = []
    server_url = other.get('SERVER_URL')
    if server_url:
        facts.append(('serverURL', str(server_url)[:FACT_LIMIT]))
    root = other.get('VirtualRootPhysicalPath')
    if root:
        facts.append(('virtualRoot', _path(root)))
    script = getattr(request, '_script', None)
    if script:
        facts.append(('script', _path(script)))
    language = request.environ.get('HTTP_ACCEPT_LANGUAGE') \
        if isinstance(getattr(request, 'environ', None), dict) else None
    if language:
        facts.append(('language', str(language)[:FACT_LIMIT]))
    return facts


def _path(names):
    """A path of the request as a job stores it: at most PATH_LIMIT names
    of at most FACT_LIMIT characters (they come from the Host header and
    the URL, which the client chooses)."""
    return tuple(str(name)[:FACT_LIMIT] for name in list(names)[:PATH_LIMIT])


def make_request(app, facts):
    """``app`` wrapped in a new request made from ``facts`` (a dict)."""
    environ = {'REQUEST_METHOD': 'GET', 'SERVER_NAME': 'localhost',
               'SERVER_PORT': '80'}
    url = urllib.parse.urlsplit(facts.get('serverURL', ''))
    if url.hostname:
        default = '443' if url.scheme == 'https' else '80'
        environ.update(SERVER_NAME=url.hostname,
                       SERVER_PORT=str(url.port or default))
        if url.scheme == 'https':
            environ['HTTPS'] = 'on'
    if facts.get('language'):
        environ['HTTP_ACCEPT_LANGUAGE'] = facts['language']
    app = makerequest(app, environ=environ)
    request = app.REQUEST
    if url.hostname:
        request.setServerURL(url.scheme, url.hostname, url.port)
    if facts.get('virtualRoot'):
        request.other['VirtualRootPhysicalPath'] = facts['virtualRoot']
    request._script[:] = list(facts.get('script', ()))
    request._resetURLS()
    return app, request


def find_user(app, site, userid, folder_path):
    """The user ``userid`` of the user folder at ``folder_path`` (or, with
    None, of the first user folder from ``site`` up), wrapped in its user
    folder; raise PrincipalGone."""
    if folder_path is not None:
        folder = app.unrestrictedTraverse(folder_path, None)
        folders = [] if folder is None else [folder]
        where = '/'.join(folder_path)
    else:
        folders = [obj.acl_users for obj in aq_chain(site)
                   if getattr(aq_base(obj), 'acl_users', None) is not None]
        where = 'the user folders above %s' % '/'.join(
            site.getPhysicalPath())
    for folder in folders:
        user = folder.getUserById(userid)
        if user is not None:
            return user if aq_parent(user) is not None \
                else user.__of__(folder)
    raise PrincipalGone('user %r no longer exists (in %s)' % (userid, where))


def site_of(app, service, facts):
    """The site a job runs in: the recorded one, else the service's."""
    path = facts.get('site') or service.site_path()
    site = app.unrestrictedTraverse(path, None) if path else app
    if site is None:
        raise PrincipalGone('the site %s of the job no longer exists'
                            % '/'.join(path))
    return site


@contextlib.contextmanager
def running(service, job):
    """IJobEnvironment.jobEnvironment for Zope (see the module); yields
    the service wrapped in its site."""
    facts = dict(job.runContext or ())
    app = service._p_jar.root()[ROOT_NAME]
    app, request = make_request(app, facts)
    previous_site = zope.component.hooks.getSite()
    previous_manager = getSecurityManager()
    zope.globalrequest.setRequest(request)
    try:
        site = site_of(app, service, facts)
        zope.event.notify(BeforeTraverseEvent(site, request))
        if job.runAs is not None:
            user = find_user(app, site, job.runAs, facts.get('userFolder'))
            newSecurityManager(request, user)
        else:
            noSecurityManager()
        yield service.wrapped_in(app)
    finally:
        setSecurityManager(previous_manager)
        zope.component.hooks.setSite(previous_site)
        zope.globalrequest.clearRequest()
        request.close()
