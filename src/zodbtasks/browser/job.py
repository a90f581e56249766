"""The page of one job: input, result, error, traceback (the transaction
manager's frames folded), timings, its retry policy and every attempt (a
cron job's runs), the schedule of a cron job, progress, its activity
options and what it waits for; and the actions on it."""
from zope.browserpage.viewpagetemplatefile import ViewPageTemplateFile
from zope.security.proxy import removeSecurityProxy
from zope.traversing.browser.absoluteurl import absoluteURL

from zodbtasks import activation
from zodbtasks import attempts
from zodbtasks import cancels
from zodbtasks import clock
from zodbtasks import interfaces
from zodbtasks.browser import format
from zodbtasks.browser import tracebacks
from zodbtasks.browser.jobs import ServiceView
from zodbtasks.job import CronJob


class JobView(ServiceView):
    """index.html of a job (traversed as ``<service>/<jobid>``)."""

    template = ViewPageTemplateFile('templates/job.pt')
    notice = None
    #: What the page's script redraws (zodbtasks.browser.live).
    live_regions = ('zt-job-info', 'zt-job-outcome', 'zt-job-actions')

    def live_base(self):
        return self.service_url

    def __call__(self, now=None):
        self.now = now
        self.drawn_at = clock.now() if now is None else now
        if self.request.form.get('unique') and self.request.method == 'GET':
            self.notice = ('A job with this unique key was already waiting, '
                           'so no new job was added: this is that job.')
        if self.request.method == 'POST' and self.check_post():
            self.message = self.act()
            if self.message == 'deleted':
                self.request.response.redirect(
                    '%s/@@jobs.html' % self.service_url)
                return ''
        return self.template()

    @property
    def job(self):
        return removeSecurityProxy(self.context)

    @property
    def service(self):
        return removeSecurityProxy(self.context.__parent__)

    @property
    def job_url(self):
        return absoluteURL(self.context, self.request)

    @property
    def service_url(self):
        return absoluteURL(self.context.__parent__, self.request)

    def act(self):
        form, jobid = self.request.form, self.job.id
        for action, method, done in (
                ('start', self.service.startJob, 'queued'),
                ('cancel', self.service.cancel, 'cancelled'),
                ('retry', self.service.retry, 'queued again'),
                ('delete', self.service.delete, 'deleted')):
            if action in form:
                running = self.job.status == interfaces.PROCESSING
                if method(jobid):
                    if action == 'cancel' and running:
                        return ('asked to stop: it ends cancelled at its '
                                'next checkpoint')
                    return done
                self.error = 'The job is %s: it cannot be %s.' % (
                    self.job.status, done)
                return None
        return None

    def is_cron(self):
        return isinstance(self.job, CronJob)

    def counts_runs(self):
        """Whether the job's attempts are runs: a repeating cron job runs
        on its schedule (a delayed one is retried like a plain job)."""
        return self.is_cron() and not self.job.isDelayed

    def traceback(self):
        """The traceback's parts (folded frames) and its full text, or
        None (see browser/tracebacks.py)."""
        return tracebacks.shown(self.job.traceback)

    def retry_policy(self):
        """The job's retry policy in words (None for a repeating cron
        job, which runs on its schedule whatever happens)."""
        if self.counts_runs():
            return None
        policy = self.job.retryPolicy
        delay = format.age(policy.delay) or '0 s'
        return {
            'max_attempts': policy.maxAttempts,
            'back_off': '%s before the first retry, doubling at each one '
                        '(×0.5 to ×1.5 jitter)' % delay
            if policy.maxAttempts > 1 else 'none: it runs once',
            'errors': 'retried' if policy.retryErrors
            else 'not retried: a failing task ends in error',
            'lost': 'run again' if policy.idempotent
            else 'not run again (not idempotent): ends in error',
        }

    def attempts(self):
        """Every attempt (a cron job's runs) the job keeps, newest first,
        as rows; ``omitted``: how many are not listed; ``known`` False
        when the job was stored before there was a history."""
        job = self.job
        running = job.status == interfaces.PROCESSING
        rows = [{
            'number': entry.number,
            'worker': entry.worker or '',
            'start': self.moment(entry.start),
            'end': self.moment(entry.end),
            'duration': format.age(entry.end - entry.start)
            if entry.end is not None and entry.start is not None
            and entry.end >= entry.start else '',
            'outcome': entry.outcome,
            'message': entry.message,
            'known': entry.known,
        } for entry in attempts.entries(job, running=running)]
        rows.reverse()
        return {'rows': rows, 'omitted': attempts.omitted(job),
                'known': all(row['known'] for row in rows)}

    def info(self):
        job = self.job
        progress = self.service.getProgress(job.id)
        return {
            'id': job.id,
            'task': job.task,
            'status': job.status,
            'input': format.value(job.input),
            'output': format.value(job.output),
            'error': format.error_text(job.error),
            'traceback': self.traceback(),
            'created': self.moment(job.created),
            'started': self.moment(job.started),
            'completed': self.moment(job.completed),
            'duration': format.duration(job),
            'attempts': job.attempts,
            'runs_label': 'Runs' if self.counts_runs() else 'Attempts',
            'runs': job.runs if self.counts_runs() else job.attempts,
            'owner': job.owner,
            'progress': progress,
            'percent': None if progress is None else int(progress[0] * 100),
            'over_time_limit': self._over_time_limit(),
        }

    def _call(self):
        """The object and method of an activation (``activate()``): its
        path, a link to it while it is located, the method."""
        job = removeSecurityProxy(self.job)
        if job.task != activation.METHOD_TASK \
                or not isinstance(job.input, activation.MethodCall):
            return None
        obj = job.input.obj
        path = activation.object_path(obj)
        url = None
        if path is not None:
            try:
                url = absoluteURL(obj, self.request)
            except TypeError:  # not locatable
                url = None
        return {'path': path or 'removed from its site', 'url': url,
                'method': job.input.method + '()'}

    def _over_time_limit(self):
        """'over its time limit of N s' for a running job past it."""
        job = self.job
        if job.status != interfaces.PROCESSING:
            return None
        task = self.service.getSiteManager().queryUtility(
            self.service.taskInterface, job.task)
        if not cancels.over_time_limit(job, task, self.drawn_at):
            return None
        return 'over its time limit of %g s' % cancels.time_limit(job, task)

    def schedule(self):
        job = self.job
        if not self.is_cron():
            return None
        return {
            'description': job.describeSchedule(),
            'cron': job.cron,
            'timezone': job.timezone or 'UTC',
            'fields': [(name, ', '.join(str(v) for v in getattr(job, name)))
                       for name in ('minute', 'hour', 'dayOfMonth', 'month',
                                    'dayOfWeek') if getattr(job, name)],
            'delay': job.delay,
            'runs': job.runs,
            'last_run': self.moment(job.completed),
            'next_run': self.moment(job.scheduledFor)
            if job.status in (interfaces.CRONJOB, interfaces.DELAYED)
            else None,
            'editable': job.status in (interfaces.CRONJOB,
                                       interfaces.DELAYED),
        }

    def can(self, action):
        status = self.job.status
        return {
            'start': status == interfaces.STARTLATER,
            'cancel': status in interfaces.WAITING
            or status == interfaces.PROCESSING,
            'retry': status in (interfaces.ERROR, interfaces.CANCELLED),
            'delete': status != interfaces.PROCESSING,
        }[action] and self.may_manage()

    def activity(self):
        """The job's activity options, what it waits for and what waits
        for it (text is escaped by the template)."""
        job, service = self.job, self.service
        return {
            'call': self._call(),
            'priority': job.priority,
            'added_by': job.runAs or 'system',
            'tags': ', '.join(job.tags) or 'none',
            'deadline': format.local_time(job.deadline) or 'none',
            'unique_key': job.uniqueKey or 'none',
            'serialization_tag': job.serializationTag or 'none',
            'group_key': job.groupKey or 'none',
            'on_dependency_failure': job.onDependencyFailure,
            'wait_reason': service.getWaitReason(job.id, now=self.now)
            or 'none: it does not wait',
            'after': [self.link(jobid) for jobid in job.after],
            'after_tag': ', '.join(job.afterTag),
            'after_task': ', '.join(job.afterTask),
            'dependents': [self.link(jobid)
                           for jobid in service.getDependents(job.id)],
            'group': self.group(),
        }

    def group(self):
        """"member k of" or "callback of" a group, its id and URL (no URL
        once the group was cleaned); None for a job of no group."""
        job = self.job
        if job.group is not None:
            gid, role = job.group, 'member %d of' % (job.groupIndex + 1)
        elif job.callbackOf is not None:
            gid, role = job.callbackOf, 'callback of'
        else:
            return None
        known = gid in (getattr(self.service, '_groups', None) or {})
        return {'role': role, 'id': gid,
                'url': '%s/@@group.html?id=%d' % (self.service_url, gid)
                if known else None}

    def link(self, jobid):
        """id, status and URL of job ``jobid`` (no URL when it is gone),
        and whether this job watches it."""
        other = self.service.jobs.get(jobid)
        return {
            'id': jobid,
            'status': other.status if other is not None else 'deleted',
            'url': '%s/%d' % (self.service_url, jobid)
            if other is not None else None,
            'watched': jobid == self.job.waitsOn,
        }
