"""``zodbtasks-worker``: run task processors in a process that serves no
HTTP, next to web processes that serve only, all on one ZEO database.

It loads the instance's zope.conf and ZCML as ``zodbtasks-server`` does
(so it has the same tasks, logs to the same configured log and opens the
same ``<zodb>``, usually a ``<zeoclient>``), then starts processors for
the services that ``--autostart`` names (default: the product config's
``autostart``), with ``--threads`` threads each (default: the product
config's ``threads``, else 1).  The autostart subscriber starts nothing
in a worker: the worker starts its processors itself, once.

SIGTERM and SIGINT stop it: each processor finishes its current job and
gives back the jobs it claimed and did not start; then the databases are
closed and the process exits with 0 (log line ``zodbtasks worker
stopped``).  A job still running after ``--stop-timeout`` seconds is left
to its lease: once the process has ended, its heartbeat stops and a live
worker's sweeper retries the job.  A second signal ends the process at
once.

When the ZEO server of zope.conf cannot be reached at start (after the
client's wait), it prints one line naming the server's address and the
zope.conf, and exits with 2.

The zope.conf of a Zope 6 instance (with ``<zodb_db>`` sections) is
served by ``zodbtasks.zope.worker`` instead.
"""
import argparse
import logging
import os
import random
import re
import sys
import time

import transaction
import ZConfig
import zope.app.appsetup.product
import zope.processlifetime
from zope.app.appsetup import appsetup
from transaction.interfaces import TransientError
from zope.event import notify

from zodbtasks import processor
from zodbtasks import startup
from zodbtasks.app.signals import stop_on_signals
from zodbtasks.workers import worker_id
from zodbtasks.transactions import own_connection

try:
    from ZEO.Exceptions import ClientDisconnected
except ImportError:  # no ZEO: FileStorage only
    class ClientDisconnected(Exception):
        pass

# Named, not __name__: under `python -m` that would be '__main__'.
logger = logging.getLogger('zodbtasks.app.worker')

#: zope.app.appsetup's zope.conf schema, as zope.app.wsgi uses it.
SCHEMA = os.path.join(os.path.dirname(appsetup.__file__), 'schema',
                      'schema.xml')
#: How many times the database-opened subscribers are tried (see
#: ``notify_opened``).
OPEN_ATTEMPTS = 5
#: Seconds the stopping processors get to finish their current jobs.
STOP_TIMEOUT = 60.0


class ConfigError(Exception):
    """zope.conf cannot be read; the message says why."""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog='zodbtasks-worker',
        description='Run the processors of task services, without HTTP, '
        "on the database of an instance's zope.conf (usually a ZEO "
        'client).')
    parser.add_argument(
        '--config', default=os.path.join('var', 'zope.conf'),
        help="the instance's zope.conf (default: %(default)s)")
    parser.add_argument(
        '--autostart', default=None, metavar='DIRECTIVES',
        help="the services to process, as zope.conf's autostart: "
        "SITE@SERVICE, @SERVICE, SITE@*, *@SERVICE or *@*, comma-"
        'separated (default: the autostart of <product-config zodbtasks>)')
    parser.add_argument(
        '--threads', type=int, default=None, metavar='N',
        help='processor threads per service (default: the threads of '
        '<product-config zodbtasks>, else 1)')
    parser.add_argument(
        '--stop-timeout', type=float, default=STOP_TIMEOUT, metavar='SECONDS',
        help='how long a stop waits for the current jobs to finish '
        '(default: %(default)s)')
    return parser.parse_args(argv)


def read_config(config, schema=SCHEMA):
    """The options of the zope.conf ``config`` (zope.app.appsetup's schema);
    ConfigError when it cannot be read.  Nothing is set up yet."""
    try:
        options, _ = ZConfig.loadConfig(ZConfig.loadSchema(schema), config)
    except (OSError, ZConfig.ConfigurationError) as exc:
        raise ConfigError('cannot read %s: %s' % (config, exc)) from exc
    return options


def zeo_servers(options):
    """The ZEO server addresses (``host:port`` or a socket path) of the
    ``<zodb>`` sections of ``options``, in order, each once."""
    addresses = []
    for factory in options.databases or ():
        storage = getattr(factory.config, 'storage', None)
        for server in getattr(getattr(storage, 'config', None), 'server',
                              None) or ():
            address = server.address
            if isinstance(address, tuple):
                address = '%s:%s' % address[:2]
            if address not in addresses:
                addresses.append(address)
    return addresses


def unreachable_message(config, options, exc):
    """The one line that says the ZEO server of zope.conf ``config``
    (read as ``options``) cannot be reached (``exc``)."""
    servers = ', '.join(zeo_servers(options)) or 'of its <zodb> section'
    return ('cannot reach the ZEO server %s named in %s (%s): is it '
            'running, and is the address right?' % (servers, config, exc))


def product_config(options, name=startup.PRODUCT):
    """The ``<product-config name>`` mapping of ``options`` ({} when
    there is none)."""
    for section in options.product_config or ():
        if section.getSectionName() == name:
            return dict(section.mapping)
    return {}


def worker_settings(product, autostart=None, threads=None):
    """``(directives, threads)`` of a worker: ``autostart`` and ``threads``
    when given, else those of the ``product`` config (a mapping).
    ValueError when one is invalid or no service is named."""
    if autostart is None:
        autostart = product.get('autostart')
    directives = startup.parse_autostart(autostart)
    if not directives:
        raise ValueError('no task service to process: give --autostart or '
                         'set autostart in <product-config %s>'
                         % startup.PRODUCT)
    if threads is None:
        threads = startup.thread_count(product)
    elif threads < 1:
        raise ValueError('--threads must be 1 or more, not %d' % threads)
    return directives, threads


