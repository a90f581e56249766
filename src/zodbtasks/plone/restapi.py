"""plone.restapi services for jobs, and the helper that answers a long
operation with ``202 Accepted``.

``GET @jobs``
    the current user's jobs (every job for those with ``zodbtasks: View
    jobs``), newest first; ``?status=``, ``?task=``, ``?b_start=``,
    ``?b_size=`` (at most 100).
``GET @jobs/{id}``
    one job: status, progress, result (when it can be written as JSON),
    error; the traceback for those with ``zodbtasks: Manage jobs``.
``POST @jobs``
    (``zodbtasks: Manage jobs``) add a job: a JSON object with ``task``,
    ``input`` and ``add()``'s activity options (``priority``, ``at``,
    ``tag``, ``after``, ``afterTag``, ``afterTask``,
    ``onDependencyFailure``, ``serializationTag``, ``uniqueKey``,
    ``timeLimit``, ``startLater``); answers ``202 Accepted`` with the job
    and its URL in ``Location``.

``accepted(request, jobid)`` gives any service of an add-on the same
answer: ``202 Accepted``, ``Location: <site>/@jobs/<id>`` and a small
JSON body, so that a client polls the job instead of waiting for a long
request (plone/volto#1924).
"""
import json

from AccessControl import getSecurityManager
from plone.protect.interfaces import IDisableCSRFProtection
from plone.restapi.deserializer import json_body
from plone.restapi.services import Service
from zExceptions import BadRequest
from zExceptions import NotFound
from zope.component.hooks import getSite
from zope.interface import alsoProvides
from zope.interface import implementer
from zope.publisher.interfaces import IPublishTraverse

from zodbtasks import interfaces
from zodbtasks.plone import myjobs
from zodbtasks.plone.views import site_service

#: The largest page ``GET @jobs`` answers.
MAX_BATCH = 100
#: The ``add()`` keywords ``POST @jobs`` passes on.
OPTIONS = ('priority', 'at', 'tag', 'after', 'afterTag', 'afterTask',
           'onDependencyFailure', 'serializationTag', 'uniqueKey',
           'timeLimit')


def job_url(jobid, site=None):
    return '%s/@jobs/%d' % ((site or getSite()).absolute_url(), jobid)


def accepted(request, jobid, site=None, service=None):
    """Answer ``request`` with ``202 Accepted`` and the URL of job
    ``jobid``'s ``@jobs`` resource in ``Location``; return the JSON-able
    body (``@id``, ``id``, ``status``) for the caller to send."""
    url = job_url(jobid, site)
    request.response.setStatus(202)
    request.response.setHeader('Location', url)
    service = service or site_service()
    return {'@id': url, 'id': jobid,
            'status': service.getStatus(jobid) if service else None}


def serialize(service, job, full=False):
    """A job as ``@jobs`` shows it (``full``: with its result, error and,
    for managers, traceback)."""
    data = myjobs.summary(service, job, job_url(job.id))
    data['@id'] = data.pop('url')
    if full:
        data['input'] = _json_or_repr(job.input)
        data['result'] = _json_or_repr(job.output) \
            if job.status == interfaces.COMPLETED else None
        if getSecurityManager().checkPermission('zodbtasks: Manage jobs',
                                                service):
            data['traceback'] = job.traceback
    return data


def _json_or_repr(value):
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return {'repr': repr(value)[:1000]}


def _service():
    service = site_service()
    if service is None:
        raise NotFound('this site has no task service: install zodbtasks')
    return service


@implementer(IPublishTraverse)
class JobsGet(Service):
    """GET @jobs and GET @jobs/{id}."""

    def __init__(self, context, request):
        super().__init__(context, request)
        self.params = []

    def publishTraverse(self, request, name):
        self.params.append(name)
        return self

    def reply(self):
        service = _service()
        if self.params:
            return self.one(service, self.params[0])
        form = self.request.form
        try:
            start = max(0, int(form.get('b_start', 0)))
            size = min(MAX_BATCH, max(1, int(form.get('b_size', 25))))
        except ValueError:
            raise BadRequest('b_start and b_size: expected whole numbers') \
                from None
        status = form.get('status') or None
        if status is not None and status not in interfaces.STATUSES:
            raise BadRequest('status: expected one of %s, not %r' % (
                ', '.join(interfaces.STATUSES), status[:40]))
        everyone = getSecurityManager().checkPermission(
            'zodbtasks: View jobs', service)
        tag = None if everyone else myjobs.current_tag()
        if not everyone and tag is None:
            raise NotFound('log in to see your jobs')
        total, jobs = service.queryJobs(status=status,
                                        task=form.get('task') or None,
                                        tag=tag, start=start, size=size)
        return {'@id': '%s/@jobs' % getSite().absolute_url(),
                'items_total': total,
                'items': [serialize(service, job) for job in jobs]}

    def one(self, service, name):
        try:
            jobid = int(name)
        except ValueError:
            raise BadRequest('expected a job id, not %r' % name[:40]) \
                from None
        job = service.jobs.get(jobid)
        if job is None or not myjobs.may_see(service, job):
            raise NotFound('no job %s of yours' % jobid)
        return serialize(service, job, full=True)


class JobsPost(Service):
    """POST @jobs: add a job (managers)."""

    def reply(self):
        service = _service()
        # A cross-site form cannot send application/json (browsers ask
        # first, CORS): that is this service's CSRF protection, as for
        # plone.restapi's own POST services, which turn plone.protect's
        # off (its check would abort the transaction of the new job).
        content_type = self.request.getHeader('Content-Type') or ''
        if not content_type.split(';')[0].strip() == 'application/json':
            raise BadRequest('POST @jobs takes a JSON body (Content-Type: '
                             'application/json), not %r' % content_type[:60])
        alsoProvides(self.request, IDisableCSRFProtection)
        try:
            data = json_body(self.request)
        except Exception:  # plone.restapi raises a bare DeserializationError
            raise BadRequest('the body must be a JSON object') from None
        if not isinstance(data, dict) or not isinstance(data.get('task'),
                                                       str):
            raise BadRequest('the body must be a JSON object with a task '
                             '(a task name)')
        unknown = sorted(set(data) - set(OPTIONS) - {'task', 'input',
                                                       'startLater'})
        if unknown:
            raise BadRequest('unknown keys: %s (expected task, input, '
                             'startLater, %s)' % (', '.join(unknown),
                                                  ', '.join(OPTIONS)))
        options = {name: data[name] for name in OPTIONS if name in data}
        try:
            jobid = service.add(data['task'], data.get('input'),
                                bool(data.get('startLater')), **options)
        except (LookupError, ValueError, TypeError) as exc:
            raise BadRequest(str(exc)) from None
        return accepted(self.request, jobid, service=service)
