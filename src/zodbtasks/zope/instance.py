"""``make run-zope`` and ``make run-plone``: a demo Zope 6 (or Plone 6)
instance with zodbtasks on an embedded FileStorage, served by
``runwsgi`` on 127.0.0.1.

``python -m zodbtasks.zope.instance [--plone] [--dir DIR] [--port N]``
makes the instance the first time (``mkwsgiinstance``, with a random
``admin`` password printed once, or the one that
``ZODBTASKS_ADMIN_PASSWORD`` chooses; ``ZODBTASKS_MEMBER_PASSWORD`` for
Plone's member), with zodbtasks' ZCML, the demo
tasks and ``<product-config zodbtasks>``; then the demo content:

- Zope: the site ``demo`` (a folder with its own component registry and
  user folder) and its task service ``tasks`` with a few jobs and a
  cron job, started by ``autostart demo@tasks``;
- Plone (``--plone``): the site ``Plone`` with plone.restapi and the
  zodbtasks profile, its service ``tasks`` started by ``autostart
  Plone@*``, a member ``member`` (password printed once) and a folder
  ``Background`` of private pages for "Publish in the background".

Then it replaces itself with ``runwsgi`` on ``127.0.0.1:PORT`` (Ctrl-C
stops it).  Running it again serves the same instance.
"""
import argparse
import os
import re
import secrets
import subprocess
import sys
import tempfile

#: The environment variables that choose the admin's and the Plone
#: member's passwords (random by default).
PASSWORD_VARIABLE = 'ZODBTASKS_ADMIN_PASSWORD'
MEMBER_PASSWORD_VARIABLE = 'ZODBTASKS_MEMBER_PASSWORD'
BIN = os.path.dirname(sys.executable)

ZOPE_ZCML = '''\
<configure xmlns="http://namespaces.zope.org/zope">
  <!-- Made by zodbtasks.zope.instance: zodbtasks and the demo tasks. -->
%(includes)s
  <utility component="zodbtasks.demo.echo_task" name="echo"
           provides="zodbtasks.interfaces.ITask" />
  <utility component="zodbtasks.demo.fail_task" name="fail"
           provides="zodbtasks.interfaces.ITask" />
  <utility component="zodbtasks.demo.sleep_task" name="sleep"
           provides="zodbtasks.interfaces.ITask" />
</configure>
'''

PRODUCT_CONFIG = '''
<product-config zodbtasks>
  autostart %s
</product-config>
'''

ZOPE_CONTENT = '''\
import transaction
from AccessControl.SecurityManagement import newSecurityManager
from five.localsitemanager import make_objectmanager_site
from zope.component.hooks import setSite
from zodbtasks.zope.service import ZopeTaskService

if 'demo' not in app.objectIds():
    app.manage_addFolder('demo', 'zodbtasks demo site')
    make_objectmanager_site(app.demo)
    app.demo._setObject('tasks', ZopeTaskService('tasks', 'Demo jobs'))
    transaction.commit()
    newSecurityManager(None, app.acl_users.getUser('admin'))
    setSite(app.demo)
    service = app.demo.tasks
    service.add('echo', 'hello from the demo')
    service.add('fail', 'this one fails on purpose')
    service.add('sleep', 3)
    service.add('echo', 'started by hand', startLater=True)
    service.addCronJob('echo', 'every minute', cron='* * * * *')
    transaction.commit()
    print('made the site demo with its task service tasks')
'''

PLONE_CONTENT = '''\
import sys
import transaction
from AccessControl.SecurityManagement import newSecurityManager
from Products.CMFPlone.factory import addPloneSite
from zope.component.hooks import setSite

member_password = sys.argv[-1]
if 'Plone' not in app.objectIds():
    newSecurityManager(None, app.acl_users.getUser('admin'))
    site = addPloneSite(app, 'Plone', title='zodbtasks demo',
                        setup_content=False,
                        extension_ids=['plone.app.contenttypes:default',
                                       'plonetheme.barceloneta:default',
                                       'plone.restapi:default',
                                       'zodbtasks:plone'])
    setSite(site)
    from plone import api
    site.portal_workflow.setDefaultChain('simple_publication_workflow')
    api.user.create(email='member@example.org', username='member',
                    password=member_password, roles=('Member',))
    folder = api.content.create(site, 'Folder', 'background',
                                title='Background')
    for number in range(1, 121):
        api.content.create(folder, 'Document', 'page-%d' % number,
                           title='Page %d' % number)
    api.user.grant_roles(username='member', obj=folder,
                         roles=['Reviewer', 'Editor'])
    # The member may not publish this one: the report says so.
    restricted = api.content.create(folder, 'Document', 'restricted',
                                    title='Not yours to publish')
    restricted.__ac_local_roles_block__ = True
    api.user.grant_roles(username='member', obj=restricted,
                         roles=['Reader'])
    restricted.reindexObjectSecurity()
    transaction.commit()
    print('made the Plone site Plone with the zodbtasks add-on')
'''


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog='python -m zodbtasks.zope.instance',
        description='Make (the first time) and serve a demo Zope 6 or '
        'Plone 6 instance with zodbtasks on 127.0.0.1.')
    parser.add_argument('--plone', action='store_true',
                        help='a Plone 6 site instead of a Zope folder site')
    parser.add_argument('--dir', default=None,
                        help='the instance folder (default: var/zope or '
                        'var/plone)')
    parser.add_argument('--port', type=int, default=8080)
    parser.add_argument('--no-serve', action='store_true',
                        help='make the instance, do not serve it')
    return parser.parse_args(argv)


