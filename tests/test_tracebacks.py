"""Tracebacks with the transaction manager's frames folded
(zodbtasks.browser.tracebacks)."""
from zodbtasks.browser import tracebacks

SITE = '/srv/app/lib/python3.11/site-packages'
TEXT = '''Traceback (most recent call last):
  File "%(site)s/zodbtasks/runner.py", line 108, in run_job
    _run_resetting_once(service, tm, jobid, now, owner, stop)
  File "%(site)s/zodbtasks/transactions.py", line 97, in in_transaction
    result = func(*args, **kwargs)
             ^^^^^^^^^^^^^^^^^^^^^
  File "%(site)s/zodbtasks/runner.py", line 195, in _execute
    output = task(bound, jobid, data)
  File "%(site)s/zodbtasks/task.py", line 48, in __call__
    return self.func(input)
  File "/srv/app/src/shop/tasks.py", line 12, in send_invoice
    mailer.send(invoice)
  File "/srv/app/src/shop/mail.py", line 40, in send
    raise ValueError('no mail server')
ValueError: no mail server''' % {'site': SITE}


def _shown(parts):
    return [part['text'] if not part['folded'] else part['folded']
            for part in parts]


def test_the_machinerys_frames_are_folded_the_users_kept():
    parts = tracebacks.fold(TEXT)
    shown = _shown(parts)
    assert shown[0] == 'Traceback (most recent call last):'
    assert shown[1] == 4
    assert shown[2].startswith('  File "/srv/app/src/shop/tasks.py"')
    assert shown[2].endswith('ValueError: no mail server')
    assert 'mail.py' in shown[2] and len(shown) == 3
    assert tracebacks.folded_count(parts) == 4


def test_the_frame_that_raised_is_never_folded():
    text = '''Traceback (most recent call last):
  File "%(site)s/zodbtasks/runner.py", line 1, in run_job
    x()
  File "%(site)s/transaction/_manager.py", line 2, in commit
    self.get().commit()
  File "%(site)s/ZODB/Connection.py", line 3, in commit
    raise ConflictError()
ZODB.POSException.ConflictError: database conflict error''' % {'site': SITE}
    shown = _shown(tracebacks.fold(text))
    assert shown[1] == 2
    assert shown[2].startswith('  File "%s/ZODB/Connection.py"' % SITE)


def test_chained_tracebacks_fold_each_part():
    text = TEXT + '''

During handling of the above exception, another exception occurred:

''' + TEXT.replace('ValueError', 'KeyError')
    parts = tracebacks.fold(text)
    assert tracebacks.folded_count(parts) == 8
    assert text.count('shop/mail.py') == sum(
        part['text'].count('shop/mail.py') for part in parts)


def test_windows_paths_and_user_modules_named_like_ours():
    assert tracebacks.is_machinery(r'C:\Python\Lib\site-packages\ZODB\DB.py')
    assert tracebacks.is_machinery(SITE + '/transaction/_transaction.py')
    assert not tracebacks.is_machinery('/srv/app/src/shop/transaction.py')
    assert not tracebacks.is_machinery('/srv/app/src/myrunner.py')
    assert not tracebacks.is_machinery(SITE + '/zodbtasks/demo/__init__.py')


def test_text_that_is_no_traceback_is_shown_whole():
    assert _shown(tracebacks.fold('just a message')) == ['just a message']
    assert tracebacks.fold('') == [] and tracebacks.shown(None) is None


def test_what_a_page_shows():
    shown = tracebacks.shown(TEXT)
    assert shown['full'] == TEXT and shown['folded'] == 4
    assert shown['parts'][1]['label'] == \
        '… 4 frames of the transaction manager folded …'
    assert tracebacks.describe(1) == \
        '… 1 frame of the transaction manager folded …'
