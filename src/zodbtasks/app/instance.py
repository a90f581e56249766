"""Instance folders: what ``zodbtasks-server`` runs in.

An instance folder holds

- ``zope.conf``, made from ``etc/zope.conf.sample`` with ``INSTANCE`` set
  to the folder's absolute path;
- ``site.zcml``, which includes the application's configuration
  (``zodbtasks.app:site.zcml``) and then ``principals.zcml``;
- ``principals.zcml``, the manager login ``admin`` with its password
  hashed with bcrypt (zope.password's ``BCRYPT`` manager; never in clear
  text);
- ``log/``, and ``Data.fs`` once ZODB first opens it.

The folders it creates are the owner's only (0o700), and so are the files
(0o600); ``zodbtasks-server`` sets its umask so that Data.fs and the logs
are too.  Instances made before, whose ``principals.zcml`` holds an SSHA
hash, keep working: zope.password still checks SSHA.

The manager's password is random (``secrets.token_urlsafe``) unless the
environment variable ``ZODBTASKS_ADMIN_PASSWORD`` chooses it; when it is
set, every start rewrites ``principals.zcml`` with its hash.
"""
import importlib.util
import os
import re
import secrets
import tempfile
from xml.sax.saxutils import quoteattr

import zope.password.password

#: The default sample, relative to the current directory.
SAMPLE = os.path.join('etc', 'zope.conf.sample')
#: The environment variable that chooses the manager's password.
PASSWORD_VARIABLE = 'ZODBTASKS_ADMIN_PASSWORD'
ADMIN_LOGIN = 'admin'
ADMIN_ID = 'zodbtasks.admin'
ADMIN_ROLE = 'zope.Manager'
PRINCIPALS = 'principals.zcml'

#: bcrypt hashes only the first 72 bytes of a password (and bcrypt 5
#: refuses longer ones).
MAX_PASSWORD_BYTES = 72
#: Folders made for an instance: the owner's only.
FOLDER_MODE = 0o700

_DEFINE_INSTANCE = re.compile(r'^%define INSTANCE .*$', re.MULTILINE)

SITE_ZCML = """\
<configure xmlns="http://namespaces.zope.org/zope">

  <!-- The configuration of this instance, made by zodbtasks-server.
       Include your own packages' configuration below the application's.
  -->

  <include package="zodbtasks.app" file="site.zcml" />

  <include file="principals.zcml" />

</configure>
"""

PRINCIPALS_ZCML = """\
<configure xmlns="http://namespaces.zope.org/zope">

  <!-- The manager login, written by zodbtasks-server; the password is
       stored hashed.  To choose the password, start the server with
       ZODBTASKS_ADMIN_PASSWORD set (this file is then rewritten); to get
       a new random one, delete this file and start the server.
  -->

  <principal
      id=%(id)s
      title="Manager"
      login=%(login)s
      password_manager=%(manager)s
      password=%(hash)s
      />

  <grant
      role=%(role)s
      principal=%(id)s
      />

</configure>
"""


class InstanceError(Exception):
    """An instance cannot be made or prepared; the message says why."""


def create_instance(config, sample=SAMPLE, environ=os.environ):
    """Make the instance whose zope.conf is the path ``config``.

    Creates the folder of ``config`` (and ``log/`` in it), ``config``
    itself from ``sample``, ``site.zcml`` and ``principals.zcml`` (the
    latter two unless they exist: see ``ensure_manager``).  Returns
    the manager's generated password, or None when ``environ`` chose it.
    Raises InstanceError when ``config`` exists or ``sample`` is unusable.
    """
    if os.path.exists(config):
        raise InstanceError('%s exists already' % config)
    text = _read_sample(sample)
    folder = os.path.dirname(os.path.abspath(config))
    text = _DEFINE_INSTANCE.sub(
        lambda match: '%define INSTANCE ' + folder, text, count=1)
    _make_folder(folder)
    _make_folder(os.path.join(folder, 'log'))
    header = '# Made by zodbtasks-server from %s.\n\n' % os.path.abspath(
        sample)
    _write(config, header + text)
    site_zcml = os.path.join(folder, 'site.zcml')
    if not os.path.exists(site_zcml):  # it may hold the operator's changes
        _write(site_zcml, SITE_ZCML)
    return ensure_manager(folder, environ)


