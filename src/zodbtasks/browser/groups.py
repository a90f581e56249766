"""The Groups tab (groups newest first, paged, with their progress and
callback) and the page of one group (its members paged, and the Clean
group button).

A group can have 10,000 members: the group page shows one page of them,
and the Groups tab reads the counts each group keeps (``done``,
``failed``), never its members.  Cleaning is a POST checked by
``ServiceView.check_post`` (CSRF token and zodbtasks.ManageJobs); it
redirects to the Groups tab, which says what was removed.
"""
import urllib.parse

from zope.browserpage.viewpagetemplatefile import ViewPageTemplateFile

from zodbtasks import groups
from zodbtasks.browser import format
from zodbtasks.browser.jobs import DEFAULT_SIZE
from zodbtasks.browser.jobs import MAX_SIZE
from zodbtasks.browser.jobs import ServiceView
from zodbtasks.browser.jobs import _int

#: Characters of the id asked for that a "no such group" page repeats.
ASKED_LIMIT = 40


def page_params(form):
    """``start`` and ``size`` of a paged listing (bad values fall back to
    the defaults, as on the Jobs tab)."""
    return (max(_int(form.get('start'), 0), 0),
            min(max(_int(form.get('size'), DEFAULT_SIZE), 1), MAX_SIZE))


def batch(link, start, size, total):
    """What the templates show above a page: its first and last position
    (from 1), the total and the links to the pages before and after."""
    first = start + 1 if start < total else 0
    last = min(start + size, total) if first else 0
    return {
        'first': first, 'last': last, 'total': total,
        'previous': link(max(min(start, total) - size, 0))
        if start else None,
        'next': link(last) if first and last < total else None,
    }


def progress(group):
    """done, total, failed, and the text of the progress bar."""
    done, total, failed = group.done, group.total, group.failed
    text = '%d of %d' % (done, total)
    if failed:
        text += ', %d failed' % failed
    return {'done': done, 'total': total, 'failed': failed, 'text': text}


def job_link(service, service_url, jobid):
    """id, task, status and URL of job ``jobid`` ('removed', no URL, when
    it is gone); None for no job."""
    if jobid is None:
        return None
    job = service.jobs.get(jobid)
    return {'id': jobid, 'task': job.task if job is not None else '',
            'status': job.status if job is not None else 'removed',
            'url': '%s/%d' % (service_url, jobid) if job is not None
            else None}


def group_url(service_url, gid):
    return '%s/@@group.html?id=%d' % (service_url, gid)


def _cut(text, limit=format.CELL_LIMIT):
    """An error message on one line, cut to ``limit`` characters."""
    text = ' '.join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + '…'


class GroupsView(ServiceView):
    """@@groups.html"""

    template = ViewPageTemplateFile('templates/groups.pt')

    def __call__(self):
        self.message = self.cleaned_message()
        return self.template()

    def cleaned_message(self):
        """What the redirect after a Clean group says (numbers only)."""
        form = self.request.form
        gid, removed = _int(form.get('cleaned'), None), \
            _int(form.get('removed'), None)
        if gid is None or removed is None:
            return None
        return 'Group %d cleaned: %d jobs removed.' % (gid, removed)

    def params(self):
        return page_params(self.request.form)

    def query(self):
        if not hasattr(self, '_query'):
            start, size = self.params()
            self._query = self.service.queryGroups(start=start, size=size)
        return self._query

    def rows(self):
        url = self.url
        return [dict(progress(group), id=group.id,
                     url=group_url(url, group.id),
                     created=format.local_time(group.created) if group.created
                     else '', status=group.status,
                     callback=job_link(self.service, url, group.callbackId))
                for group in self.query()[1]]

    def link(self, start):
        _, size = self.params()
        query = {k: v for k, v in (('start', start), ('size', size))
                 if not (k == 'start' and v == 0)
                 and not (k == 'size' and v == DEFAULT_SIZE)}
        return '%s/@@groups.html%s' % (
            self.url, '?' + urllib.parse.urlencode(query) if query else '')

    def batch(self):
        start, size = self.params()
        return batch(self.link, start, size, self.query()[0])


class GroupView(ServiceView):
    """@@group.html?id=GROUPID"""

    template = ViewPageTemplateFile('templates/group.pt')
    group = None

    def __call__(self):
        form = self.request.form
        gid = _int(form.get('id'), None)
        try:
            self.group = self.service.getGroup(gid)
        except KeyError:
            self.request.response.setStatus(404)
            return self.template()
        if self.request.method == 'POST' and self.check_post() \
                and 'clean' in form:
            try:
                removed = self.service.cleanGroup(gid)
            except ValueError as exc:
                self.refuse(409, str(exc))
            else:
                self.request.response.redirect(
                    '%s/@@groups.html?%s' % (self.url, urllib.parse.urlencode(
                        {'cleaned': gid, 'removed': removed})))
                return ''
        return self.template()

    def asked(self):
        """The id asked for, as sent (for the "no such group" page)."""
        asked = self.request.form.get('id')
        asked = asked if isinstance(asked, str) else ''
        return asked if len(asked) <= ASKED_LIMIT \
            else asked[:ASKED_LIMIT - 1] + '…'

    def info(self):
        group = self.group
        return dict(progress(group), id=group.id, status=group.status,
                    created=format.local_time(group.created) if group.created
                    else 'not recorded',
                    on_failure=group.onFailure,
                    callback=job_link(self.service, self.url,
                                      group.callbackId))

    def refusal(self):
        """Why the group cannot be cleaned now (None: it can)."""
        if not hasattr(self, '_refusal'):
            self._refusal = groups.clean_refusal(self.service, self.group)
        return self._refusal

    def cleanable(self):
        return self.may_manage() and self.refusal() is None

    def params(self):
        return page_params(self.request.form)

    def members(self):
        """The members of the page: position (from 1), job, outcome."""
        group, service, url = self.group, self.service, self.url
        start, size = self.params()
        rows = []
        for position in range(start, min(start + size, group.total)):
            row = job_link(service, url, group.jobIds[position])
            ok, value = group.outcomes.get(position, (None, None))
            row.update(position=position + 1,
                       result=format.short(value) if ok else '',
                       error=_cut(str(value)) if ok is False else '')
            rows.append(row)
        return rows

    def link(self, start):
        _, size = self.params()
        query = [('id', self.group.id)]
        query += [('start', start)] if start else []
        query += [('size', size)] if size != DEFAULT_SIZE else []
        return '%s/@@group.html?%s' % (self.url,
                                       urllib.parse.urlencode(query))

    def batch(self):
        start, size = self.params()
        return batch(self.link, start, size, self.group.total)
