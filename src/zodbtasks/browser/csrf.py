"""CSRF protection: every form that changes state carries a token, and
every POST is checked against it.

A token is ``SLOT.MAC``: ``SLOT`` the number of the ``PERIOD``-long time
slot it was made in, ``MAC`` an HMAC-SHA256 of the logged-in principal's
id and ``SLOT``, keyed with a secret stored in the database (so every
process of one application accepts it).  A token is accepted in its own
slot and the next one, so it lasts between one and two periods; the
forms shown later carry a new one.  A token made for another principal,
or not by this application, is refused as forged; an older one as
expired, with a message that says so.

(The same-origin rule of ``zodbtasks.app.security`` refuses cross-site
requests before they reach the views; the tokens remain the views' own
check, for servers without that middleware.)
"""
import hashlib
import hmac
import json
import secrets
import time

from zope.security.proxy import removeSecurityProxy

#: Name of the hidden form field.
FIELD = '_csrf_token'
#: Key of the secret in the ZODB root mapping.
SECRET_KEY = 'zodbtasks.csrf-secret'
#: Seconds per time slot: a token lasts one to two of them.
PERIOD = 3600

FORGED = ('The form did not come from this site or belongs to another '
          'login (CSRF check failed), so nothing was changed: reload the '
          'page and try again.')
EXPIRED = ('The form had expired (it was shown more than %d minutes ago), '
           'so nothing was changed: check it and submit it again.'
           % (PERIOD // 60))


class CSRFError(Exception):
    """A state-changing request without a valid CSRF token (the views
    answer it with 403 Forbidden)."""


class CSRFExpired(CSRFError):
    """A CSRF token that was valid but is too old."""


def secret(context):
    """The application's secret (bytes), made on first use."""
    root = removeSecurityProxy(context)._p_jar.root()
    value = root.get(SECRET_KEY)
    if value is None:
        value = root[SECRET_KEY] = secrets.token_hex(32)
    return value.encode('ascii')


def principal_id(request):
    """The id of the request's principal (a Zope Toolkit request's
    ``principal``, a Zope request's ``AUTHENTICATED_USER``), or ''."""
    principal = getattr(request, 'principal', None)
    if principal is not None:
        return getattr(principal, 'id', '') or ''
    user = request.get('AUTHENTICATED_USER') if hasattr(request, 'get') \
        else None
    get_id = getattr(user, 'getId', None)
    return (get_id() if callable(get_id) else '') or ''


def slot_of(now):
    return int(now // PERIOD)


def _mac(key, principal, slot):
    message = json.dumps([principal, slot]).encode('utf-8')
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def make_token(key, principal, now):
    """The token of ``principal`` (an id) at the time ``now``."""
    slot = slot_of(now)
    return '%d.%s' % (slot, _mac(key, principal, slot))


def verify(key, principal, sent, now):
    """Raise CSRFError unless ``sent`` is a token of ``principal`` made in
    the slot of ``now`` or the one before (CSRFExpired when it is older)."""
    slot_text, dot, mac = sent.partition('.') if isinstance(sent, str) \
        else ('', '', '')
    if not (dot and slot_text.isdigit() and slot_text.isascii()):
        raise CSRFError(FORGED)
    slot = int(slot_text)
    if not hmac.compare_digest(mac.encode('utf-8'),
                               _mac(key, principal, slot).encode('ascii')):
        raise CSRFError(FORGED)
    current = slot_of(now)
    if slot > current:
        raise CSRFError(FORGED)
    if slot < current - 1:
        raise CSRFExpired(EXPIRED)


def token(context, request, now=None):
    """The CSRF token of the request's principal (at ``now``, default
    the current time)."""
    return make_token(secret(context), principal_id(request),
                      time.time() if now is None else now)


def check(context, request, now=None):
    """Raise CSRFError unless ``request`` is a POST carrying a valid token
    of its principal (at ``now``, default the current time)."""
    if request.method != 'POST':
        raise CSRFError('state changes need a POST request')
    verify(secret(context), principal_id(request),
           request.form.get(FIELD, ''), time.time() if now is None else now)
