"""Run the package README as a doctest on a real FileStorage."""
import doctest
import os

import zodbtasks

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def test_package_readme(tmp_path):
    path = os.path.join(os.path.dirname(zodbtasks.__file__), 'README.rst')
    failures, tried = doctest.testfile(
        path, module_relative=False, optionflags=FLAGS,
        globs={'tmpdir': str(tmp_path)}, report=True)
    assert tried > 50
    assert failures == 0, 'see the doctest report above'
