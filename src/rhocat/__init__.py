"""rhocat: learn Kohn-Sham charge densities of bulk catalysts and warm-start pw.x from them.

Stages of the data flow, one package each::

    structures -> split -> qe -> data -> models -> train -> predict -> evaluate -> report

``cli`` is a thin layer over the Python API of those packages.
"""

__version__ = "0.1.0"
