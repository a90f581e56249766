"""The root error log's defaults: client errors are not logged.

zope.app.appsetup makes the root folder's error reporting utility with
only ``Unauthorized`` ignored, so every 404 (and 405) was logged as an
ERROR with a traceback.  On the first start of an instance (and once on
instances made before), this subscriber adds ``NotFound`` and
``MethodNotAllowed`` to the ignored exceptions; a marker in the ZODB root
records that it did, so what an operator sets later on the error log's
configuration screen (``@@configure.html``) stays.
"""
import logging

from zope.error.interfaces import IErrorReportingUtility

from zodbtasks.transactions import own_connection

logger = logging.getLogger(__name__)

#: The exceptions added to the ignored ones.
CLIENT_ERRORS = ('NotFound', 'MethodNotAllowed')
#: Key of the marker in the ZODB root mapping.
MARKER = 'zodbtasks.app.error-log-defaults'
ROOT_NAME = 'Application'


def ignore_client_errors(event):
    """IDatabaseOpenedWithRoot subscriber: see the module's docstring."""
    with own_connection(event.database) as (connection, tm):
        root = connection.root()
        folder = root.get(ROOT_NAME)
        if root.get(MARKER) or folder is None:
            return
        utility = folder.getSiteManager().queryUtility(IErrorReportingUtility)
        if utility is None:
            return
        properties = utility.getProperties()
        ignored = tuple(properties['ignored_exceptions'])
        utility.setProperties(
            properties['keep_entries'], properties['copy_to_zlog'],
            ignored + tuple(e for e in CLIENT_ERRORS if e not in ignored))
        root[MARKER] = True
        tm.commit()
        logger.info('the error log ignores %s', ', '.join(
            utility.getProperties()['ignored_exceptions']))
