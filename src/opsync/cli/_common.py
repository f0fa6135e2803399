"""What every CLI command shares: the settings built once per invocation, async running, and
the mapping of our errors to exit codes (a missing setting exits 2 with one line)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import typer

from opsync.config import Settings, load_settings
from opsync.errors import ConfigError, OpsyncError

T = TypeVar("T")


@dataclass
class CliState:
    """Global options, kept on ``ctx.obj`` by the root callback."""

    db: str | None = None

    def settings(self) -> Settings:
        try:
            overrides = {"database_url": self.db} if self.db else {}
            return load_settings(overrides=overrides)
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            typer.echo(f"invalid settings: {exc}", err=True)
            raise typer.Exit(2) from exc


def state(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    if not isinstance(obj, CliState):
        obj = CliState()
        ctx.find_root().obj = obj
    return obj


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run an async command; our errors become one line on stderr and an exit code."""
    try:
        return asyncio.run(coro)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    except OpsyncError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
