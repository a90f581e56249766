"""``activate(obj, **options).methodName(*args, **kw)``: call a method of
a persistent object later, as CMFActivity's ``obj.activate().method()``.

The job's input is a ``MethodCall``: a *persistent reference* to the
object (the object itself, pickled by ZODB as a reference: no path, no
traversal, it survives renames and moves), the method's name and the
arguments.  The job's task is the built-in ``METHOD_TASK``
(``CallMethod``), which the service knows without a registration.  When
it runs, it looks the method up on the object in the worker's
connection, inside the object's site; an object whose ``__parent__``
chain no longer reaches the application root was removed, and the job
ends in error without calling it.
"""
import persistent
import zope.component.hooks
import zope.interface
from zope.component.interfaces import ISite
from zope.interface.interfaces import ComponentLookupError
from zope.location.interfaces import IRoot

from zodbtasks.interfaces import InputError
from zodbtasks.interfaces import ITask
from zodbtasks.interfaces import ITaskService
from zodbtasks.interfaces import TaskError

#: The name of the built-in task that calls a method of an object.
METHOD_TASK = 'zodbtasks.method'


class MethodCall:
    """What an activation job stores: the object, the method's name and
    the arguments (plain data, pickled with the job)."""

    def __init__(self, obj, method, args, kw):
        self.obj, self.method, self.args, self.kw = obj, method, args, kw

    def __repr__(self):
        return '<call %s.%s()>' % (object_path(self.obj) or '?', self.method)


class ObjectGone(TaskError):
    """The object of an activation was removed from its site."""


@zope.interface.implementer(ITask)
class CallMethod:
    """The built-in task of activations."""

    def __call__(self, service, jobid, input):
        obj = input.obj
        if not reaches_root(obj):
            raise ObjectGone('object %s no longer exists in the site'
                             % (object_path(obj) or repr(obj)))
        with zope.component.hooks.site(nearest_site(obj)):
            return getattr(obj, input.method)(*input.args, **input.kw)


CALL_METHOD = CallMethod()


def activate(obj, service=None, unique=False, **options):
    """``activate(obj, **options).method(*args, **kw)`` adds a job that
    calls ``obj.method(*args, **kw)`` later and returns its id; see
    ITaskService.add for ``options``."""
    if not isinstance(obj, persistent.Persistent):
        raise InputError('activate: %r is not a persistent object' % (obj,))
    return _Activator(obj, service, unique, options)


class _Activator:

    def __init__(self, obj, service, unique, options):
        self._obj, self._service = obj, service
        self._unique, self._options = unique, options

    def __getattr__(self, method):
        if method.startswith('_'):
            raise AttributeError(method)

        def call(*args, **kw):
            return self._add(method, args, kw)
        return call

    def _add(self, method, args, kw):
        obj = self._obj
        check_stored(obj, None, 'activate: the object')
        service = find_service(obj, self._service)
        db = service._p_jar.db() if service._p_jar is not None else None
        check_stored(obj, db, 'activate: the object')
        if not callable(getattr(obj, method, None)):
            raise AttributeError('activate: %r has no method %r'
                                 % (obj, method))
        for position, value in enumerate(args):
            check_argument(value, db, 'argument %d' % (position + 1))
        for name, value in kw.items():
            check_argument(value, db, 'keyword %r' % name)
        options = dict(self._options)
        if self._unique:
            options['uniqueKey'] = unique_key(obj, method)
        return service.add(METHOD_TASK, MethodCall(obj, method, args, kw),
                           **options)


def check_stored(obj, db, what):
    """Refuse an object that is not stored in ``db`` or another database
    of its multi-database (InputError); an object added in this
    transaction gets its place by a savepoint."""
    if obj._p_jar is None:
        _savepoint_for(obj)
    if obj._p_jar is None:
        raise InputError('%s %r is not stored in the database: add it to '
                         'a container first' % (what, obj))
    other = obj._p_jar.db()
    if db is not None and other is not db \
            and db.databases.get(other.database_name) is not other:
        raise InputError('%s %r is stored in another database (%s)'
                         % (what, obj, obj._p_jar.db().database_name))


def _savepoint_for(obj):
    """A savepoint of the transaction of the first stored object up the
    ``__parent__`` chain of ``obj`` (it places new objects in their
    database)."""
    parent = getattr(obj, '__parent__', None)
    for _ in range(1000):
        if parent is None:
            return
        jar = getattr(parent, '_p_jar', None)
        if jar is not None:
            jar.transaction_manager.savepoint(optimistic=True)
            return
        parent = getattr(parent, '__parent__', None)


def check_argument(value, db, what):
    if isinstance(value, persistent.Persistent):
        check_stored(value, db, 'activate: ' + what)


def unique_key(obj, method):
    """The uniqueKey of ``activate(obj, unique=True).method()``."""
    return 'activate:%s:%s:%s' % (obj._p_jar.db().database_name,
                                  obj._p_oid.hex(), method)


def find_service(obj, service):
    """The task service of an activation: ``service`` (a service or its
    registered name), else the one registered without a name in the site
    manager of the object's nearest site (that site only), else its only
    one; ComponentLookupError naming the site otherwise."""
    if ITaskService.providedBy(service):
        return service
    site = nearest_site(obj)
    if site is None:
        raise ComponentLookupError('activate: %r is in no site' % (obj,))
    local = {registration.name: registration.component
             for registration in site.getSiteManager().registeredUtilities()
             if registration.provided.isOrExtends(ITaskService)}
    where = object_path(site) or repr(site)
    if service is not None:
        if service not in local:
            raise ComponentLookupError(
                'activate: no task service %r in the site %s'
                % (service, where))
        return local[service]
    if '' in local:
        return local['']
    if len(local) == 1:
        return next(iter(local.values()))
    raise ComponentLookupError(
        'activate: %s task services in the site %s; say which with '
        'service=' % ('no' if not local else len(local), where))


def nearest_site(obj):
    while obj is not None:
        if ISite.providedBy(obj):
            return obj
        obj = getattr(obj, '__parent__', None)
    return None


def reaches_root(obj):
    """Whether the ``__parent__`` chain of ``obj`` reaches a root."""
    seen = 0
    while obj is not None and seen < 1000:
        if IRoot.providedBy(obj):
            return True
        obj, seen = getattr(obj, '__parent__', None), seen + 1
    return False


def object_path(obj):
    """'/a/b' from the root, or None when the chain breaks."""
    names = []
    while obj is not None and not IRoot.providedBy(obj):
        name = getattr(obj, '__name__', None)
        if not name:
            return None
        names.append(name)
        obj = getattr(obj, '__parent__', None)
    return '/' + '/'.join(reversed(names)) if obj is not None else None
