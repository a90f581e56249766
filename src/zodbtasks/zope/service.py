"""The task service of a Zope 6 site: a TaskService that is also a Zope
object (``OFS.SimpleItem``), added from the ZMI to a site (a folder with
a local component registry, or a Plone site) and registered there as the
ITaskService utility named by its id.

Its ZMI tabs are the views of ``zodbtasks.browser`` in the Zope ZMI's
look (``zodbtasks.zope.views``).  Its jobs run as the user who added
them, in their site, with a request like theirs
(``zodbtasks.zope.environment``).

Where it lives: ``_zope_path`` (its physical path) and ``__parent__`` (its
site, unwrapped) are kept up to date by ``moved`` on every add, rename,
move and copy, and its registration moves with it: a processor thread
loads the service by its oid, without acquisition, and finds its site
manager and its place through them.
"""
from AccessControl.class_init import InitializeClass
from AccessControl.SecurityInfo import ClassSecurityInfo
from Acquisition import aq_base
from Acquisition import aq_inner
from ComputedAttribute import ComputedAttribute
from OFS.SimpleItem import SimpleItem
from Products.PageTemplates.PageTemplateFile import PageTemplateFile
from zExceptions import BadRequest
from zope.component.interfaces import ISite
import zope.interface

from zodbtasks import processor
from zodbtasks.identity import Identity
from zodbtasks.interfaces import CURRENT_PRINCIPAL
from zodbtasks.options import MAX_TAG
from zodbtasks.browser import csrf
from zodbtasks.interfaces import ITaskService
from zodbtasks.service import TaskService
from zodbtasks.zope import environment

#: The Zope permission that protects adding a task service.
ADD_PERMISSION = 'zodbtasks: Add task service'


class IZopeTaskService(ITaskService):
    """A task service that is a Zope object (see the module)."""


@zope.interface.implementer(IZopeTaskService)
class ZopeTaskService(TaskService, SimpleItem):
    """See IZopeTaskService."""

    meta_type = 'Task Service'
    zmi_icon = 'fas fa-tasks'
    _zope_path = None

    manage_options = (
        {'label': 'Jobs', 'action': '@@jobs.html'},
        {'label': 'Failures', 'action': '@@failures.html'},
        {'label': 'Overview', 'action': '@@overview.html'},
        {'label': 'Tasks', 'action': '@@tasks.html'},
        {'label': 'Groups', 'action': '@@groups.html'},
        {'label': 'Add job', 'action': '@@addJob.html'},
        {'label': 'Add cron job', 'action': '@@addCronJob.html'},
        {'label': 'Workers', 'action': '@@workers.html'},
    ) + SimpleItem.manage_options

    security = ClassSecurityInfo()
    security.declareObjectProtected('zodbtasks: View jobs')

    def __init__(self, id, title=''):
        super().__init__()
        self.id = id
        self.title = title

    # The object's name is its id (OFS), not zope.container's attribute.
    __name__ = ComputedAttribute(lambda self: self.id)

    def __bool__(self):
        return True  # an empty service is still there (len() is 0)

    def __repr__(self):
        return '<%s at %s>' % (type(self).__name__,
                               '/'.join(self._zope_path or (self.id,)))

    def index_html(self, REQUEST=None):
        """The Jobs tab."""
        if REQUEST is not None:
            REQUEST.RESPONSE.redirect(self.absolute_url() + '/@@jobs.html')
        return ''

    # -- where it lives ----------------------------------------------------

    def site_path(self):
        """The physical path of the site it is registered in, or None."""
        return self._zope_path[:-1] if self._zope_path else None

    def wrapped_in(self, app):
        """This service in the acquisition context of ``app`` (an
        application wrapped in a request): traversed by its path."""
        if self._zope_path:
            found = app.unrestrictedTraverse(self._zope_path, None)
            if found is not None and aq_base(found) is aq_base(self):
                return found
        return aq_base(self).__of__(app)

    # -- adding jobs ----------------------------------------------------------

    def add(self, task, input=None, startLater=False, *, tag=(),
            runAs=CURRENT_PRINCIPAL, **options):
        """See ITaskService.  A job that runs as a user also gets the tag
        ``owner_tag(...)`` of that user, by which "my jobs" are found
        (the Plone viewlet, ``@jobs``) and the Jobs tab filters."""
        principal, context = self.captureIdentity(runAs)
        if principal is not None:
            tag = (tag,) if isinstance(tag, str) else tuple(tag or ())
            tag += (owner_tag(principal, context),)
        return super().add(task, input, startLater, tag=tag,
                           runAs=Identity(principal, context), **options)

    # -- IJobEnvironment -------------------------------------------------------

    def captureIdentity(self, runAs):
        """See IJobEnvironment (in Zope: zodbtasks.zope.environment)."""
        return environment.capture(runAs)

    def jobEnvironment(self, job):
        """See IJobEnvironment (in Zope: zodbtasks.zope.environment)."""
        return environment.running(self, job)


