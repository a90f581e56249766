"""``zodbtasks-server``: serve a zodbtasks instance with waitress.

The first start makes the instance (see ``zodbtasks.app.instance``) and
prints the manager's generated password once.  The application is
zope.app.wsgi's, built from the instance's zope.conf; its databases are
the IDatabase utilities that zope.app.appsetup registers when it opens
them, wrapped in ``zodbtasks.app.security.SecurityMiddleware`` (the
same-origin rule, the security headers, the request body bound).  SIGINT
(Ctrl-C) and SIGTERM stop the server cleanly: waitress and its threads,
then the processor threads (joined), then the databases; a second signal
ends the process at once.

The server creates every file (Data.fs and its index, lock and temporary
files, the logs) readable by its owner only: it sets the umask
``UMASK``.
"""
import argparse
import logging
import os
import sys

import waitress
import ZODB.interfaces
import zope.app.wsgi
import zope.component
from waitress import wasyncore

from zodbtasks import processor
from zodbtasks.app import instance
from zodbtasks.app import security
from zodbtasks.app.signals import stop_on_signals

# Named, not __name__: under `python -m` that would be '__main__'.
logger = logging.getLogger('zodbtasks.app.server')

#: Files owner-only (0o600), folders too (0o700).
UMASK = 0o077
#: waitress refuses bodies this many times over ``max-request-body``
#: before reading them; smaller excesses are read (spooled to a file
#: beyond 512 KiB) and answered by the middleware with a clear message.
BACKSTOP = 2

CREATED_MESSAGE = (
    "Created the manager login '%s' with password: %s (stored hashed in %s; "
    "set %s to choose it)")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog='zodbtasks-server',
        description='Serve a zodbtasks application instance; make the '
        'instance first when its zope.conf does not exist.')
    parser.add_argument(
        '--config', default=os.path.join('var', 'zope.conf'),
        help="the instance's zope.conf (default: %(default)s)")
    parser.add_argument(
        '--sample', default=instance.SAMPLE,
        help='the zope.conf sample a new instance is made from (default: '
        '%(default)s)')
    parser.add_argument('--host', default='127.0.0.1',
                        help='address to listen on (default: %(default)s)')
    parser.add_argument('--port', type=int, default=8080,
                        help='port to listen on, 0 for any free one '
                        '(default: %(default)s)')
    return parser.parse_args(argv)


def prepare_instance(config, sample, environ=os.environ, out=print):
    """Make the instance of ``config`` when missing, and its manager login;
    print the manager's password when it was generated."""
    if not os.path.exists(config):
        password = instance.create_instance(config, sample, environ)
    else:
        password = instance.ensure_manager(
            os.path.dirname(os.path.abspath(config)), environ)
    if password is not None:
        principals = os.path.join(os.path.dirname(config), instance.PRINCIPALS)
        out(CREATED_MESSAGE % (instance.ADMIN_LOGIN, password, principals,
                               instance.PASSWORD_VARIABLE))


def make_app(config):
    """The WSGI application of the instance configured by ``config``
    (a ``SecurityMiddleware``), and the databases it opened.  Raises
    ValueError, the databases closed, when ``<product-config zodbtasks>``
    sets ``max-request-body`` or ``public-url`` wrongly."""
    app = zope.app.wsgi.getWSGIApplication(config)
    databases = [db for _, db in zope.component.getUtilitiesFor(
        ZODB.interfaces.IDatabase)]
    try:
        return security.from_product_config(app), databases
    except ValueError:
        close_databases(databases)
        raise


def close_databases(databases):
    """Stop and join this process's processors, then close ``databases``."""
    processor.stop_all()
    for db in databases:
        db.close()


def serve(app, host, port, max_body=security.DEFAULT_MAX_BODY):
    """Serve ``app`` on ``host``:``port`` until SIGINT or SIGTERM, then
    close waitress's sockets and stop its threads.  waitress does not read
    request bodies of more than ``BACKSTOP`` times ``max_body`` bytes.

    For the main thread of a process that ends afterwards: it handles both
    signals from now on, the first by stopping the server, a second one by
    ending the process at once (the default action).  Raises OSError when
    it cannot listen.
    """
    sockets = {}
    server = None
    stop_on_signals()
    try:
        server = waitress.create_server(
            app, map=sockets, host=host, port=port, ident='zodbtasks-server',
            max_request_body_size=BACKSTOP * max_body + 1)
        logger.info('Serving on http://%s:%s', server.effective_host,
                    server.effective_port)
        server.run()  # ends with the KeyboardInterrupt of _stop
    except KeyboardInterrupt:
        pass  # the signal came before run()
    finally:
        if server is not None:
            server.task_dispatcher.shutdown()
        wasyncore.close_all(sockets)


def main(argv=None):
    args = parse_args(argv)
    try:
        prepare_instance(args.config, args.sample,
                         out=lambda line: print(line, flush=True))
    except instance.InstanceError as exc:
        print('zodbtasks-server: %s' % exc, file=sys.stderr)
        return 2
    os.umask(UMASK)  # before the databases and logs are opened
    try:
        app, databases = make_app(args.config)
    except ValueError as exc:
        print('zodbtasks-server: %s' % exc, file=sys.stderr)
        return 2
    status = 0
    try:
        serve(app, args.host, args.port, app.max_body)
    except OSError as exc:
        logger.error('cannot serve on %s:%s: %s', args.host, args.port, exc)
        status = 1
    finally:
        close_databases(databases)
        logger.info('zodbtasks server stopped')
    return status


if __name__ == '__main__':
    sys.exit(main())
