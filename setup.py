"""Setup for zodbtasks."""
import os

from setuptools import find_namespace_packages
from setuptools import setup


def read(*parts):
    with open(os.path.join(os.path.dirname(__file__), *parts)) as f:
        return f.read()


TESTS_REQUIRE = [
    'beautifulsoup4',
    'hypothesis',
    # The parser that checks the text of @@metrics and `zodbtasks metrics`.
    'prometheus_client',
    # A terminal emulator: the screen of `zodbtasks top` in its test.
    'pyte',
    'pytest',
    'pytest-timeout',
    # RelStorage's PostgreSQL tests (tests/relstorage); its [postgresql]
    # extra wants psycopg2, which builds from source against libpq:
    # psycopg2-binary is the same module as a wheel.
    'psycopg2-binary',
    'RelStorage==4.3.0',
    'selenium',
    'WebTest',
    'zope.testbrowser',
    'zope.testing',
]

APP_REQUIRE = [
    'bcrypt',  # the manager's password hash (zope.password's BCRYPT)
    'waitress',
    'ZEO',
    'zope.app.rotterdam',
    'zope.app.wsgi',
    'zope.app.zcmlfiles',
    'zope.login',
    'zope.password',
    'zope.principalregistry',
    'zope.securitypolicy',
]

setup(
    name='zodbtasks',
    version='0.2.dev0',
    description='ZODB-native persistent task service for Zope Toolkit '
                'applications: jobs, cron jobs and processor threads.',
    long_description=read('README.rst') + '\n\n' + read('CHANGES.rst'),
    long_description_content_type='text/x-rst',
    license='ZPL-2.1',
    classifiers=[
        'Framework :: ZODB',
        'Framework :: Zope :: 3',
        'Programming Language :: Python :: 3',
        'Programming Language :: Python :: 3.11',
        'Programming Language :: Python :: 3.12',
        'Programming Language :: Python :: 3.13',
    ],
    python_requires='>=3.11',
    package_dir={'': 'src'},
    # Namespace packages too: data folders such as browser/templates are
    # then packages whose files package_data names.
    packages=find_namespace_packages('src', include=['zodbtasks*']),
    include_package_data=True,
    package_data={'': ['*.zcml', '*.pt', '*.rst', '*.css', '*.js', '*.png',
                       '*.xml']},
    zip_safe=False,
    install_requires=[
        'BTrees',
        'persistent',
        'setuptools',
        'transaction',
        'ZODB',
        'zc.queue',
        'zope.app.appsetup',
        'zope.component',
        'zope.configuration',
        'zope.container',
        'zope.interface',
        'zope.location',
        'zope.processlifetime',
        'zope.schema',
        'zope.site',
    ],
    extras_require={
        'test': TESTS_REQUIRE,
        'app': APP_REQUIRE,
    },
    entry_points={
        'console_scripts': [
            'zodbtasks-server = zodbtasks.app.server:main',
            'zodbtasks-worker = zodbtasks.app.worker:main',
            'zodbtasks = zodbtasks.app.ops:main',
        ],
        # Plone 6 loads the ZCML of zodbtasks.plone by itself.
        'plone.autoinclude.plugin': [
            'target = plone',
            'module = zodbtasks.plone',
        ],
    },
)
