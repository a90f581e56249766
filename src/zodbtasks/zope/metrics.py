"""``@@metrics`` in Zope 6: the views of ``zodbtasks.browser.metrics``
with Zope's security (the permission "zodbtasks: View metrics", given
to Manager by default; in Plone to Site Administrator too), for a task
service, a site (its services) and the application root (every service
of its sites, or those ``?service=SITE@NAME`` names)."""
from AccessControl import getSecurityManager
from Acquisition import aq_base
from OFS.interfaces import IApplication

from zodbtasks.browser.metrics import PERMISSION_TITLE
from zodbtasks.browser.metrics import MetricsView
from zodbtasks.browser.metrics import site_services


class ZopeChecks:
    """Permissions and users of Zope."""

    def may_view(self):
        return bool(getSecurityManager().checkPermission(PERMISSION_TITLE,
                                                         self.context))

    def anonymous(self):
        user = getSecurityManager().getUser()
        return user is None or user.getId() is None


class ServiceMetrics(ZopeChecks, MetricsView):
    """@@metrics of a task service."""

    def services(self):
        service = aq_base(self.context)
        return [(label_of(self.context), service)]


class SiteMetrics(ZopeChecks, MetricsView):
    """@@metrics of a site, or of the application root."""

    def services(self):
        site = self.context
        return site_services(site, IApplication.providedBy(site),
                             self.request.form.get('service'))


def label_of(service):
    """``SITE@NAME``: the id of the site holding the service (empty for
    the application root), and the service's id."""
    path = service.site_path()
    site = path[-1] if path and len(path) > 1 else ''
    return '%s@%s' % (site, service.getId())
