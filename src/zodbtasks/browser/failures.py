"""The Failures tab: failed jobs grouped by exception type and message
pattern (``zodbtasks.failures``), with counts, first and last seen, the
tasks and a few of the jobs; retry-all and delete-all per group, each
after a confirmation step that names the count (POST, CSRF,
zodbtasks.ManageJobs)."""
import urllib.parse

from zope.browserpage.viewpagetemplatefile import ViewPageTemplateFile

from zodbtasks import clock
from zodbtasks import failures
from zodbtasks.browser import format
from zodbtasks.browser.jobs import ServiceView

#: Jobs of a group linked on the page.
EXAMPLES = 5


class FailuresView(ServiceView):
    """@@failures.html"""

    template = ViewPageTemplateFile('templates/failures.pt')
    live_regions = ('zt-failures-live',)
    confirm = None
    summary = None

    def __call__(self, now=None):
        self.drawn_at = clock.now() if now is None else now
        if self.request.method == 'POST' and self.check_post():
            self.act()
        if self.summary is None:  # a confirmation step keeps its own
            self.summary = failures.group_failures(self.service,
                                                   self.scan_limit())
        return self.template()

    def scan_limit(self):
        """How many failed jobs to group: ``?scan=N`` (up to MAX_SCAN),
        else SCAN_LIMIT."""
        asked = self.request.form.get('scan')
        if isinstance(asked, str) and asked.isdigit() and int(asked) > 0:
            return min(int(asked), failures.MAX_SCAN)
        return failures.SCAN_LIMIT

    def more_url(self):
        """The page grouping ten times as many (None at MAX_SCAN)."""
        limit = self.scan_limit()
        if limit >= failures.MAX_SCAN:
            return None
        return '%s/@@failures.html?scan=%d' % (
            self.url, min(limit * 10, failures.MAX_SCAN))

    def act(self):
        form = self.request.form
        key = form.get('group')
        action = form.get('action')
        if not isinstance(key, str) or action not in failures.ACTIONS:
            self.refuse(400, 'Choose a group of failures and an action '
                        '(retry or delete).')
            return
        if 'confirm' not in form:
            group, summary = failures.find_group(self.service, key)
            if group is None:
                self.error = 'No failed jobs of this kind are left.'
                return
            self.summary = summary
            self.confirm = {'key': key, 'action': action,
                            'count': group.count, 'capped': summary.capped,
                            'verb': 'Retry' if action == 'retry'
                            else 'Delete'}
            return
        outcome = failures.act_on_group(self.service, key, action,
                                        now=self.drawn_at)
        if outcome.acted:
            self.message = outcome.message
        else:
            self.error = outcome.message

    def groups(self):
        url = self.url
        return [{
            'key': group.key,
            'type': group.type,
            'pattern': group.pattern,
            'example': group.example,
            'count': group.count,
            'first_seen': self.moment(group.first_seen),
            'last_seen': self.moment(group.last_seen),
            'tasks': [{'name': task, 'url': '%s/@@jobs.html?status=error'
                       '&task=%s' % (url, urllib.parse.quote(task, safe=''))}
                      for task in group.tasks],
            'jobs': [{'id': jobid, 'short': format.short_id(jobid),
                      'url': '%s/%d' % (url, jobid)}
                     for jobid in group.ids[:EXAMPLES]],
            'more': max(group.count - EXAMPLES, 0),
            'search_url': '%s/@@jobs.html?%s' % (url, urllib.parse.urlencode(
                {'status': 'error', 'error_group': group.key})),
        } for group in self.summary.groups]

    def scan(self):
        summary = self.summary
        return {'scanned': summary.scanned, 'capped': summary.capped,
                'kinds': len(summary.groups),
                'total': summary.total, 'limit': self.scan_limit(),
                'direct_limit': failures.DIRECT_LIMIT}

