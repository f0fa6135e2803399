"""``opsync``: the root Typer app. Sub-apps live in sibling modules, one noun each."""

from __future__ import annotations

import typer

from opsync import __version__
from opsync.cli._common import CliState
from opsync.cli.backfill import backfill
from opsync.cli.canvas import app as canvas_app
from opsync.cli.db import app as db_app
from opsync.cli.demo import demo
from opsync.cli.dlq import app as dlq_app
from opsync.cli.doctor import doctor
from opsync.cli.notion import app as notion_app
from opsync.cli.phone import app as phone_app
from opsync.cli.sandbox import app as sandbox_app
from opsync.cli.serve import serve
from opsync.cli.stats import stats
from opsync.cli.timeline import timeline
from opsync.cli.webhooks import app as webhooks_app

app = typer.Typer(
    name="opsync",
    help="Mirror OpenPhone (Quo) calls and messages into Notion.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(canvas_app, name="canvas")
app.add_typer(db_app, name="db")
app.add_typer(dlq_app, name="dlq")
app.add_typer(notion_app, name="notion")
app.add_typer(phone_app, name="phone")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(webhooks_app, name="webhooks")
app.command("serve")(serve)
app.command("demo")(demo)
app.command("stats")(stats)
app.command("backfill")(backfill)
app.command("timeline")(timeline)
app.command("doctor")(doctor)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"opsync {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    db: str | None = typer.Option(
        None, "--db", metavar="URL", help="Database URL; overrides OPSYNC_DATABASE_URL."
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    ctx.obj = CliState(db=db)


def main() -> None:
    app()
