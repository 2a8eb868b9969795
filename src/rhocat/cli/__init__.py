"""Command-line interface: ``rhocat <command> ...``, a thin layer over the Python API."""
