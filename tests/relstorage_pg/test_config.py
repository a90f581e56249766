"""The ``<relstorage>`` sections that docs/deployment.rst and
etc/zope.conf.sample show are what a worker reads, and open."""
import os
import re

import ZODB.config

import doc_commands
from zeo.conftest import SAMPLE
from zeo.conftest import make_instance
from zodbtasks import testing
from zodbtasks.app import worker

DOC = os.path.join('docs', 'deployment.rst')
DOCUMENTED_DSN = ('host=10.0.0.10 dbname=zodbtasks user=zodbtasks '
                  'password=secret')


def documented_section():
    block = doc_commands.block_with(DOC, '<relstorage>')
    assert block.startswith('%import relstorage\n')
    return block[len('%import relstorage\n'):].strip()


def sample_section():
    """The sample's commented ``<relstorage>`` variant, uncommented."""
    with open(SAMPLE) as f:
        text = f.read()
    [block] = re.findall(r'^# <zodb>\n#   <relstorage>\n.*?^# </zodb>$',
                         text, re.MULTILINE | re.DOTALL)
    assert '# %import relstorage\n' in text
    return re.sub(r'^# ?', '', block, flags=re.MULTILINE)


def test_the_documented_section_is_the_samples():
    assert documented_section() == sample_section()


def test_a_worker_reads_the_documented_section(tmp_path):
    config = make_instance(str(tmp_path), documented_section(),
                           imports=['relstorage'])
    [database] = worker.read_config(config).databases
    section = database.config.storage.config
    assert section.keep_history is False
    assert section.cache_local_mb == 100
    assert section.commit_lock_timeout == 30
    assert section.adapter.config.dsn == DOCUMENTED_DSN


def test_the_documented_section_opens_a_history_free_database(pg_dsn):
    text = '%import relstorage\n' + documented_section().replace(
        DOCUMENTED_DSN, pg_dsn)
    db = ZODB.config.databaseFromString(text)
    try:
        assert db.storage._options.keep_history is False
        assert db.storage._options.cache_local_mb == 100
        with db.transaction() as connection:
            connection.root()['x'] = 1
        with db.transaction() as connection:
            assert connection.root()['x'] == 1
    finally:
        testing.close_database(db)
