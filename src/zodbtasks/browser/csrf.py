"""CSRF protection: every form that changes state carries a token that is
an HMAC of the logged-in principal's id, keyed with a secret stored in the
database (so every process of one application accepts it), and every POST
is checked against it.
"""
import hashlib
import hmac
import secrets

from zope.security.proxy import removeSecurityProxy

#: Name of the hidden form field.
FIELD = '_csrf_token'
#: Key of the secret in the ZODB root mapping.
SECRET_KEY = 'zodbtasks.csrf-secret'


class CSRFError(Exception):
    """A state-changing request without a valid CSRF token (the views
    answer it with 403 Forbidden)."""


def _secret(context):
    root = removeSecurityProxy(context)._p_jar.root()
    secret = root.get(SECRET_KEY)
    if secret is None:
        secret = root[SECRET_KEY] = secrets.token_hex(32)
    return secret.encode('ascii')


def _principal_id(request):
    principal = getattr(request, 'principal', None)
    return getattr(principal, 'id', '') or ''


def token(context, request):
    """The CSRF token of the request's principal."""
    return hmac.new(_secret(context), _principal_id(request).encode('utf-8'),
                    hashlib.sha256).hexdigest()


def check(context, request):
    """Raise CSRFError unless ``request`` is a POST carrying the token."""
    if request.method != 'POST':
        raise CSRFError('state changes need a POST request')
    sent = request.form.get(FIELD, '')
    if not isinstance(sent, str) or not hmac.compare_digest(
            sent, token(context, request)):
        raise CSRFError('the form did not come from this site or has '
                        'expired (CSRF check failed): reload the page and '
                        'try again')
