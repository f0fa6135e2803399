"""``opsync db migrate`` and ``opsync db query`` against a SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opsync.cli.main import app
from opsync.store.migrations import load_migrations

runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path) -> list[str]:
    return ["--db", f"sqlite:///{tmp_path / 'cli.db'}"]


def test_migrate_applies_then_reports_up_to_date(db: list[str]) -> None:
    first = runner.invoke(app, [*db, "db", "migrate"])
    second = runner.invoke(app, [*db, "db", "migrate"])
    assert first.exit_code == 0, first.output
    shipped = load_migrations()
    assert first.output.splitlines() == [f"applied {m.version:04d} {m.name}" for m in shipped]
    assert first.output.splitlines()[:3] == [
        "applied 0001 analytics",
        "applied 0002 internal",
        "applied 0003 webhooks",
    ]
    assert second.exit_code == 0, second.output
    assert second.output.strip() == f"already up to date at version {shipped[-1].version:04d}"


def test_query_prints_a_table(db: list[str]) -> None:
    result = runner.invoke(
        app, [*db, "db", "query", "SELECT version, name FROM schema_migrations ORDER BY version"]
    )
    assert result.exit_code == 0, result.output
    assert "version" in result.output
    assert "analytics" in result.output
    assert "internal" in result.output
    assert f"{len(load_migrations())} row(s)" in result.output


def test_query_json_gives_objects(db: list[str]) -> None:
    runner.invoke(
        app, [*db, "db", "query", "INSERT INTO kv (key, value, updated_at) VALUES ('a', 'x', 5)"]
    )
    result = runner.invoke(
        app, [*db, "db", "query", "--json", "SELECT key, value, expires_at FROM kv"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [{"key": "a", "value": "x", "expires_at": None}]


def test_query_reads_a_file(db: list[str], tmp_path: Path) -> None:
    script = tmp_path / "q.sql"
    script.write_text(
        "INSERT INTO kv (key, value, updated_at) VALUES ('k1', 'v1', 1);\n"
        "INSERT INTO kv (key, value, updated_at) VALUES ('k2', 'v2', 2);\n"
        "SELECT COUNT(*) AS n FROM kv;\n"
    )
    result = runner.invoke(app, [*db, "db", "query", "--json", "--file", str(script)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [{"n": 2}]


def test_statement_without_rows_says_ok(db: list[str]) -> None:
    result = runner.invoke(app, [*db, "db", "query", "DELETE FROM kv"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "ok (no rows returned)"


def test_bad_sql_is_one_line_and_exit_1(db: list[str]) -> None:
    result = runner.invoke(app, [*db, "db", "query", "SELECT * FROM no_such_table"])
    assert result.exit_code == 1
    assert result.output.strip() == "error: no such table: no_such_table"


@pytest.mark.parametrize("extra", [[], ["SELECT 1", "--file", __file__]])
def test_query_needs_exactly_one_source_of_sql(db: list[str], extra: list[str]) -> None:
    result = runner.invoke(app, [*db, "db", "query", *extra])
    assert result.exit_code == 2
