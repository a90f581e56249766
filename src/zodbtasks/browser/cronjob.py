"""@@addCronJob.html and @@editCronJob.html: one form for both.

The schedule fields are read by ``zodbtasks.cron.parse_field``, the one
grammar of the forms, the API and cron strings; the service validates the
rest (ScheduleError, InputError), and each refusal is shown beside the
field it is about, with what was sent kept in the form.
"""
import json
import math
import re

from zope.browserpage.viewpagetemplatefile import ViewPageTemplateFile
from zope.security.proxy import removeSecurityProxy
from zope.traversing.browser.absoluteurl import absoluteURL

from zodbtasks import cron
from zodbtasks import interfaces
from zodbtasks.browser import fields
from zodbtasks.browser import format
from zodbtasks.browser.fields import FieldError
from zodbtasks.browser.fields import FieldErrors
from zodbtasks.browser.fields import quote as _quote
from zodbtasks.browser.fields import text as _text
from zodbtasks.browser.jobs import ServiceView

#: (name, label) of the lovely-style fields; bounds from zodbtasks.cron.
FIELDS = (('minute', 'Minutes'), ('hour', 'Hours'),
          ('dayOfMonth', 'Days of month'), ('month', 'Months'),
          ('dayOfWeek', 'Days of week (Monday=0)'))
NAMES = ('task', 'input', 'cron', 'timezone', 'delay') + tuple(
    f[0] for f in FIELDS)
NO_SCHEDULE = ('no schedule given: fill in at least one field (* in '
               'Minutes runs every minute), a cron string or a delay')


class _NotFinite(ValueError):
    """A JSON number that Python would read as infinite or NaN."""


def _refuse_constant(name):
    raise _NotFinite('%s is not allowed: JSON has no NaN or Infinity (use '
                     'null or a string)' % name)


def _finite_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise _NotFinite('%s is too large for a number' % _quote(text))
    return value


def parse_input(raw):
    """The job input from JSON text ('' is None); refuses NaN, Infinity
    and numbers beyond a float, which json.loads accepts."""
    if not raw:
        return None
    try:
        return json.loads(raw, parse_constant=_refuse_constant,
                          parse_float=_finite_float)
    except _NotFinite as exc:
        raise FieldError('input', str(exc))
    except RecursionError:
        raise FieldError('input', 'not valid JSON: nested too deeply')
    except ValueError as exc:
        raise FieldError('input', 'not valid JSON: %s' % exc)


def parse_job(form):
    """The task and input of a job from the request form; raises
    FieldError naming the field that is wrong."""
    kwargs = {'task': _text(form, 'task')}
    if not kwargs['task']:
        raise FieldError('task', 'choose a task')
    kwargs['input'] = parse_input(_text(form, 'input'))
    return kwargs


def parse_delay(text):
    """Seconds from the delay field ('' is None); its range is checked by
    the schedule (a ScheduleError about ``delay``)."""
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise FieldError('delay', '%s is not a number of seconds'
                         % _quote(text))


def parse_form(form):
    """The keyword arguments of addCronJob from the request form; raises
    FieldError naming the field that is wrong."""
    kwargs = parse_job(form)
    for name, _ in FIELDS:
        try:
            kwargs[name] = cron.parse_field(name, _text(form, name))
        except interfaces.ScheduleError as exc:
            raise FieldError(name, str(exc))
    kwargs['cron'] = _text(form, 'cron') or None
    kwargs['timezone'] = _text(form, 'timezone') or None
    kwargs['delay'] = parse_delay(_text(form, 'delay'))
    if not (any(kwargs[name] for name, _ in FIELDS) or kwargs['cron']
            or kwargs['delay'] is not None):
        raise FieldError('minute', NO_SCHEDULE)
    return kwargs


def field_of(message, names=NAMES):
    """The form field (one of ``names``) a refusal's message is about,
    by its first word ('' if none)."""
    match = re.match(r'\s*(\w+)', message)
    return match.group(1) if match and match.group(1) in names else ''


