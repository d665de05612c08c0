"""Run by the interpreter at start-up when this folder is on ``PYTHONPATH``: ``bench/import_in_serve.py`` puts it on
the ``salesbridge serve`` process's, which then samples itself (:mod:`bench.serve_sampling`; nothing happens unless
the environment names a samples file). The processes serve starts (an import's own process) inherit the folder and
sample themselves into files of their own. Not a package: only the interpreter's start-up imports it."""

from bench.serve_sampling import start_sampling

start_sampling()
