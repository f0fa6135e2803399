"""``opsync db``: migrate the store and run ad-hoc SQL (filled by the store work)."""

from __future__ import annotations

import typer

app = typer.Typer(help="The SQL store: migrations and ad-hoc queries.", no_args_is_help=True)