def ensure_manager(folder, environ=os.environ):
    """Make sure the instance in ``folder`` has its manager login.

    With ``ZODBTASKS_ADMIN_PASSWORD`` set in ``environ``, (re)writes
    ``principals.zcml`` with that password's hash and returns None.
    Otherwise, when ``principals.zcml`` is missing, writes it with a new
    random password and returns that password (the only time it is known
    in clear); when it exists, leaves it and returns None.
    """
    chosen = environ.get(PASSWORD_VARIABLE)
    if chosen is not None:
        if not chosen:
            raise InstanceError('%s is set but empty' % PASSWORD_VARIABLE)
        if len(chosen.encode('utf-8')) > MAX_PASSWORD_BYTES:
            raise InstanceError(
                '%s is longer than %d bytes, which bcrypt cannot hash: '
                'choose a shorter password'
                % (PASSWORD_VARIABLE, MAX_PASSWORD_BYTES))
        write_principals(folder, chosen)
        return None
    if os.path.exists(os.path.join(folder, PRINCIPALS)):
        return None
    password = secrets.token_urlsafe(16)
    write_principals(folder, password)
    return password


def write_principals(folder, password, manager=None):
    """Write ``principals.zcml`` in ``folder``: the manager login with the
    hash of ``password`` (by the zope.password manager ``manager``, see
    ``hash_password``); return the file's path."""
    manager, hashed = hash_password(password, manager)
    path = os.path.join(folder, PRINCIPALS)
    _write(path, PRINCIPALS_ZCML % {
        'id': quoteattr(ADMIN_ID),
        'login': quoteattr(ADMIN_LOGIN),
        'manager': quoteattr(manager),
        'hash': quoteattr(hashed),
        'role': quoteattr(ADMIN_ROLE),
    })
    return path


def hash_password(password, manager=None):
    """``(manager name, hash)`` of ``password`` for a ``<principal>``
    directive.  The manager is the named zope.password manager ``manager``,
    BCRYPT by default (SSHA is there for tests of older instances).
    Raises InstanceError when BCRYPT is asked for and the bcrypt package
    (in zodbtasks' ``app`` extra) is not installed."""
    if manager is None:
        manager = 'BCRYPT'
    if manager == 'BCRYPT' and importlib.util.find_spec('bcrypt') is None:
        raise InstanceError(
            "the bcrypt package is not installed, so the manager's password "
            "cannot be hashed: pip install 'zodbtasks[app]'")
    factory = {
        'BCRYPT': getattr(zope.password.password, 'BCRYPTPasswordManager',
                          None),
        'SSHA': zope.password.password.SSHAPasswordManager,
    }.get(manager)
    if factory is None:
        raise ValueError('no password manager %r' % manager)
    hashed = factory().encodePassword(password)
    if isinstance(hashed, bytes):
        hashed = hashed.decode('ascii')
    return manager, hashed


def _read_sample(sample):
    try:
        with open(sample) as f:
            text = f.read()
    except OSError as exc:
        raise InstanceError(
            'cannot read the zope.conf sample %s: %s (run from the project '
            'folder, or say where it is with --sample)'
            % (sample, exc.strerror)) from exc
    if len(_DEFINE_INSTANCE.findall(text)) != 1:
        raise InstanceError('the zope.conf sample %s must have exactly one '
                            '"%%define INSTANCE ..." line' % sample)
    return text


def _make_folder(path):
    """Make the folder ``path`` (and its parents) unless it exists; the
    folder itself gets FOLDER_MODE whatever the umask."""
    if not os.path.isdir(path):
        os.makedirs(path, mode=FOLDER_MODE)
        os.chmod(path, FOLDER_MODE)


def _write(path, text):
    """Write ``text`` to ``path`` atomically, readable by the owner only
    (mkstemp makes it 0o600; principals.zcml holds a password hash)."""
    fd, temporary = tempfile.mkstemp(
        dir=os.path.dirname(os.path.abspath(path)), prefix='.tmp-')
    try:
        with os.fdopen(fd, 'w') as f:
            f.write(text)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
