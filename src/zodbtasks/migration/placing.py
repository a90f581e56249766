"""Storing a job made elsewhere, with its own id, status and times:
what ``add`` and ``addCronJob`` cannot do (they make the id and start
every job waiting).  Through the job-state layer (``zodbtasks.jobmaps``),
like every other change of a service's jobs; callers own the transaction.
"""
from zodbtasks.interfaces import FINISHED
from zodbtasks.jobmaps import JobMaps


def insert_job(service, job, ready=None, scheduled_for=None):
    """Store ``job`` (a new Job or CronJob whose ``id``, ``status``,
    ``created``, ``started`` and ``completed`` are set) in ``service``
    with every index entry its status has.

    A job in its waiting status (``queued``, or ``cronjob`` / ``delayed``
    for a cron job) joins the ready queue at its place by ``ready`` (the
    time it became ready, epoch seconds; jobs inserted with
    non-decreasing times keep their order), or with ``scheduled_for`` is
    scheduled for that time instead; a waiting cron job in the queue is
    scheduled by the next processor that sees it, from its ``now``.
    Other statuses wait nowhere (``startlater`` until ``startJob``).
    ValueError when the service has a job of that id.
    """
    maps = JobMaps(service)
    if job.id in maps.jobs:
        raise ValueError('%s already has a job %s' % (
            '/'.join(service.path) or repr(service), job.id))
    maps.insert(job, ready)
    if scheduled_for is not None and job.status == job.waiting_status:
        maps.unqueue(job)
        maps.schedule_at(job, scheduled_for)
    index = maps.index
    if job.started is not None:
        index.set_time(index.started, job.id, None, job.started)
    if job.status in FINISHED:
        maps.index_completed(job)
