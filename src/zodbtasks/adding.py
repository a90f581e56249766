"""Adding a job: the checked options of ``add`` and ``addCronJob`` turned
into a stored job that waits where it must (queued, delayed, started
later, blocked behind its dependencies, or cancelled at once when one of
them failed and it was told to cancel).  Callers own the transaction.
"""
from zodbtasks import dependencies
from zodbtasks.interfaces import DELAYED
from zodbtasks.interfaces import FINISHED
from zodbtasks.interfaces import STARTLATER
from zodbtasks.job import Job


def check_after(maps, after):
    """Refuse ids in ``after`` that name no job (LookupError)."""
    for jobid in after:
        if jobid not in maps.jobs:
            raise LookupError('after: there is no job %s in this service'
                              % jobid)


def add_job(maps, task, input, start_later, settings, start, unique_key,
            retry_policy, now):
    """Store a new job with ``settings`` (see options.job_options); return
    its id."""
    check_after(maps, settings.get('after', ()))
    job = Job(maps.new_id(now), task, input, created=now)
    for name, value in settings.items():
        setattr(job, name, value)
    if retry_policy is not None:
        job.retryPolicy = retry_policy
    if unique_key is not None:
        job.uniqueKey = unique_key
    verdict = detail = None
    if start_later:
        job.status = STARTLATER
    elif start is not None and start > now:
        job.status = DELAYED
    elif dependencies.has_dependencies(job):
        verdict, detail = maps.place_new(job, now)
    maps.insert(job, now)
    if job.status == DELAYED:
        maps.schedule_at(job, start)
    elif verdict == dependencies.WAITS:
        maps.deps.watch(job, detail[0])
    elif job.status in FINISHED:
        maps.index_completed(job)
    if unique_key is not None and job.status not in FINISHED:
        maps.hold_unique(job)
    return job.id


def apply_cron_options(job, settings):
    """The options a cron job takes: priority, tags, serializationTag."""
    for name in ('priority', 'tags', 'serializationTag'):
        if name in settings:
            setattr(job, name, settings[name])
    refused = sorted(set(settings) - {'priority', 'tags',
                                       'serializationTag'})
    if refused:
        raise ValueError('addCronJob does not take %s' % ', '.join(refused))

