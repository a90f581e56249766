"""The CSRF tokens of the views (zodbtasks.browser.csrf): time-bounded,
rotating, tied to the principal.  Time is passed in."""
import pytest

from zodbtasks.browser import csrf
from zodbtasks.browser.csrf import CSRFError
from zodbtasks.browser.csrf import CSRFExpired
from zodbtasks.browser.csrf import PERIOD

KEY = b'k' * 32
NOW = 1_800_000_000.0


def _token(principal='zodbtasks.admin', now=NOW, key=KEY):
    return csrf.make_token(key, principal, now)


def test_a_fresh_token_is_accepted():
    csrf.verify(KEY, 'zodbtasks.admin', _token(), NOW)


def test_a_token_is_its_slot_and_a_mac():
    slot, mac = _token().split('.')
    assert int(slot) == int(NOW // PERIOD)
    assert len(mac) == 64


def test_tokens_rotate_with_the_slot():
    assert _token(now=NOW) != _token(now=NOW + PERIOD)


def test_a_token_lasts_into_the_next_slot():
    start = (NOW // PERIOD) * PERIOD
    csrf.verify(KEY, 'zodbtasks.admin', _token(now=start),
                start + 2 * PERIOD - 1)


def test_a_token_two_slots_old_has_expired():
    start = (NOW // PERIOD) * PERIOD
    with pytest.raises(CSRFExpired, match='The form had expired .*more than '
                       '60 minutes ago.*nothing was changed'):
        csrf.verify(KEY, 'zodbtasks.admin', _token(now=start),
                    start + 2 * PERIOD)


def test_a_token_from_the_future_is_refused():
    with pytest.raises(CSRFError, match='did not come from this site'):
        csrf.verify(KEY, 'zodbtasks.admin', _token(now=NOW + PERIOD), NOW)


def test_a_token_of_another_principal_is_refused():
    with pytest.raises(CSRFError) as info:
        csrf.verify(KEY, 'zodbtasks.admin', _token('test.viewer'), NOW)
    assert not isinstance(info.value, CSRFExpired)
    assert 'belongs to another login' in str(info.value)


def test_a_token_of_another_secret_is_refused():
    with pytest.raises(CSRFError, match='did not come from this site'):
        csrf.verify(KEY, 'zodbtasks.admin', _token(key=b'other'), NOW)


def test_a_token_moved_to_another_slot_is_refused():
    slot, mac = _token().split('.')
    with pytest.raises(CSRFError, match='did not come from this site'):
        csrf.verify(KEY, 'zodbtasks.admin', '%d.%s' % (int(slot) + 1, mac),
                    NOW + PERIOD)


@pytest.mark.parametrize('sent', [
    '', 'nonsense', '.', '12.', '.abc', '-1.abc', '١٢.abc', ['a', 'b'], None])
def test_malformed_tokens_are_refused(sent):
    with pytest.raises(CSRFError, match='did not come from this site'):
        csrf.verify(KEY, 'zodbtasks.admin', sent, NOW)


class Request:
    def __init__(self, method, form, principal_id):
        self.method = method
        self.form = form
        self.principal = type('Principal', (), {'id': principal_id})()


class Context:
    """Stands for a persistent object: its ``_p_jar.root()``."""

    def __init__(self):
        self._root = {}
        self._p_jar = self

    def root(self):
        return self._root


def test_check_takes_the_secret_from_the_database_and_the_time():
    context = Context()
    request = Request('GET', {}, 'zodbtasks.admin')
    sent = csrf.token(context, request, now=NOW)
    assert isinstance(context.root()[csrf.SECRET_KEY], str)
    post = Request('POST', {csrf.FIELD: sent}, 'zodbtasks.admin')
    csrf.check(context, post, now=NOW + PERIOD)
    with pytest.raises(CSRFExpired):
        csrf.check(context, post, now=NOW + 2 * PERIOD)


def test_check_needs_a_post():
    context = Context()
    request = Request('GET', {}, 'zodbtasks.admin')
    request.form[csrf.FIELD] = csrf.token(context, request, now=NOW)
    with pytest.raises(CSRFError, match='state changes need a POST'):
        csrf.check(context, request, now=NOW)
