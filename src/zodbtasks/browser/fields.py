"""Reading the job forms' fields: the text of each field turned into a
keyword of ``add`` or ``addCronJob``, or a message naming the field.

The activity options (priority, start time, dependencies, tags,
serialization tag, unique key) are each read and checked on their own,
with the checks of ``zodbtasks.options``, so that a form with several
bad values shows all of them at once; the service checks them again
(and that the jobs in ``after`` exist) when it adds the job.
"""
import datetime
import re

from zodbtasks import options

#: Characters of a refused value quoted in a message.
QUOTED = 60
#: What separates the labels of a tag field, and the ids of ``after``.
LABEL_SEPARATOR = ','
ID_SEPARATOR = re.compile(r'[\s,]+')
#: The example of the start time field (and of its messages).
AT_EXAMPLE = '2026-12-01T12:00:00+01:00'


class FieldError(ValueError):
    """A form value that cannot be parsed; ``field`` names the field."""

    def __init__(self, field, message):
        super().__init__(message)
        self.field = field


class FieldErrors(ValueError):
    """Several refused form values: ``errors`` maps field to message."""

    def __init__(self, errors):
        super().__init__('; '.join(errors.values()))
        self.errors = errors


def quote(text):
    """``repr`` of a value sent, cut to QUOTED characters."""
    return repr(text) if len(text) <= QUOTED else repr(text[:QUOTED]) + '...'


def message_of(exc):
    """The text of a refusal (a KeyError's str() is a repr of it)."""
    if len(exc.args) == 1 and isinstance(exc.args[0], str):
        return exc.args[0]
    return str(exc)


def text(form, name):
    """The form value ``name`` as stripped text ('' when not sent)."""
    value = form.get(name, '')
    if not isinstance(value, str):
        raise FieldError(name, 'send one value, not %d' % len(value))
    return value.strip()


def whole_number(name, raw, default=None):
    """An int from ``raw`` ('' is ``default``)."""
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise FieldError(name, '%s: %s is not a whole number'
                         % (name, quote(raw))) from None


def priority(raw):
    """``priority``: a whole number, lower runs earlier; '' is 0."""
    return options.check_priority(whole_number('priority', raw, 0))


def start_time(raw):
    """``at``: an aware datetime from ISO 8601 text, or None for ''."""
    if not raw:
        return None
    try:
        moment = datetime.datetime.fromisoformat(raw)
    except ValueError:
        raise FieldError('at', 'at: %s is not a date and time in ISO 8601 '
                         '(e.g. %s)' % (quote(raw), AT_EXAMPLE)) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise FieldError('at', 'at: %s has no time zone; add one, e.g. %s '
                         'or Z for UTC' % (quote(raw), AT_EXAMPLE))
    try:
        options.start_time(moment)
    except ValueError:
        raise FieldError('at', 'at: %s is not a time between 1970 and the '
                         'end of year 9999' % quote(raw)) from None
    return moment


def job_ids(raw):
    """``after``: job ids separated by commas or spaces."""
    ids = []
    for item in ID_SEPARATOR.split(raw):
        if not item:
            continue
        if not (item.isdigit() and item.isascii()):
            raise FieldError('after', 'after: %s is not a job id (give '
                             'job numbers separated by commas or spaces)'
                             % quote(item))
        ids.append(int(item))
    return options.after_ids(ids)


def labels(name):
    """A reader of a field of comma-separated labels (``tag``,
    ``afterTag``, ``afterTask``); empty labels are left out."""
    def read(raw):
        values = [item.strip() for item in raw.split(LABEL_SEPARATOR)]
        return options.tags([item for item in values if item], name)
    return read


def serialization_tag(raw):
    return options.serialization_tag(raw or None)


def unique_key(raw):
    return options.check_unique_key(raw or None)


def group_key(raw):
    return options.check_group_key(raw or None)


def dependency_failure(raw):
    return options.dependency_failure(raw or 'wait')


#: name -> reader of the text of that field.
READERS = {
    'priority': priority,
    'at': start_time,
    'after': job_ids,
    'tag': labels('tag'),
    'afterTag': labels('afterTag'),
    'afterTask': labels('afterTask'),
    'onDependencyFailure': dependency_failure,
    'serializationTag': serialization_tag,
    'uniqueKey': unique_key,
    'groupKey': group_key,
}

#: The option fields of the forms, in their order: name, label, hint,
#: size of the text field (None: a drop-down of CHOICES).
OPTIONS = (
    ('priority', 'Priority', 'a whole number; lower runs earlier '
     '(negatives allowed)', 6),
    ('at', 'Start at', 'ISO 8601 with a time zone, e.g. %s; empty: '
     'at once' % AT_EXAMPLE, 30),
    ('after', 'After jobs', 'job ids, separated by commas or spaces', 30),
    ('tag', 'Tags', 'labels of this job, separated by commas', 40),
    ('afterTag', 'After tags', 'waits while other jobs carry one of '
     'these tags (commas)', 40),
    ('afterTask', 'After tasks', 'waits while jobs of these tasks wait, '
     'run or failed (commas)', 40),
    ('onDependencyFailure', 'If a dependency fails', 'what the job does '
     'when a job it waits for fails or is cancelled', None),
    ('serializationTag', 'Serialization tag', 'at most one job with '
     'this tag runs at any moment', 30),
    ('uniqueKey', 'Unique key', 'while a job with this key waits, no '
     'new one is added', 30),
    ('groupKey', 'Group key', 'a grouping task runs jobs of one key '
     'together in one transaction', 30),
)
CHOICES = {'onDependencyFailure': options.DEPENDENCY_FAILURE_POLICIES}
#: The defaults the add forms show.
DEFAULTS = {'priority': '0', 'onDependencyFailure': 'wait'}
#: The options of ``add`` and of ``addCronJob``.
JOB_OPTIONS = tuple(option[0] for option in OPTIONS)
CRON_OPTIONS = ('priority', 'tag', 'serializationTag')


def option_fields(names):
    """What the template shows of the option fields ``names``."""
    return [{'name': name, 'label': label, 'hint': hint, 'size': size,
             'choices': CHOICES.get(name, ())}
            for name, label, hint, size in OPTIONS if name in names]


def parse_options(form, names):
    """The keywords of the option fields ``names`` from the request form;
    raises FieldErrors with a message for each field that is wrong."""
    kwargs, errors = {}, {}
    for name in names:
        try:
            kwargs[name] = READERS[name](text(form, name))
        except FieldError as exc:
            errors[exc.field] = str(exc)
        except ValueError as exc:  # the checks of zodbtasks.options
            errors[name] = str(exc)
    if errors:
        raise FieldErrors(errors)
    return kwargs
