"""The Plone views: the control panel, the "my jobs" viewlet, its JSON,
dismissing a failure and a job's page for its user."""
import json

from AccessControl import getSecurityManager
from plone.app.layout.viewlets.common import ViewletBase
from plone.protect import CheckAuthenticator
from Products.Five.browser import BrowserView
from Products.Five.browser.pagetemplatefile import ViewPageTemplateFile
from zExceptions import BadRequest
from zExceptions import NotFound
from zExceptions import Unauthorized
from zope.component.hooks import getSite

from zodbtasks import clock
from zodbtasks import interfaces
from zodbtasks.browser import format
from zodbtasks.browser import tracebacks
from zodbtasks.browser.jobs import status_counts
from zodbtasks.plone import SERVICE_ID
from zodbtasks.plone import myjobs

#: How often the viewlet asks for news, in milliseconds.
POLL_INTERVAL = 4000


def site_service(context=None):
    """The site's task service (acquisition-wrapped), or None."""
    site = getSite()
    service = getattr(site, SERVICE_ID, None) if site is not None else None
    return service if interfaces.ITaskService.providedBy(service) else None


def job_page_url(site, job):
    return '%s/@@zodbtasks-job?id=%d' % (site.absolute_url(), job.id)


class ControlPanel(BrowserView):
    """@@zodbtasks-controlpanel: the service's state and counts, start
    and stop processing in this process, pause and resume, and links to
    the ZMI tabs."""

    template = ViewPageTemplateFile('templates/controlpanel.pt')
    message = None

    ACTIONS = {
        'start': ('startProcessing', 'Processing started in this process.'),
        'stop': ('stopProcessing', 'Processing stopped in this process.'),
        'pause': ('pause', 'The service is paused: no new job starts.'),
        'resume': ('resume', 'The service is resumed.'),
    }

    def __call__(self):
        self.service = site_service()
        if self.request.method == 'POST' and self.service is not None:
            CheckAuthenticator(self.request)
            for name, (method, message) in self.ACTIONS.items():
                if self.request.form.get(name):
                    getattr(self.service, method)()
                    self.message = message
                    break
        return self.template()

    def counts(self):
        return status_counts(self.service)

    def tabs(self):
        url = self.service.absolute_url()
        return [{'title': title, 'url': '%s/%s' % (url, view)}
                for title, view in (
                    ('Jobs', '@@jobs.html'), ('Failures', '@@failures.html'),
                    ('Overview', '@@overview.html'),
                    ('Tasks', '@@tasks.html'),
                    ('Add job', '@@addJob.html'),
                    ('Add cron job', '@@addCronJob.html'),
                    ('Workers', '@@workers.html'))]

    def oldest_waiting(self):
        waited = self.service.oldestWaiting()
        return format.age(waited) if waited is not None else None


class MyJobsViewlet(ViewletBase):
    """The user's running jobs with their progress and their failures
    until dismissed; rendered here, then kept up to date by
    ``myjobs.js`` from ``@@zodbtasks-my-jobs``."""

    index = ViewPageTemplateFile('templates/myjobs.pt')
    poll_interval = POLL_INTERVAL

    def update(self):
        super().update()
        self.service = site_service()
        self.tag = myjobs.current_tag()
        self.state = None
        if self.service is not None and self.tag is not None:
            site = getSite()
            self.state = myjobs.my_jobs(
                site, self.service, self.tag,
                job_url=lambda job: job_page_url(site, job))

    def available(self):
        state = self.state
        return bool(state) and bool(state['running'] or state['queued']
                                    or state['failures'])

    def reload_on(self):
        """The job whose completion reloads this page (``?zodbtasks_job=``,
        set by actions that add one), or None."""
        value = self.request.form.get('zodbtasks_job', '')
        return int(value) if isinstance(value, str) and value.isdigit() \
            and len(value) < 20 else None

    def percent(self, job):
        return None if job['progress'] is None \
            else round(100 * job['progress'])

    def render(self):
        # The container is always there for the script (new jobs appear
        # without a reload); empty and hidden when there is nothing.
        if self.state is None:
            return ''
        return self.index()


class MyJobsJSON(BrowserView):
    """@@zodbtasks-my-jobs: the viewlet's data as JSON (``?since=`` the
    ``time`` of the previous answer lists the jobs completed since)."""

    def __call__(self):
        service, tag = site_service(), myjobs.current_tag()
        if service is None or tag is None:
            raise Unauthorized('log in to see your jobs')
        since = self.request.form.get('since')
        try:
            since = float(since) if since not in (None, '') else None
        except ValueError:
            raise BadRequest('since: expected a number of seconds, not %r'
                             % since[:40]) from None
        site = getSite()
        state = myjobs.my_jobs(site, service, tag, since,
                               job_url=lambda job: job_page_url(site, job))
        self.request.response.setHeader('Content-Type', 'application/json')
        self.request.response.setHeader('Cache-Control', 'no-store')
        return json.dumps(state)


class Dismiss(BrowserView):
    """@@zodbtasks-dismiss: a POST (with Plone's authenticator) that
    dismisses one of the user's failures."""

    def __call__(self):
        if self.request.method != 'POST':
            raise BadRequest('dismissing a failure needs a POST request')
        CheckAuthenticator(self.request)
        service, tag = site_service(), myjobs.current_tag()
        if service is None or tag is None:
            raise Unauthorized('log in to dismiss your failures')
        try:
            jobid = int(self.request.form.get('id', ''))
            myjobs.dismiss(getSite(), service, tag, jobid)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        came_from = self.request.form.get('came_from')
        if came_from and came_from.startswith(getSite().absolute_url()):
            self.request.response.redirect(came_from)
            return ''
        self.request.response.setHeader('Content-Type', 'application/json')
        return json.dumps({'dismissed': jobid})


class JobPage(BrowserView):
    """@@zodbtasks-job?id=N: one job for its user (and for those who may
    view every job): status, progress, result or error; the traceback
    for those who may manage jobs."""

    template = ViewPageTemplateFile('templates/job.pt')

    def __call__(self):
        self.service = site_service()
        try:
            jobid = int(self.request.form.get('id', ''))
        except ValueError:
            raise BadRequest('id: expected a job id') from None
        job = self.service.jobs.get(jobid) if self.service else None
        if job is None or not myjobs.may_see(self.service, job):
            raise NotFound('no job %s of yours' % jobid)
        self.job = job
        self.drawn_at = clock.now()
        return self.template()

    def info(self):
        job = self.job
        progress = self.service.getProgress(job.id)
        return {
            'id': job.id, 'task': job.task, 'status': job.status,
            'created': format.moment(job.created, self.drawn_at),
            'started': format.moment(job.started, self.drawn_at),
            'completed': format.moment(job.completed, self.drawn_at),
            'percent': None if progress is None
            else round(100 * progress[0]),
            'message': None if progress is None else progress[1],
            'result': format.value(job.output)
            if job.status == interfaces.COMPLETED else None,
            'error': format.error_text(job.error)
            if job.status == interfaces.ERROR else None,
        }

    def traceback(self):
        """The folded traceback (see browser/tracebacks.py) and its full
        text, for those who may manage jobs."""
        if not getSecurityManager().checkPermission(
                'zodbtasks: Manage jobs', self.service):
            return None
        return tracebacks.shown(self.job.traceback)

    def may_dismiss(self):
        tag = myjobs.current_tag()
        return self.job.status == interfaces.ERROR and tag in self.job.tags
