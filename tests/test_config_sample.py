"""The shipped zope.conf sample is valid for zope.app.appsetup's schema."""
import io
import os

import ZConfig
import zope.app.appsetup
import zope.app.appsetup.product

from zodbtasks.startup import parse_autostart

HERE = os.path.dirname(__file__)
SAMPLE = os.path.join(HERE, os.pardir, 'etc', 'zope.conf.sample')


def _load(instance):
    os.makedirs(os.path.join(instance, 'log'))
    with open(SAMPLE) as f:
        text = f.read().replace('%define INSTANCE var',
                                '%define INSTANCE ' + instance)
    schema = ZConfig.loadSchema(os.path.join(
        os.path.dirname(zope.app.appsetup.__file__), 'schema', 'schema.xml'))
    config, _ = ZConfig.loadConfigFile(schema, io.StringIO(text))
    return config


def test_sample_defines_instance_folder_once():
    with open(SAMPLE) as f:
        assert f.read().count('%define INSTANCE var') == 1


def test_sample_has_a_filestorage_in_the_instance(tmp_path):
    config = _load(str(tmp_path))
    storage = config.databases[0].config.storage.config
    assert storage.path == os.path.join(str(tmp_path), 'Data.fs')


def test_sample_autostart_is_valid(tmp_path):
    config = _load(str(tmp_path))
    zope.app.appsetup.product.setProductConfigurations(config.product_config)
    section = zope.app.appsetup.product.getProductConfiguration('zodbtasks')
    assert parse_autostart(section['autostart']) == ['demo@*']


def test_sample_max_input_size_is_valid(tmp_path):
    from zodbtasks.startup import max_input_size
    config = _load(str(tmp_path))
    zope.app.appsetup.product.setProductConfigurations(config.product_config)
    section = zope.app.appsetup.product.getProductConfiguration('zodbtasks')
    assert max_input_size(section) == 1048576
