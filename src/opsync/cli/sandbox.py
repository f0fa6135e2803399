"""``opsync sandbox``: run the OpenPhone or Notion simulator standalone on a loopback port."""

from __future__ import annotations

import typer

app = typer.Typer(help="Run the OpenPhone and Notion simulators.", no_args_is_help=True)


@app.command("openphone")
def openphone(
    port: int = typer.Option(8701, help="Port to listen on."),
    host: str = typer.Option("127.0.0.1", help="Address to bind."),
    api_key: str | None = typer.Option(
        None, "--api-key", help="The only API key accepted; without it any non-empty key."
    ),
    seed: int = typer.Option(1, help="Seed of the generated workspace."),
) -> None:
    """Serve the OpenPhone API simulator with a generated workspace."""
    from opsync.sandbox.openphone.standalone import run

    run(host=host, port=port, api_key=api_key, seed=seed)


@app.command("notion")
def notion(
    port: int = typer.Option(8702, help="Port to listen on."),
    host: str = typer.Option("127.0.0.1", help="Address to bind."),
    api_key: str | None = typer.Option(
        None, "--api-key", help="The only token accepted; without it any non-empty token."
    ),
    seed_databases: bool = typer.Option(
        True,
        "--seed-databases/--empty",
        help="Start with the seed's Calls, Messages and Canvas databases and print their ids.",
    ),
) -> None:
    """Serve the Notion API simulator."""
    from opsync.sandbox.notion.standalone import run

    run(host=host, port=port, api_key=api_key, seed_databases=seed_databases)