def open_application(options, features=()):
    """Set up the application of ``options`` as ``zope.app.wsgi.config``
    does (zope.app.wsgi 6.1) and return the databases it opened, the main
    one (zope.conf's first ``<zodb>``) first; the autostart subscriber
    starts nothing in this process.

    Design note: ``zope.app.wsgi.config`` sets the product configuration
    and opens the database in one call, and the database-opened
    subscribers start the autostart services at once; nothing can change
    the product configuration in between.  The worker repeats its steps
    with one more, rather than starting processors twice or patching
    zope.app.wsgi.
    """
    if options.path:
        sys.path[:0] = [os.path.abspath(p) for p in options.path]
    zope.app.appsetup.product.setProductConfigurations(
        options.product_config)
    serve_only()
    options.eventlog()
    for configure_logger in options.loggers:
        configure_logger()
    if options.devmode:
        features += ('devmode',)
        logging.warning('Developer mode is enabled: this is a security risk '
                        'and should NOT be enabled on production servers.')
    appsetup.config(options.site_definition, features=features)
    databases = appsetup.multi_database(options.databases)[0]
    notify_opened(databases[0])
    return databases


def notify_opened(db, attempts=OPEN_ATTEMPTS, sleep=time.sleep):
    """Notify DatabaseOpened for ``db``, again when a subscriber's commit
    conflicted.

    On a new database, the Zope Toolkit's subscribers (root folder, error
    log utility, generations) commit what they make in the thread's
    transaction, without retrying: processes started at the same time
    conflict there.  Every subscriber makes only what is missing, so
    notifying again after a conflict finishes the job.
    """
    for attempt in range(1, attempts + 1):
        try:
            notify(zope.processlifetime.DatabaseOpened(db))
            return
        except TransientError as exc:
            transaction.abort()
            if attempt == attempts:
                raise
            logger.warning('opening the database conflicted with another '
                           'process (%s); trying again', exc)
            sleep(random.uniform(0.1, 0.5) * attempt)


def serve_only():
    """Make the autostart subscriber start nothing in this process
    (``processors off``, no ``autostart``); the rest of the product
    config stays."""
    product = dict(zope.app.appsetup.product.getProductConfiguration(
        startup.PRODUCT) or {})
    product.update(processors='off', autostart='')
    zope.app.appsetup.product.setProductConfiguration(startup.PRODUCT,
                                                      product)


def start_processors(db, directives, threads):
    """Start ``threads`` processors for each service ``directives`` name in
    ``db``; return how many services were started."""
    with own_connection(db) as (connection, _):
        root = connection.root().get(startup.ROOT_NAME)
        if root is None:
            logger.error('no root folder %r in the database',
                         startup.ROOT_NAME)
            return 0
        return sum(startup.start_directive(root, directive, threads)
                   for directive in directives)


def stop_processors(timeout=STOP_TIMEOUT):
    """Stop this process's processors: each finishes its current job and
    gives back what it claimed; return the names of those still running
    after ``timeout`` seconds."""
    running = [p.name for p in processor.stop_all(timeout) if p.is_alive()]
    for name in running:
        logger.warning('processor %s did not stop within %ss; its job will '
                       'be retried once its lease expired', name, timeout)
    return running


def work(db, directives, threads):
    """Start the processors and run until SIGINT or SIGTERM; return the
    exit status (1 when no service was started).

    For the main thread of a process that ends afterwards: it handles both
    signals from now on, the first by returning, a second one by ending the
    process at once (the default action).
    """
    stop_on_signals()
    try:
        started = start_processors(db, directives, threads)
        if not started:
            logger.error('no task service matches %s; nothing to do',
                         ', '.join(directives))
            return 1
        logger.info('zodbtasks worker %s started: %d task services, %d '
                    'threads each', worker_id(), started, threads)
        while True:
            time.sleep(3600)  # until _stop raises KeyboardInterrupt
    except KeyboardInterrupt as exc:
        logger.info('zodbtasks worker stopping (%s)', exc)
        return 0


#: A section that only a Zope 6 instance's zope.conf has.
ZOPE_DATABASE = re.compile(r'^\s*<zodb_db[\s>]', re.MULTILINE)


def is_zope_config(path):
    """Whether ``path`` is the zope.conf of a Zope 6 instance."""
    try:
        with open(path, encoding='utf-8', errors='replace') as f:
            return ZOPE_DATABASE.search(f.read()) is not None
    except OSError:
        return False


def main(argv=None):
    args = parse_args(argv)
    if is_zope_config(args.config):
        from zodbtasks.zope import worker as zope_worker
        return zope_worker.main(args)
    try:
        options = read_config(args.config)
        directives, threads = worker_settings(
            product_config(options), args.autostart, args.threads)
    except (ConfigError, ValueError) as exc:
        print('zodbtasks-worker: %s' % exc, file=sys.stderr)
        return 2
    try:
        databases = open_application(options)
    except ClientDisconnected as exc:
        print('zodbtasks-worker: %s' % unreachable_message(
            args.config, options, exc), file=sys.stderr)
        return 2
    return serve(databases, directives, threads, args.stop_timeout)


def serve(databases, directives, threads, stop_timeout=STOP_TIMEOUT):
    """``work`` on the first of ``databases`` (the main one), then stop
    the processors and close the databases; return the exit status."""
    try:
        return work(databases[0], directives, threads)
    finally:
        stop_processors(stop_timeout)
        for db in databases:
            db.close()
        logger.info('zodbtasks worker stopped')


if __name__ == '__main__':
    sys.exit(main())
