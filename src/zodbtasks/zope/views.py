"""The ZMI tabs of a Zope task service: the views of
``zodbtasks.browser`` (same code, same templates), rendered by Zope's
page-template engine in the Zope ZMI's look.

``zope_view(cls)`` makes the Zope variant of a view class: its templates
(``zope.browserpage`` ones) become ``Products.Five`` ones of the same
files, and it learns which object draws the ZMI header and tabs
(``zmi_context``: the service, also on a job's page).  The templates use
``context/@@standard_macros/view``; in Zope that is ``ZMIMacros``, whose
``page`` macro is the ZMI's header, tabs and footer around the view's
``style_slot`` and ``body``.
"""
from Products.Five.browser.pagetemplatefile import ViewPageTemplateFile
from Products.Five.skin.standardmacros import StandardMacros
from ZPublisher.BaseRequest import DefaultPublishTraverse
from zExceptions import NotFound
from zope.browserpage.viewpagetemplatefile import \
    ViewPageTemplateFile as ToolkitTemplateFile

from zodbtasks.browser import bulk
from zodbtasks.browser import cronjob
from zodbtasks.browser import failures
from zodbtasks.browser import groups
from zodbtasks.browser import job
from zodbtasks.browser import jobs
from zodbtasks.browser import live
from zodbtasks.browser import overview
from zodbtasks.browser import tasks
from zodbtasks.browser import workers
from zodbtasks.browser.traversal import located_job


class ZMIView:
    """What the ZMI page macro asks of a view."""

    @property
    def zmi_context(self):
        """The object whose ZMI header and tabs the page shows: the
        context, or for a job the service it is in."""
        obj = self.context
        while obj is not None:
            if getattr(obj, 'manage_page_header', None) is not None:
                return obj
            obj = getattr(obj, '__parent__', None)
        return None


def zope_view(cls):
    """The Zope variant of the view class ``cls`` (see the module)."""
    attrs = {'__doc__': cls.__doc__, '__module__': __name__}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            if isinstance(value, ToolkitTemplateFile):
                attrs[name] = ViewPageTemplateFile(value.filename)
    return type(cls.__name__, (ZMIView, cls), attrs)


JobsView = zope_view(jobs.JobsView)
OverviewView = zope_view(overview.OverviewView)
GroupsView = zope_view(groups.GroupsView)
GroupView = zope_view(groups.GroupView)
AddJob = zope_view(cronjob.AddJob)
AddCronJob = zope_view(cronjob.AddCronJob)
EditCronJob = zope_view(cronjob.EditCronJob)
JobView = zope_view(job.JobView)
WorkersView = zope_view(workers.WorkersView)
TasksView = zope_view(tasks.TasksView)
JobsJSON = zope_view(live.JobsJSON)
FailuresView = zope_view(failures.FailuresView)
BulkView = zope_view(bulk.BulkView)


class ZMIMacros(StandardMacros):
    """``@@standard_macros`` of task services and their jobs in Zope."""

    macro_pages = ('zodbtasks-zmi-macros',)


class ServiceTraverser(DefaultPublishTraverse):
    """``<service>/<job id>`` is the job, located in the service (its
    views are the job's page and the cron job's edit form); other names
    traverse as usual."""

    def publishTraverse(self, request, name):
        if name.isdigit():
            found = self.context.jobs.get(int(name))
            if found is None:
                raise NotFound('no job %s in this task service' % name)
            return located_job(self.context, found)
        return super().publishTraverse(request, name)
