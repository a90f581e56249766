"""Reading lovely.remotetask and z3c.taskqueue services as they are
stored, whether their classes import or not (the layouts: see
``zodbtasks.migration``).

Every legacy object is read through ``state_of``: the state ZODB loaded
for it, the instance's ``__dict__`` when its class imports, the
``__Broken_state__`` of a ``ZODB.broken.PersistentBroken`` when it does
not.  Nothing here writes.

Design note on the interfaces: a site manager's adapter registry that
names an interface which does not import cannot even be loaded (its
``__setstate__`` walks each interface's ``__iro__``, which a broken
class has not), so neither the site's lookups nor the unregistration of
a legacy service would work without lovely.remotetask installed.
``legacy_interfaces()`` puts stand-in modules holding interfaces of the
legacy names into ``sys.modules`` for the modules that do not import,
while the migration runs; their services and jobs stay broken objects
(their modules are still missing), which is what the migration reads.
Renaming the interfaces with zodbupdate was rejected as the default: it
would make every user write rename rules before a dry run could even
look at the database.
"""
import contextlib
import datetime
import importlib
import itertools
import sys
import types
import zoneinfo

import persistent
import zope.interface
from ZODB.broken import Broken
from ZODB.POSException import POSError

#: The packages whose services migrate, by their module prefix.
KINDS = ('lovely.remotetask', 'z3c.taskqueue')
#: Class paths of their task services (z3c's BaseTaskService is not
#: stored: only its subclass TaskService is instantiated).
SERVICE_CLASSES = {
    'lovely.remotetask.service.TaskService': 'lovely.remotetask',
    'z3c.taskqueue.service.TaskService': 'z3c.taskqueue',
}
#: The interfaces of each package's ``interfaces`` module that a site
#: manager may name (utility registrations, tasks registered locally).
INTERFACE_NAMES = ('ITask', 'ITaskService', 'IJob', 'ICronJob',
                   'IProcessor', 'IStartRemoteTasksEvent')
#: What the state of a task service must hold.
SERVICE_ATTRIBUTES = ('jobs', '_queue', '_scheduledJobs', '_scheduledQueue')


class MigrationError(Exception):
    """A legacy service cannot be converted; the message names the
    service, the job and the field, and what is wrong with it."""


def class_path(obj):
    """``module.Name`` of the class of ``obj`` (broken or not)."""
    cls = obj if isinstance(obj, type) else type(obj)
    return '%s.%s' % (cls.__module__, cls.__name__)


def kind_of_path(path):
    """'lovely.remotetask' or 'z3c.taskqueue' for a dotted path of theirs,
    else None."""
    for kind in KINDS:
        if path == kind or path.startswith(kind + '.'):
            return kind
    return None


def is_legacy_interface(interface):
    """Whether ``interface`` (a registration's ``provided``) is one of the
    legacy packages' own (or a stand-in of one)."""
    return kind_of_path(getattr(interface, '__module__', '') or '') \
        is not None


def state_of(obj):
    """The stored state of a persistent ``obj`` (a dict; {} for none)."""
    if isinstance(obj, persistent.Persistent):
        obj._p_activate()
    if isinstance(obj, Broken):
        state = obj.__Broken_state__
    elif hasattr(obj, '__getstate__'):
        state = obj.__getstate__()
    else:  # pragma: no cover (every object has __getstate__ since 3.11)
        state = obj.__dict__
    if isinstance(state, tuple):  # (dict, slots) of a class with slots
        state = dict(state[0] or {}, **(state[1] or {}))
    return dict(state or {})


def service_kind(service):
    """The legacy package of a stored task service, or None."""
    return SERVICE_CLASSES.get(class_path(service))


# -- the stand-in interfaces --------------------------------------------------

def _imports(name):
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


