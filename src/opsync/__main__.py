"""``python -m opsync``: the same as the ``opsync`` command."""

from opsync.cli.main import main

main()
