"""Reading a Prometheus exposition back in tests."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True)
class Exposition:
    """The samples of one exposition, by sample name and labels."""

    samples: dict[tuple[str, frozenset[tuple[str, str]]], float]
    families: frozenset[str]

    @classmethod
    def parse(cls, text: str) -> Exposition:
        samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        families: set[str] = set()
        for family in text_string_to_metric_families(text):
            families.add(family.name)
            for sample in family.samples:
                samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
        return cls(samples, frozenset(families))

    def value(self, name: str, **labels: str) -> float | None:
        """The sample ``name`` with exactly ``labels``; ``None`` when absent."""
        return self.samples.get((name, frozenset(labels.items())))

    def labelled(self, name: str) -> list[dict[str, str]]:
        """The label sets of every sample called ``name``."""
        return [dict(labels) for (sample, labels) in self.samples if sample == name]

    def total(self, name: str, **labels: str) -> float:
        """The sum of the samples ``name`` whose labels include ``labels``."""
        wanted = set(labels.items())
        return sum(v for (sample, ls), v in self.samples.items() if sample == name and wanted <= ls)
