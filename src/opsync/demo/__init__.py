"""``opsync demo``: both simulators and the service on loopback, a traffic scenario, a check
of the simulated Notion workspace against the simulated OpenPhone data, and a summary."""

from opsync.demo.runner import DemoError, DemoOptions, run_demo
from opsync.demo.summary import render_summary

__all__ = ["DemoError", "DemoOptions", "render_summary", "run_demo"]
