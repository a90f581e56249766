"""An example that shows why jobs that run as their user matter:
publishing a folder and everything in it in the background.

The "Publish in the background" action (the Actions menu of a folder)
asks for confirmation, then adds one job (``zodbtasks.publish``) as the
user who clicked.  That job finds the folder's private contents in the
catalog and adds a group (``addGroup``) of one job per ``BATCH`` items
(``zodbtasks.publish-batch``), each running as the same user: its items
are published in its own transaction, with the user's permissions (what
they may not publish is skipped and listed in its result), reporting
its progress to the "my jobs" viewlet.  The group's callback
(``zodbtasks.publish-report``) runs when every batch is done: it fails,
naming them, when items were skipped, so that the user sees it until
they dismiss it.  The folder page reloads when the planning job is done
(``data-zodbtasks-reload-on``).

``ZODBTASKS_EXAMPLE_PAUSE`` (seconds, default 0) pauses after each item,
so that a demo shows the progress bars move.
"""
import os
import time

from AccessControl import getSecurityManager
from plone import api
from plone.protect import CheckAuthenticator
from Products.CMFCore.WorkflowCore import WorkflowException
from Products.Five.browser import BrowserView
from Products.Five.browser.pagetemplatefile import ViewPageTemplateFile
from zExceptions import BadRequest
from zope.interface import implementer

from zodbtasks.identity import Identity
from zodbtasks.interfaces import ITask
from zodbtasks.interfaces import TaskError
from zodbtasks.plone.views import site_service
from zodbtasks.task import reportProgress

#: Items published per job (one transaction each).
BATCH = 50
TRANSITIONS = ('publish',)
#: Seconds each item waits after it is published (a demo's knob).
ITEM_PAUSE = float(os.environ.get('ZODBTASKS_EXAMPLE_PAUSE') or 0)


def find(path):
    """The object at the physical ``path`` if the current user may view
    it, else None."""
    obj = api.portal.get().unrestrictedTraverse(path, None)
    if obj is None or not getSecurityManager().checkPermission('View', obj):
        return None
    return obj


@implementer(ITask)
class PublishFolder:
    """Plan: one ``zodbtasks.publish-batch`` job per BATCH items."""

    def __call__(self, service, jobid, input):
        folder = find(input['path'])
        if folder is None:
            raise TaskError('no folder %s, or you may not see it'
                            % input['path'])
        brains = api.content.find(context=folder, sort_on='path',
                                  review_state='private')
        paths = [brain.getPath() for brain in brains]
        job = service.jobs[jobid]
        identity = Identity(job.runAs, job.runContext)
        tag = 'publish:' + input['path']
        batches = [{'task': 'zodbtasks.publish-batch', 'runAs': identity,
                    'input': {'paths': paths[start:start + BATCH],
                              'transition': input['transition']}}
                   for start in range(0, len(paths), BATCH)]
        if not batches:
            return {'items': 0, 'group': None}
        group = service.addGroup(
            batches, tag=tag, onFailure='run',
            then=('zodbtasks.publish-report', {'path': input['path']},
                  {'runAs': identity}))
        return {'items': len(paths), 'group': group}


@implementer(ITask)
class PublishBatch:
    """Publish the items of one batch, as the job's user."""

    def __call__(self, service, jobid, input):
        paths, done, skipped = input['paths'], [], []
        for number, path in enumerate(paths, 1):
            obj = find(path)
            try:
                if obj is None:
                    raise WorkflowException('not found or not allowed')
                api.content.transition(obj, transition=input['transition'])
                done.append(path)
            except (WorkflowException, api.exc.InvalidParameterError) as exc:
                skipped.append('%s: %s' % (path, exc))
            reportProgress(service, jobid, number / len(paths),
                           '%d of %d items' % (number, len(paths)))
            if ITEM_PAUSE:
                time.sleep(ITEM_PAUSE)
        return {'published': len(done), 'skipped': skipped}


@implementer(ITask)
class PublishReport:
    """The group's callback: what was published, or a failure that
    names what was not."""

    def __call__(self, service, jobid, input):
        results = [r for r in input['results'] if r]
        published = sum(r['published'] for r in results)
        skipped = [line for r in results for line in r['skipped']]
        failed = [e for e in input.get('errors') or () if e]
        if skipped or failed:
            raise TaskError(
                '%d items of %s were not published: %s' % (
                    len(skipped) + len(failed), input['path'],
                    '; '.join((skipped + failed)[:10])))
        return {'published': published}


class PublishContents(BrowserView):
    """@@zodbtasks-publish-contents of a folder: a confirmation form;
    its POST adds the publishing job and goes back to the folder."""

    template = ViewPageTemplateFile('templates/publish.pt')

    def __call__(self):
        if self.request.method == 'POST':
            CheckAuthenticator(self.request)
            transition = self.request.form.get('transition', 'publish')
            if transition not in TRANSITIONS:
                raise BadRequest('transition: expected one of %s'
                                 % ', '.join(TRANSITIONS))
            service = site_service()
            path = '/'.join(self.context.getPhysicalPath())
            jobid = service.add('zodbtasks.publish',
                                {'path': path, 'transition': transition},
                                tag='publish:' + path)
            api.portal.show_message(
                'Publishing %s in the background: the page reloads when it '
                'is planned; "Your background jobs" shows the progress.'
                % self.context.Title(), self.request)
            self.request.response.redirect('%s?zodbtasks_job=%d' % (
                self.context.absolute_url(), jobid))
            return ''
        return self.template()

    def count(self):
        return len(api.content.find(context=self.context,
                                    review_state='private'))
