"""Make the demo site when the database opens.

``install_subscriber`` (subscribed to IDatabaseOpenedWithRoot in this
package's configure.zcml) adds, when there is no ``demo`` below the root
folder, the site ``demo`` with the task service ``jobs`` (stored in its
site manager's ``default`` folder and registered as the ITaskService
utility ``jobs``), a cron job running ``log`` every minute and a few jobs,
so that a newcomer sees every status at once.  When ``demo`` exists it
changes nothing, whatever the operators did with it.
"""
import logging

from zope.site.folder import Folder
from zope.site.site import LocalSiteManager

from zodbtasks.demo import site_log
from zodbtasks.interfaces import ITaskService
from zodbtasks.service import TaskService
from zodbtasks.startup import ROOT_NAME
from zodbtasks.transactions import in_transaction
from zodbtasks.transactions import own_connection

logger = logging.getLogger(__name__)

SITE_NAME = 'demo'
SERVICE_NAME = 'jobs'


def install_subscriber(event):
    """Make the demo site in the opened database; subscribed to
    IDatabaseOpenedWithRoot."""
    install(event.database)


def install(db):
    """Make the demo site in ``db`` unless it exists, in a connection and
    transaction of its own; return whether it was made."""
    with own_connection(db) as (connection, tm):
        root, made = in_transaction(tm, _install, connection)
    if root is None:
        logger.error('no root folder %r in the database; the demo site was '
                     'not made', ROOT_NAME)
    elif made:
        logger.info('made the demo site %r with the task service %r',
                    SITE_NAME, SERVICE_NAME)
    return made


def _install(connection):
    root = connection.root().get(ROOT_NAME)
    return root, root is not None and add_demo_site(root)


def add_demo_site(root):
    """Add the demo site, its service and its jobs to the root folder
    ``root`` unless it has a ``demo``; return whether they were added."""
    if SITE_NAME in root:
        return False
    root[SITE_NAME] = site = Folder()
    site.setSiteManager(LocalSiteManager(site))
    service = TaskService()
    manager = site.getSiteManager()
    manager['default'][SERVICE_NAME] = service
    manager.registerUtility(service, ITaskService, name=SERVICE_NAME)
    site_log(site)
    add_example_jobs(service)
    return True


def add_example_jobs(service):
    """A cron job logging every minute, and one job per outcome; return
    their ids."""
    return [
        service.addCronJob('log', 'cron tick', cron='* * * * *'),
        service.add('echo', {'hello': 'world'}),
        service.add('fail', 'no mail server'),
        service.add('sleep', 3),
        service.add('echo', 'started by hand', startLater=True),
    ]
