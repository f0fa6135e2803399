"""Calls and their artefacts: ``/v1/calls``, recordings, summaries, transcripts, voicemails.

Choices on undocumented behaviour:

* List calls returns newest first (``createdAt`` descending, then id). ``participants``
  must hold exactly one E.164 number: missing/empty → 400, more than one → 400 (the spec's
  only 400 for this path, ``0101400`` "Too Many Participants"). ``Call.participants`` holds
  the other party only. An unknown ``phoneNumberId`` → 404.
* Without ``userId`` all users' calls on the number are listed (switch
  ``SimulatorConfig.calls_default_to_owner`` to list only the number owner's, as the
  changelog suggests the real default may be). A ``userId`` that is not a member of the
  number → 403 "Not Phone Number User" (``0101403``; ``0202403`` on list messages).
* Summary/transcript not yet produced (call ringing, or still ``in-progress``, or never to
  exist): by default ``200`` with a status object (``absent`` / ``in-progress``, null
  content); with ``SimulatorConfig.pending_artifacts="404"`` a ``404`` instead until the
  artefact is ``completed``. Unknown call → 404 either way.
* Voicemail: ``in-progress`` → 200 with null fields (documented); a call without voicemail
  → 404. Recordings of a call without any → ``{"data": []}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from opsync.sandbox.openphone import params
from opsync.sandbox.openphone.errors import ApiError
from opsync.sandbox.openphone.models import Call, iso

if TYPE_CHECKING:
    from opsync.sandbox.openphone.app import OpenPhoneSimulator

CALL_ID = r"^AC(.*)$"


def _call(sim: OpenPhoneSimulator, call_id: str, resource: str, name: str) -> Call:
    params.check_path(call_id, CALL_ID, name, resource)
    call = sim.workspace.calls.get(call_id)
    if call is None:
        raise ApiError(resource, 404, f"Call {call_id} not found")
    return call


async def list_calls(sim: OpenPhoneSimulator, request: Request) -> Response:
    query, resource = request.query_params, "calls"
    phone_number_id = params.required(query, "phoneNumberId", resource, r"^PN(.*)$")
    participants = params.array_param(query, "participants")
    if not participants:
        raise params.bad(resource, "/query/participants", "participants is required", [], "array")
    if len(participants) > 1:
        raise params.bad(
            resource,
            "/query/participants",
            "Too many participants: list calls supports exactly one participant",
            participants,
            "array",
        )
    params.phone_numbers(participants, "participants", resource)
    user_id = params.optional(query, "userId", resource, r"^US(.*)$")
    limit = params.max_results(query, resource, 100)
    after = params.date_param(query, "createdAfter", resource)
    before = params.date_param(query, "createdBefore", resource)
    since = params.date_param(query, "since", resource)
    if since is not None:
        before = since if before is None else min(before, since)
    ws = sim.workspace
    if ws.find_phone_number(phone_number_id) is None:
        raise ApiError(resource, 404, f"Phone number {phone_number_id} not found")
    params.check_member(ws, phone_number_id, user_id, resource)
    if user_id is None and sim.config.calls_default_to_owner:
        user_id = ws.number_owner(phone_number_id)
    matches = [
        c
        for c in ws.calls.values()
        if c.phone_number_id == phone_number_id
        and c.participant == participants[0]
        and (user_id is None or c.user_id == user_id)
        and params.in_window(c.created_at, after, before)
    ]
    page = params.paginate(
        matches,
        sort_key=lambda c: (c.created_at, c.id),
        descending=True,
        limit=limit,
        token=query.get("pageToken"),
        resource=resource,
        render=Call.to_json,
    )
    return JSONResponse(page)


async def get_call(sim: OpenPhoneSimulator, request: Request) -> Response:
    call = _call(sim, request.path_params["callId"], "calls", "callId")
    return JSONResponse({"data": call.to_json()})


async def get_recordings(sim: OpenPhoneSimulator, request: Request) -> Response:
    call = _call(sim, request.path_params["callId"], "call-recordings", "callId")
    base = params.base_url(request)
    ordered = sorted(call.recordings, key=lambda r: (r.start_time or 0.0, r.id))
    return JSONResponse({"data": [r.to_json(base) for r in ordered]})


def _not_ready(sim: OpenPhoneSimulator, resource: str, call_id: str, what: str) -> None:
    if sim.config.pending_artifacts == "404":
        raise ApiError(resource, 404, f"{what} for call {call_id} not found")


async def get_summary(sim: OpenPhoneSimulator, request: Request) -> Response:
    resource = "call-summaries"
    call = _call(sim, request.path_params["callId"], resource, "callId")
    summary = call.summary
    if summary is None or summary.status != "completed":
        _not_ready(sim, resource, call.id, "Summary")
    if summary is None:
        body = {"callId": call.id, "status": "absent", "summary": None, "nextSteps": None}
        return JSONResponse({"data": body})
    return JSONResponse({"data": summary.to_json(call.id)})


async def get_transcript(sim: OpenPhoneSimulator, request: Request) -> Response:
    resource = "call-transcripts"
    call = _call(sim, request.path_params["id"], resource, "id")
    transcript = call.transcript
    if transcript is None or transcript.status != "completed":
        _not_ready(sim, resource, call.id, "Transcript")
    if transcript is None:
        body = {
            "callId": call.id,
            "createdAt": iso(call.created_at),
            "dialogue": None,
            "duration": float(call.duration),
            "status": "absent",
        }
        return JSONResponse({"data": body})
    return JSONResponse({"data": transcript.to_json(call.id)})


async def get_voicemail(sim: OpenPhoneSimulator, request: Request) -> Response:
    resource = "call-voicemails"
    call = _call(sim, request.path_params["callId"], resource, "callId")
    if call.voicemail is None:
        raise ApiError(resource, 404, f"Voicemail for call {call.id} not found")
    return JSONResponse({"data": call.voicemail.to_json(params.base_url(request))})


ROUTES = [
    ("GET", "/v1/calls", "calls", list_calls),
    ("GET", "/v1/calls/{callId}", "calls", get_call),
    ("GET", "/v1/call-recordings/{callId}", "call-recordings", get_recordings),
    ("GET", "/v1/call-summaries/{callId}", "call-summaries", get_summary),
    ("GET", "/v1/call-transcripts/{id}", "call-transcripts", get_transcript),
    ("GET", "/v1/call-voicemails/{callId}", "call-voicemails", get_voicemail),
]
