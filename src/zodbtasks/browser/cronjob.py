"""@@addCronJob.html and @@editCronJob.html: one form for both."""
import json
import re

from zope.browserpage.viewpagetemplatefile import ViewPageTemplateFile
from zope.security.proxy import removeSecurityProxy
from zope.traversing.browser.absoluteurl import absoluteURL

from zodbtasks import interfaces
from zodbtasks.browser import format
from zodbtasks.browser.jobs import ServiceView

#: (name, label, lowest, highest) of the lovely-style fields.
FIELDS = (('minute', 'Minutes', 0, 59), ('hour', 'Hours', 0, 23),
          ('dayOfMonth', 'Days of month', 1, 31), ('month', 'Months', 1, 12),
          ('dayOfWeek', 'Days of week (Monday=0)', 0, 6))
NAMES = ('task', 'input', 'cron', 'timezone', 'delay') + tuple(
    f[0] for f in FIELDS)


class FieldError(ValueError):
    """A form value that cannot be parsed; ``field`` names the field."""

    def __init__(self, field, message):
        super().__init__(message)
        self.field = field


def parse_field(name, text, lowest, highest):
    """A tuple of ints from ``*``, ``5``, ``1,15,30``, ``1-5``, ``*/15`` or
    ``10-50/10``; () for an empty field.  Ranges are checked by the
    schedule itself."""
    text = text.strip()
    if not text:
        return ()
    values = set()
    for item in text.split(','):
        match = re.fullmatch(r'\s*(\*|\d+(?:-\d+)?)(?:/(\d+))?\s*', item)
        if match is None:
            raise FieldError(name, '%r is not a number, a range (1-5), * or '
                             'a step (*/15)' % item.strip())
        span, step = match.group(1), int(match.group(2) or 1)
        if step < 1:
            raise FieldError(name, 'a step must be 1 or more')
        if span == '*':
            low, high = lowest, highest
        elif '-' in span:
            low, high = (int(part) for part in span.split('-'))
        else:  # a number; with a step it runs to the highest value
            low = high = int(span)
            if match.group(2):
                high = highest
        values.update(range(low, high + 1, step))
    return tuple(sorted(values))


def parse_job(form):
    """The task and input of a job from the request form; raises
    FieldError naming the field that is wrong."""
    kwargs = {'task': form.get('task', '').strip()}
    if not kwargs['task']:
        raise FieldError('task', 'choose a task')
    raw = form.get('input', '').strip()
    try:
        kwargs['input'] = json.loads(raw) if raw else None
    except ValueError as exc:
        raise FieldError('input', 'not valid JSON: %s' % exc)
    return kwargs


def parse_form(form):
    """The keyword arguments of addCronJob from the request form; raises
    FieldError naming the field that is wrong."""
    kwargs = parse_job(form)
    for name, _, lowest, highest in FIELDS:
        kwargs[name] = parse_field(name, form.get(name, ''), lowest, highest)
    kwargs['cron'] = form.get('cron', '').strip() or None
    kwargs['timezone'] = form.get('timezone', '').strip() or None
    delay = form.get('delay', '').strip()
    try:
        kwargs['delay'] = float(delay) if delay else None
    except ValueError:
        raise FieldError('delay', '%r is not a number of seconds' % delay)
    return kwargs


def field_of(message):
    """The form field a ScheduleError's message is about ('' if none)."""
    match = re.match(r'\s*(\w+)', message)
    return match.group(1) if match and match.group(1) in NAMES else ''


class CronJobForm(ServiceView):
    """What the add and the edit form share."""

    template = ViewPageTemplateFile('templates/cronjob.pt')
    fields = [{'name': name, 'label': label, 'low': low, 'high': high}
              for name, label, low, high in FIELDS]

    def __call__(self):
        self.errors = {}
        if self.request.method == 'POST' and self.check_post():
            url = self.save()
            if url:
                self.request.response.redirect(url)
                return ''
        return self.template()

    parse = staticmethod(parse_form)

    def save(self):
        try:
            kwargs = self.parse(self.request.form)
            return self.apply(kwargs)
        except FieldError as exc:
            self.errors[exc.field] = str(exc)
        except interfaces.UnknownTaskError as exc:
            self.errors['task'] = str(exc)
        except interfaces.InputError as exc:
            self.errors['input'] = str(exc)
        except ValueError as exc:  # ScheduleError and refusals
            self.errors[field_of(str(exc))] = str(exc)
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

    def initial(self):
        return {}


class AddJob(CronJobForm):
    """@@addJob.html on a task service: a one-off job."""

    template = ViewPageTemplateFile('templates/addjob.pt')
    title = 'Add a job'
    submit = 'Add job'
    parse = staticmethod(parse_job)

    def apply(self, kwargs):
        later = bool(self.request.form.get('startLater'))
        jobid = self.service.add(kwargs['task'], kwargs['input'],
                                 startLater=later)
        return '%s/%d' % (self.url, jobid)


class AddCronJob(CronJobForm):
    """@@addCronJob.html on a task service."""

    title = 'Add a cron job'
    submit = 'Add cron job'

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
