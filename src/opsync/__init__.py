"""opsync: mirror OpenPhone (Quo) calls and messages into Notion."""

__version__ = "0.1.0"
