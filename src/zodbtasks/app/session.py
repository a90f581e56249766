"""The operator command's session: the instance's database opened from
its zope.conf without the application's ZCML, and the task services that
``--service`` names."""
import zc.lockfile

from zodbtasks import startup
from zodbtasks.app import worker
from zodbtasks.transactions import in_transaction


class OpsError(Exception):
    """The command cannot go on; the message says why."""


def open_database(config):
    """The main database of the zope.conf ``config``, opened without the
    application's ZCML, with the other databases of its ``<zodb NAME>``
    sections: a multi-database as zope.app.appsetup makes it (a task
    service may live in one of them, see ``zodbtasks.databases``).  Close
    them with ``close_databases``.  OpsError when one cannot be opened
    (those opened before it are closed).  The zope.conf of a Zope 6
    instance (``<zodb_db>`` sections) is read with Zope's schema."""
    if worker.is_zope_config(config):
        return _open_zope(config)
    try:
        options = worker.read_config(config)
    except worker.ConfigError as exc:
        raise OpsError(str(exc)) from exc
    if not options.databases:
        raise OpsError('%s has no <zodb> section' % config)
    opened = {}
    try:
        for factory in options.databases:
            opened[factory.name or ''] = _open(config, options, factory)
    except BaseException:
        for db in opened.values():
            db.close()
        raise
    for name, db in opened.items():
        db.databases, db.database_name = opened, name
    return opened[options.databases[0].name or '']


def _open_zope(config):
    """The main database of a Zope instance's zope.conf, with the others
    it mounts (a multi-database as Zope makes it)."""
    try:
        import ZConfig
        from Zope2.Startup.options import ZopeWSGIOptions
    except ImportError:
        raise OpsError('%s is the zope.conf of a Zope instance, and Zope is '
                       'not installed for this Python' % config) from None
    try:
        dbtab = ZopeWSGIOptions(configfile=config)().configroot.dbtab
    except (OSError, ZConfig.ConfigurationError) as exc:
        raise OpsError('cannot read %s: %s' % (config, exc)) from exc
    main = dbtab.getName('/')
    try:
        for name in dbtab.listDatabaseNames():
            _open(config, None, dbtab, name)
    except BaseException:
        for db in dbtab.databases.values():
            db.close()
        raise
    return dbtab.databases[main]


def _open(config, options, factory, name=None):
    try:
        return factory.open() if name is None \
            else factory.getDatabase(name=name)
    except zc.lockfile.LockError as exc:
        raise OpsError(
            'the FileStorage of %s is locked (%s): a zodbtasks-server or '
            'zodbtasks-worker has it open.  This command works next to '
            'running processes only over ZEO (a <zeoclient> section in '
            'zope.conf: see docs/deployment.rst); on an embedded '
            'FileStorage, stop the server first.' % (config, exc)) from exc
    except worker.ClientDisconnected as exc:
        if options is None:
            raise OpsError('cannot reach the ZEO server of %s (%s)'
                           % (config, exc)) from exc
        raise OpsError(worker.unreachable_message(config, options,
                                                  exc)) from exc


def close_databases(db):
    """Close ``db`` and the other databases of its multi-database."""
    for each in {id(other): other for other in
                 [db] + list(db.databases.values())}.values():
        each.close()


def parse_directive(directive):
    """The one autostart directive of ``--service``; OpsError otherwise."""
    try:
        [directive] = startup.parse_autostart(directive)
    except ValueError as exc:
        raise OpsError('--service %s: expected SITE@NAME, @NAME, SITE@*, '
                       '*@NAME or *@*' % directive) from exc
    return directive


class Session:
    """The services that ``--service`` names, in a connection with its own
    transaction manager (found again at each ``services()``)."""

    def __init__(self, connection, tm, directive):
        self.connection, self.tm = connection, tm
        self.directive = directive

    def services(self):
        """``[(label, service)]`` as of a new transaction."""
        self.tm.abort()
        self.tm.begin()
        return self._find()

    def change(self, step):
        """Run ``step(services)`` in a transaction of its own, again on
        conflicts; return its result once committed."""
        return in_transaction(self.tm, lambda: step(self._find()))

    def _find(self):
        """``[(SITE@NAME, service)]`` in the current transaction."""
        root = self.connection.root().get(startup.ROOT_NAME)
        if root is None:
            raise OpsError('no root folder %r in the database'
                           % startup.ROOT_NAME)
        try:
            found = startup.find_services(root, self.directive)
        except LookupError as exc:
            raise OpsError(exc.args[0]) from exc
        if not found:
            raise OpsError('no task service matches %s' % self.directive)
        return [('%s@%s' % (site, name), service)
                for site, name, service in found]
