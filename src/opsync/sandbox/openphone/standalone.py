"""``opsync sandbox openphone``: serve a generated workspace on a port until Ctrl-C."""

from __future__ import annotations

from opsync.clock import SystemClock
from opsync.sandbox._server import run_forever
from opsync.sandbox.openphone.app import OpenPhoneSimulator, SimulatorConfig
from opsync.sandbox.openphone.generator import generate_workspace


def build(api_key: str | None, seed: int) -> OpenPhoneSimulator:
    clock = SystemClock()
    workspace = generate_workspace(seed, clock.now())
    return OpenPhoneSimulator(workspace, SimulatorConfig(api_key=api_key), clock=clock)


def banner(sim: OpenPhoneSimulator, base_url: str) -> str:
    lines = [f"OpenPhone simulator: {base_url}/v1  (seed {sim.workspace.seed})"]
    if sim.config.api_key is None:
        lines.append("Authorization: any non-empty API key is accepted (raw key, no 'Bearer').")
    else:
        lines.append("Authorization: only the --api-key given is accepted.")
    lines.append("Phone numbers:")
    for number in sim.workspace.phone_numbers:
        lines.append(f"  {number['id']}  {number['number']}  {number['name']}")
    return "\n".join(lines)


def run(host: str, port: int, api_key: str | None, seed: int) -> None:
    sim = build(api_key, seed)
    print(banner(sim, f"http://{host}:{port}"), flush=True)
    run_forever(sim.app, host, port)
