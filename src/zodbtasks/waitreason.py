"""Why a job waits: one sentence for ``getWaitReason`` and the operator
views, from what the job-state layer knows.  Reads only; ``now`` is
passed in.
"""
from zodbtasks import clock
from zodbtasks import dependencies
from zodbtasks.interfaces import BLOCKED
from zodbtasks.interfaces import CRONJOB
from zodbtasks.interfaces import DELAYED
from zodbtasks.interfaces import QUEUED
from zodbtasks.interfaces import STARTLATER


def wait_reason(maps, job, now):
    """A sentence saying why ``job`` waits, or None when it does not."""
    holds = maps.holds
    if job.status == STARTLATER:
        return 'not started: it waits for startJob()'
    if job.status == CRONJOB:
        if job.scheduledFor is None:
            return 'cron job: its next run is set by the next processor'
        return 'cron job: next run at %s UTC' % clock.format_utc(
            job.scheduledFor)
    if job.status == DELAYED:
        when = job.scheduledFor
        return 'not before %s UTC' % clock.format_utc(when) \
            if when is not None else 'delayed'
    if job.status == BLOCKED:
        return blocked_reason(maps, job)
    if job.status != QUEUED:
        return None
    if job.scheduledFor is not None:
        return 'retried: not before %s UTC' % clock.format_utc(
            job.scheduledFor)
    if holds.paused():
        return 'the service is paused'
    if holds.paused(job.task):
        return 'task %r is paused' % job.task
    if dependencies.has_dependencies(job):
        verdict, _ = maps.deps.evaluate(job, update=False)
        if verdict == dependencies.WAITS:
            return blocked_reason(maps, job)
    gate = job.parkedOn
    if gate is not None and gate[0] == 'serial':
        holder = holds.serial_holder(gate[1])
        return 'serialized behind job %s (tag %r)' % (holder, gate[1])
    limited = limit_reason(maps, job, now)
    if limited is not None:
        return limited
    return 'ready: it waits for a free processor'


def blocked_reason(maps, job):
    """What a blocked job waits for, e.g. "waits for job 123
    (processing)" or "waits for 3 jobs tagged 'reindex'"."""
    verdict, detail = maps.deps.evaluate(job, update=False)
    if verdict != dependencies.WAITS:
        return 'blocked: its dependencies are being released'
    other, key = detail
    if key is None:
        left = len(job.after) - job.afterCursor
        more = ' and %d more' % (left - 1) if left > 1 else ''
        return 'waits for job %s (%s)%s' % (other.id, other.status, more)
    count = max(maps.deps.count_holders(key, job), 1)
    what = 'tagged %r' % key[1] if key[0] == 'tag' \
        else 'of task %r' % key[1]
    if count == 1:
        return 'waits for 1 job %s (job %s, %s)' % (what, other.id,
                                                     other.status)
    return 'waits for %d jobs %s' % (count, what)


def limit_reason(maps, job, now):
    """Why a job of a limited task is held back, or None."""
    holds = maps.holds
    controls = holds.peek_controls()
    state = holds.task_state(job.task)
    if controls is None or state is None:
        return None
    max_running, per_minute = controls.limit(job.task)
    if max_running is not None and len(state.running) >= max_running:
        return 'task %r runs its limit of %d at once' % (job.task,
                                                        max_running)
    if per_minute is not None:
        recent = state.started_within(now)
        if len(recent) >= per_minute:
            return ('task %r started its limit of %d jobs in the last '
                    'minute; the next may start at %s UTC' % (
                        job.task, per_minute,
                        clock.format_utc(min(recent) + 60)))
    return None


def chain(maps, job, now, depth=20):
    """The jobs behind ``job``: (id, task, status, reason) from the job
    down to the first job that does not wait for another one."""
    lines, seen = [], set()
    while job is not None and job.id not in seen and len(lines) < depth:
        seen.add(job.id)
        reason = wait_reason(maps, job, now)
        lines.append((job.id, job.task, job.status, reason))
        nxt = None
        if job.status in (BLOCKED, QUEUED) and \
                dependencies.has_dependencies(job):
            verdict, detail = maps.deps.evaluate(job, update=False)
            if verdict == dependencies.WAITS:
                nxt = detail[0]
        elif job.parkedOn is not None and job.parkedOn[0] == 'serial':
            holder = maps.holds.serial_holder(job.parkedOn[1])
            nxt = maps.jobs.get(holder) if holder is not None else None
        job = nxt
    return lines