class CronJobForm(ServiceView):
    """What the add and the edit form share."""

    template = ViewPageTemplateFile('templates/cronjob.pt')
    option_macros = ViewPageTemplateFile('templates/options.pt')
    #: The activity options this form has (see zodbtasks.browser.fields).
    option_names = ()
    fields = [{'name': name, 'label': label,
               'low': cron.FIELD_RANGES[name][0],
               'high': cron.FIELD_RANGES[name][1]}
              for name, label in FIELDS]

    def __call__(self):
        self.errors = {}
        if self.request.method == 'POST' and self.check_post():
            url = self.save()
            if url:
                self.request.response.redirect(url)
                return ''
        return self.template()

    parse = staticmethod(parse_form)

    def read(self, form):
        """The keywords of the form's fields; raises FieldErrors naming
        each field that is wrong (the options are read even when the
        task or schedule is wrong, so that all their errors show)."""
        errors = {}
        try:
            kwargs = self.parse(form)
        except FieldError as exc:
            kwargs, errors = {}, {exc.field: str(exc)}
        try:
            kwargs.update(fields.parse_options(form, self.option_names))
        except FieldErrors as exc:
            errors.update(exc.errors)
        if errors:
            raise FieldErrors(errors)
        return kwargs

    def save(self):
        names = NAMES + tuple(self.option_names)
        try:
            return self.apply(self.read(self.request.form))
        except FieldErrors as exc:
            self.errors.update(exc.errors)
        except interfaces.UnknownTaskError as exc:
            self.errors['task'] = str(exc)
        except interfaces.InputError as exc:  # unpicklable, too large
            self.errors['input'] = str(exc)
        except LookupError as exc:  # a job in ``after`` that is not there
            message = fields.message_of(exc)
            self.errors[field_of(message, names)] = message
        except ValueError as exc:  # ScheduleError and refusals
            self.errors[field_of(str(exc), names)] = str(exc)
        self.request.response.setStatus(400)
        self.error = 'Please correct the marked fields.'
        return None

    def value(self, name):
        """What the field shows: what was sent, else the job's value."""
        if name in self.request.form:
            return self.request.form[name]
        return self.initial().get(name, '')

    def task_names(self):
        return sorted(self.service.getAvailableTasks())

    def option_fields(self):
        return fields.option_fields(self.option_names)

    def initial(self):
        return {name: value for name, value in fields.DEFAULTS.items()
                if name in self.option_names}


class AddJob(CronJobForm):
    """@@addJob.html on a task service: a one-off job."""

    template = ViewPageTemplateFile('templates/addjob.pt')
    title = 'Add a job'
    submit = 'Add job'
    parse = staticmethod(parse_job)
    option_names = fields.JOB_OPTIONS

    def apply(self, kwargs):
        kwargs = dict(kwargs)
        task, input = kwargs.pop('task'), kwargs.pop('input')
        key = kwargs.get('uniqueKey')
        waiting = self.service.findUnique(key) if key is not None else None
        jobid = self.service.add(
            task, input, startLater=bool(self.request.form.get('startLater')),
            **kwargs)
        url = '%s/%d' % (self.url, jobid)
        # A job with the key was waiting: add made nothing; say so there.
        return url + '?unique=1' if jobid == waiting else url


class AddCronJob(CronJobForm):
    """@@addCronJob.html on a task service."""

    title = 'Add a cron job'
    submit = 'Add cron job'
    option_names = fields.CRON_OPTIONS

    def apply(self, kwargs):
        jobid = self.service.addCronJob(**kwargs)
        return '%s/%d' % (self.url, jobid)


class EditCronJob(CronJobForm):
    """@@editCronJob.html on a cron job."""

    title = 'Edit cron job'
    submit = 'Save and reschedule'

    @property
    def service(self):
        return removeSecurityProxy(self.context.__parent__)

    @property
    def url(self):
        return absoluteURL(self.context.__parent__, self.request)

    def apply(self, kwargs):
        job = removeSecurityProxy(self.context)
        self.service.updateCronJob(job.id, **kwargs)
        return '%s/%d' % (self.url, job.id)

    def initial(self):
        job = removeSecurityProxy(self.context)
        values = {'task': job.task, 'cron': job.cron or '',
                  'timezone': job.timezone or '',
                  'delay': '' if job.delay is None else '%g' % job.delay,
                  'input': format.value(job.input)}
        for name, *_ in FIELDS:
            values[name] = ','.join(str(v) for v in getattr(job, name))
        return values
