"""``zodbtasks-worker`` for a Zope 6 instance: ``zodbtasks-worker
--config etc/zope.conf`` on a Zope instance's zope.conf (one with
``<zodb_db>`` sections) runs the processors of its task services
without HTTP, usually next to ``runwsgi`` web processes with
``processors off``, all on one ZEO server or RelStorage database.

It configures Zope from the zope.conf as ``zconsole`` does
(``Zope2.Startup.run.configure_wsgi``), with the autostart subscriber
told to start nothing, starts Zope (its ZCML, products and databases:
the instance's ``etc/site.zcml`` with its ``package-includes``), then
starts the processors that ``--autostart`` or the product config's
``autostart`` name; signals stop it as they stop the Zope Toolkit
worker (``zodbtasks.app.worker``).  Zope's ``zope.ini`` configures the
logging of ``runwsgi`` only: the worker logs to standard error, at the
level of ``--log-level`` (default INFO).
"""
import logging
import sys

import ZConfig

from zodbtasks.app import worker
from zodbtasks.productconfig import PRODUCT


def open_zope(path):
    """Configure and start Zope from the zope.conf ``path`` with this
    process's autostart turned off; return ``(main database, the
    product config of zodbtasks as zope.conf has it)``.  ConfigError
    when the file cannot be read."""
    import App.config
    from Zope2.Startup.run import configure_wsgi
    try:
        configure_wsgi(path)
    except (OSError, ZConfig.ConfigurationError) as exc:
        raise worker.ConfigError('cannot read %s: %s' % (path, exc)) \
            from exc
    config = App.config.getConfiguration()
    sections = dict(getattr(config, 'product_config', None) or {})
    product = dict(sections.get(PRODUCT) or {})
    # The worker starts its processors itself, once (see app.worker).
    sections[PRODUCT] = dict(product, processors='off', autostart='')
    config.product_config = sections
    import Zope2
    Zope2.startup_wsgi()
    return Zope2.DB, product


def main(args):
    """The worker's ``main`` for Zope instances (``args`` parsed by
    ``zodbtasks.app.worker.parse_args``)."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, stream=sys.stderr,
            format='%(asctime)s %(levelname)s [%(name)s] %(message)s')
    try:
        db, product = open_zope(args.config)
        directives, threads = worker.worker_settings(
            product, args.autostart, args.threads)
    except (worker.ConfigError, ValueError) as exc:
        print('zodbtasks-worker: %s' % exc, file=sys.stderr)
        return 2
    others = [each for each in db.databases.values() if each is not db]
    return worker.serve([db] + others, directives, threads,
                        args.stop_timeout)
