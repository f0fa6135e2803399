"""Phone numbers, users, contacts, conversations and messages.

Choices on undocumented behaviour:

* Users and contacts list oldest first (``createdAt``, then id); messages newest first;
  conversations by ``lastActivityAt`` descending (conversations without activity last).
* List messages: ``participants`` (required, E.164, one or more) matches a message whose set
  of other parties equals the given set. REST messages carry no media and no conversation
  id (as in the spec); incoming ones have ``status: delivered`` and ``userId`` = the number
  owner (the schema makes ``userId`` a non-null string).
* List conversations: ``phoneNumbers`` items may be ``PN…`` ids or E.164 numbers (1-100
  items); ``userId`` keeps conversations on numbers the user is a member of;
  ``excludeInactive`` drops conversations that never had activity.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from opsync.sandbox.openphone import params
from opsync.sandbox.openphone.errors import ApiError
from opsync.sandbox.openphone.models import Conversation, Message, parse_iso

if TYPE_CHECKING:
    from opsync.sandbox.openphone.app import OpenPhoneSimulator

CUSTOM_FIELDS = [{"name": "Inbound Lead", "key": "inbound-lead", "type": "boolean"}]


def _created(item: dict[str, Any]) -> tuple[float, str]:
    return parse_iso(item["createdAt"]), str(item["id"])


async def list_phone_numbers(sim: OpenPhoneSimulator, request: Request) -> Response:
    user_id = params.optional(request.query_params, "userId", "phone-numbers", r"^US(.*)$")
    numbers = [
        n
        for n in sim.workspace.phone_numbers
        if user_id is None or any(u["id"] == user_id for u in n["users"])
    ]
    return JSONResponse({"data": numbers})


async def get_phone_number(sim: OpenPhoneSimulator, request: Request) -> Response:
    ref = request.path_params["phoneNumberId"]
    params.check_path(ref, r"^PN(.*)$", "phoneNumberId", "phone-numbers")
    number = next((n for n in sim.workspace.phone_numbers if n["id"] == ref), None)
    if number is None:
        raise ApiError("phone-numbers", 404, f"Phone number {ref} not found")
    return JSONResponse({"data": number})


async def list_users(sim: OpenPhoneSimulator, request: Request) -> Response:
    query = request.query_params
    page = params.paginate(
        sim.workspace.users,
        sort_key=_created,
        descending=False,
        limit=params.max_results(query, "users", 50),
        token=query.get("pageToken"),
        resource="users",
        render=dict,
    )
    return JSONResponse(page)


async def get_user(sim: OpenPhoneSimulator, request: Request) -> Response:
    ref = request.path_params["userId"]
    params.check_path(ref, r"^US(.*)$", "userId", "users")
    user = next((u for u in sim.workspace.users if u["id"] == ref), None)
    if user is None:
        raise ApiError("users", 404, f"User {ref} not found")
    return JSONResponse({"data": user})


async def list_contacts(sim: OpenPhoneSimulator, request: Request) -> Response:
    query = request.query_params
    limit = params.max_results(query, "contacts", 50)
    external_ids = params.array_param(query, "externalIds")
    sources = params.array_param(query, "sources")
    for name, values in (("externalIds", external_ids), ("sources", sources)):
        for value in values:
            if len(value) > 75:
                raise params.bad(
                    "contacts", f"/query/{name}", f"{name} items are 1-75 chars", value
                )
    matches = [
        c
        for c in sim.workspace.contacts
        if (not external_ids or c["externalId"] in external_ids)
        and (not sources or c["source"] in sources)
    ]
    page = params.paginate(
        matches,
        sort_key=_created,
        descending=False,
        limit=limit,
        token=query.get("pageToken"),
        resource="contacts",
        render=dict,
    )
    return JSONResponse(page)


async def get_contact(sim: OpenPhoneSimulator, request: Request) -> Response:
    ref = request.path_params["id"]
    contact = next((c for c in sim.workspace.contacts if c["id"] == ref), None)
    if contact is None:
        raise ApiError("contacts", 404, f"Contact {ref} not found")
    return JSONResponse({"data": contact})


async def list_custom_fields(sim: OpenPhoneSimulator, request: Request) -> Response:
    return JSONResponse({"data": CUSTOM_FIELDS})


def _activity_key(conv: Conversation) -> tuple[float, str]:
    return (conv.last_activity_at if conv.last_activity_at is not None else float("-inf"), conv.id)


async def list_conversations(sim: OpenPhoneSimulator, request: Request) -> Response:
    query, resource, ws = request.query_params, "conversations", sim.workspace
    refs = params.array_param(query, "phoneNumbers")
    if not refs and query.get("phoneNumber"):
        refs = [query["phoneNumber"]]
    if len(refs) > 100:
        raise params.bad(resource, "/query/phoneNumbers", "at most 100 phoneNumbers", refs, "array")
    for ref in refs:
        if not (ref.startswith("PN") or params.E164.match(ref)):
            raise params.bad(resource, "/query/phoneNumbers", "PN id or E.164 expected", ref)
    wanted = {n["id"] for ref in refs if (n := ws.find_phone_number(ref)) is not None}
    user_id = params.optional(query, "userId", resource, r"^US(.*)$")
    member_of = {n["id"] for n in ws.phone_numbers if any(u["id"] == user_id for u in n["users"])}
    exclude_inactive = query.get("excludeInactive", "false").lower()
    if exclude_inactive not in {"true", "false"}:
        raise params.bad(resource, "/query/excludeInactive", "must be a boolean", None, "boolean")
    limit = params.max_results(query, resource, 100)
    windows = {
        name: params.date_param(query, name, resource)
        for name in ("createdAfter", "createdBefore", "updatedAfter", "updatedBefore")
    }
    matches = [
        c
        for c in ws.conversations.values()
        if (not refs or c.phone_number_id in wanted)
        and (user_id is None or c.phone_number_id in member_of)
        and (exclude_inactive == "false" or c.last_activity_at is not None)
        and params.in_window(c.created_at, windows["createdAfter"], windows["createdBefore"])
        and params.in_window(c.updated_at, windows["updatedAfter"], windows["updatedBefore"])
    ]
    page = params.paginate(
        matches,
        sort_key=_activity_key,
        descending=True,
        limit=limit,
        token=query.get("pageToken"),
        resource=resource,
        render=Conversation.to_json,
    )
    return JSONResponse(page)


async def list_messages(sim: OpenPhoneSimulator, request: Request) -> Response:
    query, resource, ws = request.query_params, "messages", sim.workspace
    phone_number_id = params.required(query, "phoneNumberId", resource, r"^PN(.*)$")
    participants = params.array_param(query, "participants")
    if not participants:
        raise params.bad(resource, "/query/participants", "participants is required", [], "array")
    params.phone_numbers(participants, "participants", resource)
    user_id = params.optional(query, "userId", resource, r"^US(.*)$")
    limit = params.max_results(query, resource, 100)
    after = params.date_param(query, "createdAfter", resource)
    before = params.date_param(query, "createdBefore", resource)
    since = params.date_param(query, "since", resource)
    if since is not None:
        before = since if before is None else min(before, since)
    number = ws.find_phone_number(phone_number_id)
    if number is None:
        raise ApiError(resource, 404, f"Phone number {phone_number_id} not found")
    params.check_member(ws, phone_number_id, user_id, resource)
    wanted = set(participants)
    matches = [
        m
        for m in ws.messages.values()
        if m.phone_number_id == phone_number_id
        and m.counterparts(number["number"]) == wanted
        and (user_id is None or m.user_id == user_id)
        and params.in_window(m.created_at, after, before)
    ]
    page = params.paginate(
        matches,
        sort_key=lambda m: (m.created_at, m.id),
        descending=True,
        limit=limit,
        token=query.get("pageToken"),
        resource=resource,
        render=Message.to_json,
    )
    return JSONResponse(page)


async def get_message(sim: OpenPhoneSimulator, request: Request) -> Response:
    ref = request.path_params["id"]
    if not re.match(r"^AC(.*)$", ref):
        raise params.bad("messages", "/params/id", "id must match pattern ^AC(.*)$", ref)
    message = sim.workspace.messages.get(ref)
    if message is None:
        raise ApiError("messages", 404, f"Message {ref} not found")
    return JSONResponse({"data": message.to_json()})


ROUTES = [
    ("GET", "/v1/phone-numbers", "phone-numbers", list_phone_numbers),
    ("GET", "/v1/phone-numbers/{phoneNumberId}", "phone-numbers", get_phone_number),
    ("GET", "/v1/users", "users", list_users),
    ("GET", "/v1/users/{userId}", "users", get_user),
    ("GET", "/v1/contacts", "contacts", list_contacts),
    ("GET", "/v1/contacts/{id}", "contacts", get_contact),
    ("GET", "/v1/contact-custom-fields", "contact-custom-fields", list_custom_fields),
    ("GET", "/v1/conversations", "conversations", list_conversations),
    ("GET", "/v1/messages", "messages", list_messages),
    ("GET", "/v1/messages/{id}", "messages", get_message),
]
