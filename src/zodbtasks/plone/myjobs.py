"""What a Plone user sees of their own jobs: the jobs that carry their
owner tag (``zodbtasks.zope.service.owner_tag``), the failures they did
not dismiss yet, and the jobs that completed since they last looked.

Dismissed failures are kept per user in an annotation of the site
(``DISMISSED``: an OOBTree of owner tag -> LLTreeSet of job ids), pruned
to the failures that still exist whenever one is dismissed.
"""
from AccessControl import getSecurityManager
from BTrees.LLBTree import LLTreeSet
from BTrees.OOBTree import OOBTree
from zope.annotation.interfaces import IAnnotations

from zodbtasks.interfaces import COMPLETED
from zodbtasks.interfaces import ERROR
from zodbtasks.interfaces import PROCESSING
from zodbtasks.interfaces import QUEUED
from zodbtasks.zope import environment
from zodbtasks.zope.service import owner_tag

#: Where dismissed failures are kept (an annotation of the site).
DISMISSED = 'zodbtasks.dismissed'
#: The most jobs of each kind one answer lists.
SHOWN = 20


def current_tag():
    """The owner tag of the current user, or None (Anonymous)."""
    userid, folder = environment.current_user()
    if userid is None:
        return None
    return owner_tag(userid, (('userFolder', folder),) if folder else ())


def may_see(service, job, tag=None):
    """Whether the current user may see ``job``: theirs (with
    ``zodbtasks: View own jobs``), or anybody's with ``zodbtasks: View
    jobs``."""
    security = getSecurityManager()
    if security.checkPermission('zodbtasks: View jobs', service):
        return True
    tag = current_tag() if tag is None else tag
    return tag is not None and tag in job.tags and bool(
        security.checkPermission('zodbtasks: View own jobs', service))


def dismissed(site, tag):
    """The ids of the failures the user of ``tag`` dismissed."""
    found = IAnnotations(site).get(DISMISSED)
    return found.get(tag, ()) if found is not None else ()


def dismiss(site, service, tag, jobid):
    """Dismiss the failure ``jobid`` of the user of ``tag``; ValueError
    when it is not one of theirs."""
    job = service.jobs.get(jobid)
    if job is None or tag not in job.tags or job.status != ERROR:
        raise ValueError('job %s is not one of your failures' % jobid)
    annotations = IAnnotations(site)
    if DISMISSED not in annotations:
        annotations[DISMISSED] = OOBTree()
    kept = annotations[DISMISSED].get(tag)
    if kept is None:
        kept = annotations[DISMISSED][tag] = LLTreeSet()
    for old in list(kept):
        if old not in service.jobs:
            kept.remove(old)
    kept.add(jobid)


def summary(service, job, url):
    """What the viewlet and ``@jobs`` show of one job."""
    progress = service.getProgress(job.id)
    return {
        'id': job.id, 'task': job.task, 'status': job.status,
        'url': url,
        'progress': None if progress is None else round(progress[0], 4),
        'message': None if progress is None else progress[1],
        'created': job.created, 'started': job.started,
        'completed': job.completed,
        'error': job.error if job.status == ERROR else None,
    }


def my_jobs(site, service, tag, since=None, job_url=None):
    """The user's view of their jobs: ``running`` (queued and running,
    newest first), ``failures`` (not dismissed), ``completed`` (since
    ``since``, epoch seconds; none without it) and the ``time`` of the
    answer's newest completion, for the next ``since``."""
    job_url = job_url or (lambda job: None)

    def jobs(status, sort='id'):
        return service.queryJobs(status=status, tag=tag, sortOn=sort,
                                 size=SHOWN)

    running_total, running = jobs(PROCESSING)
    queued_total, queued = jobs(QUEUED)
    gone = set(dismissed(site, tag))
    _, failed = jobs(ERROR)
    failures = [job for job in failed if job.id not in gone]
    _, done = jobs(COMPLETED, 'completed')
    completed = [job for job in done if since is not None
                 and job.completed is not None and job.completed > since]
    newest = max([job.completed for job in done if job.completed] or
                 [since or 0.0])
    return {
        'running': [summary(service, j, job_url(j)) for j in running],
        'queued': [summary(service, j, job_url(j)) for j in queued],
        'failures': [summary(service, j, job_url(j)) for j in failures],
        'completed': [summary(service, j, job_url(j)) for j in completed],
        'counts': {'running': running_total, 'queued': queued_total,
                   'failures': len(failures)},
        'time': newest,
    }
