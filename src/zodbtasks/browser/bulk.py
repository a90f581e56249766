"""Bulk actions from the Jobs tab: ``@@bulk.html`` confirms an action on
every job matching a filter (naming the count), starts the bulk job
(``zodbtasks.bulk``) on a POST with the CSRF token, and shows that job's
progress (``?job=<id>``).

Its parameters are the Jobs tab's filter and search (``status``,
``task``, ``tag``, ``q``, ``id``, ``created_from`` ...) and ``action``
(cancel, retry, delete, requeue); other views link to it to offer an
action on what they show (a Failures group: ``error_group``).  A filter
with a bad value is refused: dropping the value would widen what the
action touches.
"""
from zope.browserpage.viewpagetemplatefile import ViewPageTemplateFile

from zodbtasks import bulk
from zodbtasks import clock
from zodbtasks import interfaces
from zodbtasks import search
from zodbtasks.browser import format
from zodbtasks.browser.jobs import JobsView
from zodbtasks.browser.jobs import ServiceView

#: How many of the matching jobs the confirmation shows.
PREVIEW = 10

#: action -> (button label, what it does to the matching jobs).
ACTIONS = {
    'cancel': ('Cancel', 'Waiting jobs are cancelled; running ones are '
               'asked to stop at their next checkpoint; finished ones are '
               'left as they are.'),
    'retry': ('Retry', 'Failed and cancelled jobs are queued again; the '
              'others are left as they are.'),
    'requeue': ('Run now', 'Start-later jobs and jobs delayed to a time (or '
                'waiting for a retry) are queued now; cron jobs keep their '
                'schedule; the others are left as they are.'),
    'delete': ('Delete', 'Every job that is not running is removed (with '
               'its result and error); running ones are left.'),
}


class BulkView(JobsView):
    """@@bulk.html"""

    template = ViewPageTemplateFile('templates/bulk.pt')
    chunk_size = bulk.CHUNK_SIZE
    #: A bulk job's page redraws its progress (zodbtasks.browser.live).
    live_regions = ('zt-bulk-live',)

    def live_url(self):
        return ServiceView.live_url(self)

    def __call__(self):
        form = self.request.form
        self.bulk_job = None
        if form.get('job'):
            self.bulk_job = self._bulk_job(form['job'])
            return self.template()
        errors = self.selector()[1] + self.filter_errors()
        if not errors:
            try:
                bulk.check_groups(self.selector()[0])
            except search.SelectorError as exc:
                errors.append('Error group: %s.'
                              % str(exc).split(': ', 1)[1])
        if not self.may_manage():
            self.refuse(403, 'You may view jobs but not manage them.')
        elif self.action() is None:
            self.refuse(400, 'Action: choose one of %s.'
                        % ', '.join(sorted(ACTIONS)))
        elif errors:
            self.refuse(400, ' '.join(errors) + ' Nothing was started: '
                        'correct the filter first.')
        elif self.request.method == 'POST' and 'confirm' in form \
                and self.check_post():
            jobid = bulk.startBulk(self.service, self.action(),
                                   self.selector()[0])
            self.request.response.redirect(
                '%s/@@bulk.html?job=%d' % (self.url, jobid), status=303)
            return ''
        return self.template()

    def filter_errors(self):
        """The filter values the Jobs tab drops silently (an unknown
        status, a value that is not text): refused here, since dropping
        one would widen what the action touches."""
        form, errors = self.request.form, []
        for name in ('status', 'task', 'tag'):
            value = form.get(name)
            if value in (None, ''):
                continue
            if not isinstance(value, str) or (
                    name == 'status' and value not in interfaces.STATUSES):
                errors.append('%s: %r is not a %s of this service.' % (
                    name.capitalize(), value, name))
        return errors

    def workers_alive(self, now=None):
        """How many workers (of any process) sent a heartbeat within the
        lease: they run the bulk job when processing does not run here."""
        now = clock.now() if now is None else now
        service = self.service
        return sum(1 for record in service._maps().workers.values()
                   if record.alive(now, service.leaseTimeout))

    def action(self):
        action = self.request.form.get('action')
        return action if action in ACTIONS else None

    def _bulk_job(self, text):
        job = self.service.jobs.get(int(text)) if str(text).isdigit() \
            else None
        if job is None or job.task != bulk.BULK_TASK:
            self.refuse(404, 'Job: %s is not a bulk job of this service.'
                        % text)
            return None
        return job

    # -- the confirmation -------------------------------------------------

    def confirmation(self):
        """{'label', 'count', 'question', 'effect', 'filter'} of the action
        asked for."""
        action, selector = self.action(), self.selector()[0]
        matching = bulk.countMatching(self.service, selector)
        label, effect = ACTIONS[action]
        count = '{:,}'.format(matching.count)
        if not matching.exact:
            count = 'more than %s' % count
        described = search.describe(selector)
        return {
            'label': label, 'count': matching.count, 'exact': matching.exact,
            'question': '%s %s %s matching: %s?' % (
                label, count, 'job' if count == '1' else 'jobs', described),
            'effect': effect, 'filter': described,
        }

    def preview(self):
        """The first PREVIEW jobs the action would touch (newest first),
        as rows: what an operator checks before confirming."""
        selector = self.selector()[0]
        if not search.is_search(selector):
            _, jobs = self.service.queryJobs(
                status=selector.get('status'), task=selector.get('task'),
                tag=selector.get('tag'), size=PREVIEW)
        else:
            ids, _ = search.Search(
                self.service, selector, budget=search.INDEX_BUDGET,
                job_budget=search.JOB_BUDGET).collect(PREVIEW)
            jobs = [self.service.jobs[jobid] for jobid in ids]
        return [{'id': job.id, 'url': '%s/%d' % (self.url, job.id),
                 'task': job.task, 'status': job.status,
                 'created': format.local_time(job.created)
                 if job.created is not None else '',
                 'input': format.short(job.input)} for job in jobs]

    def back_link(self):
        return self.link()

    # -- the bulk job -------------------------------------------------------

    def job_info(self):
        job = self.bulk_job
        progress = self.service.getProgress(job.id)
        output = job.output if isinstance(job.output, dict) else {}
        message = output.get('message') or (progress[1] if progress else None)
        finished = job.status in interfaces.FINISHED
        return {
            'id': job.id, 'url': '%s/%d' % (self.url, job.id),
            'status': job.status,
            'action': ACTIONS.get(job.input.get('action'), ('?',))[0],
            'filter': search.describe(job.input.get('selector', {})),
            'expected': '{:,}{}'.format(job.input.get('expected', 0), '' if
                                        job.input.get('exact', True)
                                        else '+'),
            'percent': 100 if job.status == interfaces.COMPLETED else
            int(progress[0] * 100) if progress else 0,
            'message': message, 'error': job.error,
            'finished': finished,
            'created': format.local_time(job.created)
            if job.created is not None else '',
            'waits': not finished and job.status != interfaces.PROCESSING,
        }
