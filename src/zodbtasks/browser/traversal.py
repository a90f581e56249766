"""Traversing ``<service>/<jobid>`` to a located job."""
from zope.app.publication.traversers import SimpleComponentTraverser
from zope.location.location import LocationProxy
from zope.security.proxy import removeSecurityProxy


class TaskServiceTraverser(SimpleComponentTraverser):
    """Job ids traverse to the job (located in the service); other names
    to views, as usual."""

    def publishTraverse(self, request, name):
        if name.isdigit():
            jobs = removeSecurityProxy(self.context).jobs
            job = jobs.get(int(name))
            if job is not None:
                return LocationProxy(job, self.context, name)
        return super().publishTraverse(request, name)


def located_job(service, job):
    """``job`` located in ``service`` (for URLs)."""
    return LocationProxy(job, service, str(job.id))
