"""Simulators of OpenPhone and Notion: real HTTP servers on loopback for demo, tests, benchmarks."""
