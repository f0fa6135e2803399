"""OpenPhone (Quo) v1 API simulator: seeded workspace, Starlette app, webhook emitter.

Typical use::

    ws = generate_workspace(seed=1, now=clock.now())
    sim = OpenPhoneSimulator(ws, SimulatorConfig(api_key="k"), clock=clock)
    async with serve(sim.app) as base_url:          # opsync.sandbox._server.serve
        ...                                         # GET {base_url}/v1/phone-numbers
        call = ws.add_call(pn_id, "+14155550100", at=clock.now())
        async with sim.emitter(base_url, [Target(url, secret)]) as emitter:
            await emitter.play_call(call.id)        # ringing → ... → summary, on the clock
"""

from opsync.sandbox.openphone.app import OpenPhoneSimulator, SimulatorConfig
from opsync.sandbox.openphone.control import FaultConfig, FaultInjector, RateLimiter
from opsync.sandbox.openphone.generator import WorkspaceSize, generate_workspace
from opsync.sandbox.openphone.webhooks import (
    DeliveryOptions,
    Target,
    WebhookEmitter,
    call_schedule,
)
from opsync.sandbox.openphone.workspace import Workspace

__all__ = [
    "DeliveryOptions",
    "FaultConfig",
    "FaultInjector",
    "OpenPhoneSimulator",
    "RateLimiter",
    "SimulatorConfig",
    "Target",
    "WebhookEmitter",
    "Workspace",
    "WorkspaceSize",
    "call_schedule",
    "generate_workspace",
]
