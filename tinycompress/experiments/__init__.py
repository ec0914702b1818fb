"""The long runs behind the chapters' figures, out of the library's teaching path.

Each module is run with ``python -m tinycompress.experiments.<name>`` and keeps its results in
``data/results/<name>.json`` (:mod:`.results`), which the notebooks load. Nothing in the
technique packages imports them.
"""