InitializeClass(ZopeTaskService)


def owner_tag(userid, context=None):
    """The tag of the jobs of the user ``userid`` of the user folder that
    ``context`` (a job's runContext) names: ``by:alice@/Plone/acl_users``
    (``by:alice`` without a recorded user folder)."""
    folder = dict(context or ()).get('userFolder')
    tag = 'by:%s' % userid
    if folder:
        tag += '@' + '/'.join(folder)
    return tag[:MAX_TAG]


def site_of(container):
    """The site a service added to ``container`` is registered in: the
    container itself, which must be a site."""
    if not ISite.providedBy(aq_inner(container)):
        raise BadRequest(
            '%s is not a site (it has no component registry of its own), '
            'so a task service cannot be registered in it: add the service '
            'to a site, or make this folder one first (five.localsitemanager'
            "'s make_objectmanager_site, or the Components tab)"
            % '/'.join(container.getPhysicalPath()))
    return container


def moved(service, event):
    """Keep the registration, ``_zope_path`` and ``__parent__`` of a Zope
    task service with it when it is added, renamed, moved, copied or
    removed (an IObjectMovedEvent subscriber)."""
    if event.oldParent is not None and event.oldName:
        old = event.oldParent
        if ISite.providedBy(aq_inner(old)):
            sm = old.getSiteManager()
            if aq_base(sm.queryUtility(ITaskService, event.oldName)) \
                    is aq_base(service):
                sm.unregisterUtility(provided=ITaskService,
                                     name=event.oldName)
    if event.newParent is None:
        if service._p_jar is not None and service._p_oid is not None:
            processor.stop(service)
        service._zope_path = None
        return
    site = site_of(event.newParent)
    sm = site.getSiteManager()
    taken = sm.queryUtility(ITaskService, event.newName)
    if taken is not None and aq_base(taken) is not aq_base(service):
        raise BadRequest('a task service named %r is already registered in '
                         '%s' % (event.newName,
                                 '/'.join(site.getPhysicalPath())))
    base = aq_base(service)
    base.__parent__ = aq_base(site)
    sm.registerUtility(base, ITaskService, name=event.newName)
    base._zope_path = tuple(site.getPhysicalPath()) + (event.newName,)


# -- adding one from the ZMI ----------------------------------------------------

_add_form = PageTemplateFile('templates/add.pt', globals())


def manage_addTaskServiceForm(dispatcher, REQUEST=None):
    """The ZMI form that adds a task service."""
    container = dispatcher.Destination()
    return _add_form.__of__(dispatcher)(
        csrf_field=csrf.FIELD, csrf_token=csrf.token(container, REQUEST),
        is_site=ISite.providedBy(aq_inner(container)))


def manage_addTaskService(dispatcher, id, title='', REQUEST=None):
    """Add a task service with ``id`` to the site the ZMI shows, and
    register it there as the ITaskService utility named ``id``."""
    container = dispatcher.Destination()
    if REQUEST is not None:
        if REQUEST.get('REQUEST_METHOD') != 'POST':
            raise BadRequest('adding a task service needs a POST request')
        try:
            csrf.check(container, REQUEST)
        except csrf.CSRFError as exc:
            raise BadRequest(str(exc)) from None
    id = (id or '').strip()
    if not id:
        raise BadRequest('the task service needs an id')
    site_of(container)
    container._setObject(id, ZopeTaskService(id, title))
    if REQUEST is not None:
        REQUEST.RESPONSE.redirect(container.absolute_url() + '/manage_main')
    return id
