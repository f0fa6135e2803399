"""``opsync sandbox``: run the OpenPhone or Notion simulator standalone (filled by the sandbox work)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Run the OpenPhone and Notion simulators.", no_args_is_help=True)
