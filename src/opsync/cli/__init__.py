"""The ``opsync`` command line."""
