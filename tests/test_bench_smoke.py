"""``bench/`` still runs: all four benchmarks at their smoke-test sizes (``--tiny``).

The numbers mean nothing at these sizes; what is checked is that every benchmark ran to the
end, measured what it reports, and wrote the JSON that ``make bench`` writes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench.__main__ import ORDER, main


@pytest.mark.timeout(60)
def test_every_benchmark_runs_at_a_tiny_size(tmp_path: Path) -> None:
    output = tmp_path / "results.json"

    assert main(["--tiny", "--output", str(output)]) == 0

    document = json.loads(output.read_text())
    assert document["failures"] == {}
    assert sorted(document["benchmarks"]) == sorted(ORDER)
    assert document["machine"]["cores"] >= 1
    for name, result in document["benchmarks"].items():
        assert result["checks"], name
        for check in result["checks"]:
            assert isinstance(check["value"], int | float), (name, check)
    backfill = document["benchmarks"]["backfill"]["metrics"]
    assert backfill["inbox"]["dead"] == 0
    assert backfill["notion_requests"] > 0
    ingest = document["benchmarks"]["ingest"]["metrics"]["as_shipped"]
    assert ingest["ingest_legacy"]["statuses"] == {"202": ingest["ingest_legacy"]["answered"]}
    memory = document["benchmarks"]["memory"]["metrics"]
    assert memory["messages_written"] == 30
    assert memory["peak_rss_mb"] > 0
    canvas = document["benchmarks"]["canvas"]["metrics"]
    assert canvas["notion_requests_during_cached"] == 0
