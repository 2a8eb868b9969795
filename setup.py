"""Build hook: everything is in pyproject.toml except the optional C speed-up.

``rhocat.qe._hpsort`` is QE's ``hpsort_eps`` in C (pw.x's G order for nearly symmetric
cells, ~100x faster than the pure-Python port it mirrors). It is optional: without a C
compiler the build goes on and rhocat uses the Python port.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("rhocat.qe._hpsort", ["src/rhocat/qe/_hpsort.c"], optional=True)])
