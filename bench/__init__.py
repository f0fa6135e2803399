"""opsync's benchmarks against both simulators: ``python -m bench`` (``make bench``).

See ``bench/README.md`` for what each number means and how to reproduce it.
"""
