"""The Jobs tab: list, sort, filter and page jobs, and act on them."""
import urllib.parse

import zope.component
from zope.publisher.browser import BrowserView
from zope.browserpage.viewpagetemplatefile import ViewPageTemplateFile
from zope.security import checkPermission
from zope.security.proxy import removeSecurityProxy
from zope.traversing.browser.absoluteurl import absoluteURL

from zodbtasks import bulk
from zodbtasks import clock
from zodbtasks import interfaces
from zodbtasks import search
from zodbtasks.browser import csrf
from zodbtasks.browser import search as searching
from zodbtasks.browser import format
from zodbtasks.browser.traversal import located_job
from zodbtasks.interfaces import SORT_KEYS

DEFAULT_SIZE = 50
#: How often the page's script asks for news, in milliseconds.
LIVE_INTERVAL = 3000
MAX_SIZE = 500
#: The most known tags the tag filter offers (any tag can be typed).
TAG_CHOICES = 200
COLUMNS = (('id', 'Id'), ('task', 'Task'), ('status', 'Status'),
           ('created', 'Created'), ('started', 'Started'),
           ('completed', 'Finished'))


class ServiceView(BrowserView):
    """What every view of a task service needs."""

    message = None
    error = None
    #: The time the page is drawn at (epoch seconds): passed to
    #: ``__call__`` or read once by ``moment``.
    drawn_at = None
    style_macros = ViewPageTemplateFile('templates/style.pt')

    def moment(self, epoch):
        """A time as a ``<time>`` element shows it (format.moment)."""
        if self.drawn_at is None:
            self.drawn_at = clock.now()
        return format.moment(epoch, self.drawn_at)

    @property
    def service(self):
        return removeSecurityProxy(self.context)

    @property
    def url(self):
        return absoluteURL(self.context, self.request)

    def csrf_token(self):
        return csrf.token(self.context, self.request)

    def csrf_field(self):
        return csrf.FIELD

    def processing(self):
        return self.service.isProcessing()

    def may_manage(self):
        return checkPermission('zodbtasks.ManageJobs', self.context)

    def refuse(self, status, message):
        self.request.response.setStatus(status)
        self.error = message

    # -- live updates (zodbtasks.browser.live) ---------------------------

    live_macros = ViewPageTemplateFile('templates/live.pt')
    live_interval = LIVE_INTERVAL
    #: Ids of the page's parts the script redraws from the page itself
    #: when the database changed (the Jobs tab redraws its rows instead).
    live_regions = ()

    def live_base(self):
        """The URL of the service whose data and script the page uses."""
        return self.url

    def live_url(self):
        """Where the page's script asks whether anything changed."""
        return '%s/@@jobs.json?summary=1' % self.live_base()

    def live_change(self):
        """The change marker the page was drawn with."""
        return change_marker(self.service)

    def check_post(self):
        """Whether a POST may act: CSRF token and permission checked."""
        try:
            csrf.check(self.context, self.request)
        except csrf.CSRFError as exc:
            self.refuse(403, str(exc))
            return False
        if not self.may_manage():
            self.refuse(403, 'You may view jobs but not manage them.')
            return False
        return True