def password(variable=PASSWORD_VARIABLE):
    return os.environ.get(variable) or secrets.token_urlsafe(12)


def make_instance(folder, plone, port=8080, out=sys.stdout):
    """Make the instance in ``folder`` unless it exists; return its
    zope.conf."""
    conf = os.path.join(folder, 'etc', 'zope.conf')
    if os.path.exists(conf):
        return conf
    admin = password()
    subprocess.run([os.path.join(BIN, 'mkwsgiinstance'), '-d', folder,
                    '-u', 'admin:%s' % admin], check=True,
                   stdout=subprocess.DEVNULL)
    includes = os.path.join(folder, 'etc', 'package-includes')
    os.makedirs(includes, exist_ok=True)
    # Plone loads zodbtasks.plone itself (plone.autoinclude), after its
    # own configuration.
    zcml = '' if plone else ('  <include package="five.localsitemanager" '
                             '/>\n  <include package="zodbtasks.zope" />')
    with open(os.path.join(includes, 'zodbtasks-configure.zcml'), 'w') as f:
        f.write(ZOPE_ZCML % {'includes': zcml})
    with open(conf, 'a') as f:
        f.write(PRODUCT_CONFIG % ('Plone@*' if plone else 'demo@tasks'))
    member = password(MEMBER_PASSWORD_VARIABLE)
    with tempfile.NamedTemporaryFile('w', suffix='.py', delete=False) as f:
        f.write(PLONE_CONTENT if plone else ZOPE_CONTENT)
    try:
        subprocess.run([os.path.join(BIN, 'zconsole'), 'run', conf, f.name,
                        member], check=True, cwd=folder)
    finally:
        os.unlink(f.name)
    where = 'Plone' if plone else 'demo/tasks/manage_workspace'
    print('The Zope manager is admin with the password %s (shown once).'
          % admin, file=out)
    if plone:
        print('The Plone member is member with the password %s.' % member,
              file=out)
    # Plone themes localhost, not 127.0.0.1 (plone.app.theming's
    # unthemed host names); both reach this loopback server.
    print('Open http://localhost:%d/%s once it serves.' % (port, where),
          file=out)
    return conf


def set_address(folder, port):
    """Make ``etc/zope.ini`` serve on 127.0.0.1:``port`` only (its
    ``[server:main]`` gets ``listen``; ``host`` and ``port`` go)."""
    ini = os.path.join(folder, 'etc', 'zope.ini')
    with open(ini) as f:
        lines = f.read().splitlines()
    out, section = [], None
    for line in lines:
        header = re.match(r'^\[(.+)\]\s*$', line)
        if header:
            section = header.group(1)
        elif section == 'server:main' and re.match(
                r'^\s*(host|port|listen)\s*=', line):
            continue
        out.append(line)
        if header and section == 'server:main':
            out.append('listen = 127.0.0.1:%d' % port)
    with open(ini, 'w') as f:
        f.write('\n'.join(out) + '\n')
    return ini


def main(argv=None):
    args = parse_args(argv)
    folder = os.path.abspath(args.dir or os.path.join(
        'var', 'plone' if args.plone else 'zope'))
    make_instance(folder, args.plone, args.port)
    ini = set_address(folder, args.port)
    if args.no_serve:
        return 0
    print('Serving %s on http://127.0.0.1:%d/' % (folder, args.port),
          flush=True)
    runwsgi = os.path.join(BIN, 'runwsgi')
    os.chdir(folder)
    os.execv(runwsgi, [runwsgi, ini])


if __name__ == '__main__':
    sys.exit(main())
