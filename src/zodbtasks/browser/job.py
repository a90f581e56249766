"""The page of one job: input, result, error, traceback, timings, the
schedule of a cron job, progress; and the actions on it."""
from zope.browserpage.viewpagetemplatefile import ViewPageTemplateFile
from zope.security.proxy import removeSecurityProxy
from zope.traversing.browser.absoluteurl import absoluteURL

from zodbtasks import interfaces
from zodbtasks.browser import format
from zodbtasks.browser.jobs import ServiceView
from zodbtasks.job import CronJob


class JobView(ServiceView):
    """index.html of a job (traversed as ``<service>/<jobid>``)."""

    template = ViewPageTemplateFile('templates/job.pt')

    def __call__(self):
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
                if method(jobid):
                    return done
                self.error = 'The job is %s: it cannot be %s.' % (
                    self.job.status, done)
                return None
        return None

    def is_cron(self):
        return isinstance(self.job, CronJob)

    def info(self):
        job = self.job
        progress = self.service.getProgress(job.id)
        return {
            'id': job.id,
            'task': job.task,
            'status': job.status,
            'input': format.value(job.input),
            'output': format.value(job.output),
            'error': job.error,
            'traceback': job.traceback,
            'created': format.when(job.created),
            'started': format.when(job.started),
            'completed': format.when(job.completed),
            'duration': format.duration(job),
            'attempts': job.attempts,
            'owner': job.owner,
            'progress': progress,
            'percent': None if progress is None else int(progress[0] * 100),
        }

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
            'last_run': format.when(job.completed),
            'next_run': format.when(job.scheduledFor)
            if job.status in (interfaces.CRONJOB, interfaces.DELAYED)
            else '',
            'editable': job.status in (interfaces.CRONJOB,
                                       interfaces.DELAYED),
        }

    def can(self, action):
        status = self.job.status
        return {
            'start': status == interfaces.STARTLATER,
            'cancel': status in (interfaces.QUEUED, interfaces.DELAYED,
                                 interfaces.CRONJOB, interfaces.STARTLATER),
            'retry': status in (interfaces.ERROR, interfaces.CANCELLED),
            'delete': status != interfaces.PROCESSING,
        }[action] and self.may_manage()