class JobsView(ServiceView):
    """@@jobs.html"""

    template = ViewPageTemplateFile('templates/jobs.pt')
    columns = [{'key': key, 'label': label} for key, label in COLUMNS]
    statuses = interfaces.STATUSES
    finished = interfaces.FINISHED

    def __call__(self, now=None):
        self.drawn_at = now
        if self.request.method == 'POST' and self.check_post():
            self.message = self.act()
        errors = self.selector()[1]
        if errors and self.error is None:
            self.error = ' '.join(errors)
        return self.template()

    # -- actions ---------------------------------------------------------

    def selected(self):
        ids = self.request.form.get('ids', [])
        ids = [ids] if isinstance(ids, str) else ids
        return [int(i) for i in ids if str(i).isdigit()
                and int(i) in self.service.jobs]

    def act(self):
        form, service = self.request.form, self.service
        if form.get('all_matching'):
            for action in bulk.ACTIONS:
                if action in form:
                    self.request.response.redirect(
                        self.bulk_link(action), status=303)
                    return None
        if 'start' in form:
            service.startProcessing()
            return 'Processing started in this process.'
        if 'stop' in form:
            service.stopProcessing()
            return 'Processing stops after the current job.'
        for action, method, done in (('cancel', service.cancel, 'cancelled'),
                                     ('retry', service.retry, 'queued again'),
                                     ('delete', service.delete, 'deleted')):
            if action in form:
                ids = self.selected()
                running = {jobid for jobid in ids if jobid in service.jobs
                           and service.jobs[jobid].status == interfaces.PROCESSING}
                count = sum(1 for jobid in ids if method(jobid))
                if action == 'cancel' and running:
                    return ('%d of %d selected jobs cancelled (%d running '
                            'ones asked to stop at their next checkpoint).'
                            % (count, len(ids), len(running)))
                return '%d of %d selected jobs %s.' % (count, len(ids), done)
        if 'requeue' in form:
            ids, now = self.selected(), clock.now()
            count = sum(1 for jobid in ids
                        if bulk.ACTIONS['requeue'][0](service, jobid, now))
            return '%d of %d selected jobs queued to run now.' % (
                count, len(ids))
        if 'cancelAll' in form:
            return '%d jobs cancelled.' % service.cancelAll()
        if 'clean' in form:
            return self.clean()
        return None

    def cancel_all_label(self):
        """The "Cancel all waiting" button says what cancelAll() cancels:
        every waiting job, cron jobs included."""
        counts = self.service.countByStatus()
        waiting = sum(counts[status] for status in interfaces.WAITING)
        return 'Cancel all {:,} waiting (cron jobs included: {:,})'.format(
            waiting, counts[interfaces.CRONJOB])

    def filter_fields(self):
        """Hidden fields that carry the page's filter and search into a
        form: [{'name', 'value'}]."""
        p = self.params()
        return [{'name': name, 'value': p[name]}
                for name in ('status', 'task', 'tag') + searching.NAMES
                if p.get(name)]

    def bulk_link(self, action):
        """The confirmation page of ``action`` on every job matching the
        page's filter."""
        query = [('action', action)] + [
            (field['name'], field['value']) for field in self.filter_fields()]
        return '%s/@@bulk.html?%s' % (self.url,
                                      urllib.parse.urlencode(query))

    def clean(self):
        statuses = self.request.form.get('clean_status', [])
        statuses = [statuses] if isinstance(statuses, str) else statuses
        statuses = [s for s in statuses if s in interfaces.FINISHED]
        if not statuses:
            self.error = 'Choose which finished jobs to clean.'
            return None
        return '%d finished jobs removed (%s).' % (
            self.service.clean(statuses), ', '.join(statuses))

    # -- listing ---------------------------------------------------------

    def params(self):
        form = self.request.form
        sort = form.get('sort', 'id')
        status = form.get('status') or None
        task = form.get('task') or None
        tag = form.get('tag') or None
        return {
            'sort': sort if sort in SORT_KEYS else 'id',
            'order': 'asc' if form.get('order') == 'asc' else 'desc',
            'status': status if status in interfaces.STATUSES else None,
            'task': task if isinstance(task, str) else None,
            'tag': tag if isinstance(tag, str) else None,
            'start': max(_int(form.get('start'), 0), 0),
            'size': min(max(_int(form.get('size'), DEFAULT_SIZE), 1),
                        MAX_SIZE),
            **searching.read_params(form),
        }

    def selector(self):
        """(selector, errors) of the page's filter and search
        (``zodbtasks.browser.search``)."""
        if not hasattr(self, '_selector'):
            self._selector = searching.selector_of(self.params())
        return self._selector

    def has_search(self):
        """Whether the page shows a search (not only the index's sets)."""
        return search.is_search(self.selector()[0])

    def query(self):
        if not hasattr(self, '_query'):
            p = self.params()
            if self.has_search():
                self.found = searching.find_page(
                    self.service, self.selector()[0],
                    p['order'] == 'desc', p['start'], p['size'])
                self._query = (self.found['total'], [
                    self.service.jobs[jobid] for jobid in self.found['ids']])
                return self._query
            self._query = self.service.queryJobs(
                status=p['status'], task=p['task'], tag=p['tag'],
                sortOn=p['sort'], reverse=p['order'] == 'desc',
                start=p['start'], size=p['size'])
        return self._query

    def search_note(self):
        """What a search looked at and how it is sorted (None: no search)."""
        self.query()
        found = getattr(self, 'found', None)
        return None if found is None else found['note']

    def further_link(self):
        """The link that searches on in older jobs when a search stopped
        (its budget ran out, or it found the most a page counts)."""
        self.query()
        found = getattr(self, 'found', None)
        if found is None or found['further'] is None:
            return None
        return self.link(start=0, **found['further'])

    def total_text(self):
        """The total as the page shows it: '1,234', or 'more than 2,000'
        when a search stopped counting."""
        total = self.total()
        found = getattr(self, 'found', None)
        if found is not None and not found['exact']:
            return 'more than {:,}'.format(total)
        return str(total)

    def total(self):
        return self.query()[0]

    def rows(self):
        return [self.row(job) for job in self.query()[1]]

    def progress(self, job):
        """A running job's ``(fraction, message)``, else None."""
        return self.service.getProgress(job.id) \
            if job.status == interfaces.PROCESSING else None

    def row(self, job):
        progress = self.progress(job)
        return {
            'id': job.id,
            'short_id': format.short_id(job.id),
            'url': '%s/%d' % (self.url, job.id),
            'task': job.task,
            'status': job.status,
            'priority': job.priority,
            'tags': ', '.join(job.tags),
            'added_by': job.runAs or 'system',
            'created': self.moment(job.created),
            'started': self.moment(job.started),
            'completed': self.moment(job.completed),
            'duration': format.duration(job),
            'input': format.short(job.input),
            'error': format.error_text(job.error, format.CELL_LIMIT),
            'progress': progress,
            'detail': self.detail(job),
        }

    def detail(self, job):
        """The output of the view named ``<task>_detail`` for the job, if
        the application registered one (it must escape what it shows)."""
        view = zope.component.queryMultiAdapter(
            (located_job(self.context, job), self.request),
            name='%s_detail' % job.task)
        return view() if view is not None else None

    def tasks(self):
        return sorted(self.service.countByTask())

    def known_tags(self):
        """Tags of jobs, for the tag filter's suggestions."""
        return self.service._index.tags(limit=TAG_CHOICES)

    def link(self, view='jobs.html', **changes):
        p = self.params()
        p.update(changes)
        query = {k: v for k, v in p.items()
                 if v is not None and not (k == 'start' and v == 0)
                 and not (k == 'size' and v == DEFAULT_SIZE)}
        return '%s/@@%s?%s' % (self.url, view, urllib.parse.urlencode(query))

    # -- live updates (zodbtasks.browser.live) ---------------------------

    def live_url(self):
        """Where the page's script finds this page's data."""
        return self.link(view='jobs.json')

    def status_counts(self):
        return status_counts(self.service)

    def sort_link(self, key):
        p = self.params()
        key = 'id' if key == 'created' else key
        order = 'asc' if p['sort'] == key and p['order'] == 'desc' else 'desc'
        return self.link(sort=key, order=order, start=0)

    def sort_mark(self, key):
        p = self.params()
        key = 'id' if key == 'created' else key
        sort = p['sort']
        if self.has_search():   # a search has its own order (see find_page)
            selector = self.selector()[0]
            sort = 'completed' if 'finished_from' in selector \
                or 'finished_to' in selector else 'id'
        if sort != key:
            return ''
        return ' ▼' if p['order'] == 'desc' else ' ▲'

    def batch(self):
        p, total = self.params(), self.total()
        first = p['start'] + 1 if total else 0
        last = min(p['start'] + p['size'], total)
        prev_start = max(p['start'] - p['size'], 0)
        return {
            'first': first, 'last': last, 'total': total,
            'previous': self.link(start=prev_start) if p['start'] else None,
            'next': self.link(start=last) if last < total else None,
        }


def change_marker(service):
    """What changes when anything in the service's database changed
    (its last transaction), as text."""
    jar = service._p_jar
    return jar.db().lastTransaction().hex() if jar is not None else ''


def status_counts(service):
    """``[{'status', 'count'}]`` of ``service``, in STATUSES order (the
    Jobs tab's live counts, the Overview, Plone's control panel)."""
    counts = service.countByStatus()
    return [{'status': status, 'count': counts[status]}
            for status in interfaces.STATUSES]


def _int(text, default):
    try:
        return int(text)
    except (TypeError, ValueError):
        return default