@contextlib.contextmanager
def legacy_interfaces():
    """While the block runs, ``lovely.remotetask.interfaces`` and
    ``z3c.taskqueue.interfaces`` import: the real ones when installed,
    else stand-ins holding interfaces of the names in INTERFACE_NAMES
    (see the module's design note).  Yields the names of the modules it
    made; they are taken out of ``sys.modules`` afterwards."""
    added = []
    try:
        for kind in KINDS:
            name = kind + '.interfaces'
            if _imports(name):
                continue
            parts = name.split('.')
            for depth in range(1, len(parts) + 1):
                module_name = '.'.join(parts[:depth])
                if module_name in sys.modules or (
                        depth < len(parts) and _imports(module_name)):
                    continue
                module = types.ModuleType(module_name, 'Stand-in made by '
                                          'zodbtasks.migration.legacy')
                if depth < len(parts):
                    module.__path__ = []  # a package with no submodule
                sys.modules[module_name] = module
                added.append(module_name)
            module = sys.modules[name]
            for interface_name in INTERFACE_NAMES:
                setattr(module, interface_name, zope.interface.interface.
                        InterfaceClass(interface_name, __module__=name))
        yield tuple(added)
    finally:
        for module_name in reversed(added):
            sys.modules.pop(module_name, None)


# -- finding services ---------------------------------------------------------

def legacy_registrations(site_manager):
    """``[(name, provided, service)]``: the utilities of ``site_manager``
    that are legacy task services (by their class, or registered for a
    legacy ITaskService), sorted by name."""
    found = []
    for registration in site_manager.registeredUtilities():
        component = registration.component
        provided = registration.provided
        if service_kind(component) is None and not (
                is_legacy_interface(provided)
                and provided.__name__ == 'ITaskService'):
            continue
        found.append((registration.name, provided, component))
    return sorted(found, key=lambda item: item[0])


def leftover_registrations(site_manager):
    """Descriptions of what ``site_manager`` still registers for a legacy
    interface (a local ITask utility, say): while there is any, the site
    needs the legacy interfaces importable."""
    left = []
    for registration in itertools.chain(
            site_manager.registeredUtilities(),
            site_manager.registeredAdapters(),
            site_manager.registeredSubscriptionAdapters(),
            site_manager.registeredHandlers()):
        named = [getattr(registration, 'provided', None)] + list(
            getattr(registration, 'required', ()) or ())
        legacy = [interface for interface in named
                  if interface is not None and is_legacy_interface(interface)]
        for interface in legacy:
            left.append('%s %r for %s.%s' % (
                type(registration).__name__.replace('Registration', '')
                .lower() or 'registration', registration.name,
                interface.__module__, interface.__name__))
    return left


def load_site_manager(site, label):
    """``site``'s site manager, loaded; MigrationError naming the site
    when it cannot be (a class or interface it names does not import)."""
    try:
        site_manager = site.getSiteManager()
        list(site_manager.registeredUtilities())
    except (POSError, AttributeError, ImportError, TypeError) as exc:
        raise MigrationError(
            'the site manager of %s cannot be loaded (%s: %s): it names a '
            'class or interface that does not import; see '
            'docs/migrating.rst, "Converting to Python 3"'
            % (label, type(exc).__name__, exc)) from exc
    return site_manager


# -- values -------------------------------------------------------------------

def time_zone(name):
    """The tzinfo for naive legacy times: ``name`` (an IANA zone), or
    None for this machine's local time.  MigrationError for an unknown
    name."""
    if name is None:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise MigrationError('--timezone %s: not a time zone this machine '
                             'knows (an IANA name such as Europe/Zurich)'
                             % name) from exc


def epoch(value, tz, what):
    """Epoch seconds of a legacy time (``datetime.now()``, naive: in
    ``tz``, or local time when ``tz`` is None); None stays None."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, datetime.datetime):
        raise MigrationError('%s: %r is not a date and time' % (what, value))
    if value.tzinfo is None and tz is not None:
        value = value.replace(tzinfo=tz)
    try:
        return value.timestamp()
    except (OverflowError, OSError, ValueError) as exc:
        raise MigrationError('%s: %r cannot be read as a time (%s)'
                             % (what, value, exc)) from exc


def error_text(error):
    """The message of a legacy job's error: lovely kept the exception
    itself (a broken object when its class does not import), z3c.taskqueue
    its text; None stays None."""
    if error is None or isinstance(error, str):
        return error
    if isinstance(error, bytes):
        return error.decode('utf-8', 'replace')
    if isinstance(error, Broken):
        args = getattr(error, '__Broken_initargs__', None) or getattr(
            error, '__Broken_newargs__', None) or ()
        text = ', '.join(arg.decode('utf-8', 'replace')
                         if isinstance(arg, bytes) else str(arg)
                         for arg in args)
        return text or type(error).__name__
    if isinstance(error, BaseException):
        return str(error) or type(error).__name__
    return str(error)
