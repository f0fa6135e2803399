"""Known-answer vectors of the OpenPhone reference (§5.4) for both signature schemes."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opsync.clock import FakeClock
from opsync.errors import SignatureInvalid
from opsync.openphone.signatures import (
    SigningKey,
    WebhookVerifier,
    sign_legacy,
    sign_standard,
    standard_headers,
)

T0 = 1775001600

A_SECRET = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
A1_ID = "msg_2TestVectorQuo0000000001"
A1_BODY = (
    b'{"id":"EVtestvector0001","apiVersion":"2026-03-30","createdAt":"2026-04-01T00:00:00.000Z",'
    b'"type":"message.received","data":{"resource":{"id":"ACtestvector0001",'
    b'"text":"Hello, world!"},"context":{},"links":{"quo":null}}}'
)
A1_SIG = "v1,Bs3PSOUKkJPtJaT5jV/k+v6wyB98PzSuXYsf9Av14kQ="
A2_ID = "msg_2TestVectorQuo0000000003"
A2_BODY = bytes.fromhex(
    "7b226964223a22455674657374766563746f7230303033222c2261706956657273696f6e223a22323032362d"
    "30332d3330222c22637265617465644174223a22323032362d30342d30315430303a30303a30302e3030305a"
    "222c2274797065223a226d6573736167652e7265636569766564222c2264617461223a7b227265736f757263"
    "65223a7b226964223a22414374657374766563746f7230303033222c2274657874223a224f6cc3a120f09f91"
    "8b227d2c22636f6e74657874223a7b7d2c226c696e6b73223a7b2271756f223a6e756c6c7d7d7d"
)
A2_SIG = "v1,WpZqRld6SdrELvO0RELFMK+QmFPX+Gar1eUmSYlKvDQ="

B_SECRET = "oKGio6SlpqeoqaqrrK2ur7CxsrO0tba3uLm6u7y9vr8="
B_TS = 1775001600000
B_BODY = (
    b'{"id":"EVtestvector0002","object":"event","apiVersion":"v4",'
    b'"createdAt":"2026-04-01T00:00:00.000Z","type":"message.received","data":{"object":'
    b'{"id":"ACtestvector0002","object":"message","from":"+15555550100","to":["+15555550199"],'
    b'"direction":"incoming","text":"Hello, world!","status":"received",'
    b'"createdAt":"2026-03-31T23:59:59.900Z","userId":"UStestuser1","phoneNumberId":"PNtestnum1"}}}'
)
B_SIG = "hmac;1;1775001600000;yF4QJSg3rrPyroOWrvoZGN9vw3STp7ka64obh5oy9p8="


def verifier(*keys: str, now: float = T0) -> WebhookVerifier:
    return WebhookVerifier(keys, clock=FakeClock(start=now))


def a_headers(msg_id: str, signature: str, ts: int = T0) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": signature}


def test_vector_bodies_are_the_documented_bytes() -> None:
    assert len(A1_BODY) == 219
    assert len(A2_BODY) == 215
    assert len(B_BODY) == 389


def test_sign_standard_matches_vectors() -> None:
    assert sign_standard(A_SECRET, A1_ID, T0, A1_BODY) == A1_SIG
    assert sign_standard(A_SECRET, A2_ID, T0, A2_BODY) == A2_SIG


def test_sign_standard_matches_standard_webhooks_reference_vector() -> None:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    got = sign_standard(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')
    assert got == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_sign_legacy_matches_vector() -> None:
    assert sign_legacy(B_SECRET, B_TS, B_BODY) == B_SIG


@pytest.mark.parametrize(
    ("msg_id", "body", "sig"),
    [(A1_ID, A1_BODY, A1_SIG), (A2_ID, A2_BODY, A2_SIG)],
)
def test_standard_vectors_verify(msg_id: str, body: bytes, sig: str) -> None:
    result = verifier(A_SECRET).verify(body, a_headers(msg_id, sig))
    assert result.scheme == "standard"
    assert result.delivery_id == msg_id
    assert result.signed_at == T0


def test_standard_multi_signature_header_second_entry_matches() -> None:
    header = f"v1,tW7RQBHxmgI0EuA7nFd9FaT3SXh5Wh48yiNRBR3Mk3Q= {A1_SIG}"
    assert verifier(A_SECRET).verify(A1_BODY, a_headers(A1_ID, header)).scheme == "standard"


def test_standard_pretty_printed_body_does_not_verify() -> None:
    pretty = json.dumps(json.loads(A1_BODY), indent=2).encode()
    with pytest.raises(SignatureInvalid):
        verifier(A_SECRET).verify(pretty, a_headers(A1_ID, A1_SIG))


def test_standard_secret_used_undecoded_is_the_classic_bug_and_fails() -> None:
    bad = "v1,m/L+SGUq3oKI3f6J8cNxBqeg2T8zKI5UIbKp2cPYcU8="
    with pytest.raises(SignatureInvalid, match="matches"):
        verifier(A_SECRET).verify(A1_BODY, a_headers(A1_ID, bad))


@pytest.mark.parametrize("now", [T0 + 301, T0 - 301])
def test_standard_outside_window_rejected(now: int) -> None:
    with pytest.raises(SignatureInvalid, match=r"too old|future"):
        verifier(A_SECRET, now=now).verify(A1_BODY, a_headers(A1_ID, A1_SIG))


def test_standard_inside_window_accepted() -> None:
    assert verifier(A_SECRET, now=T0 + 299).verify(A1_BODY, a_headers(A1_ID, A1_SIG))


def test_standard_headers_are_case_insensitive() -> None:
    headers = {k.title(): v for k, v in a_headers(A1_ID, A1_SIG).items()}
    assert verifier(A_SECRET).verify(A1_BODY, headers).delivery_id == A1_ID


def test_standard_rotation_any_configured_key_matches() -> None:
    other = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk="
    v = verifier(other, B_SECRET, A_SECRET)
    assert v.verify(A1_BODY, a_headers(A1_ID, A1_SIG)).scheme == "standard"
    assert v.verify(B_BODY, {"openphone-signature": B_SIG}).scheme == "legacy"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"webhook-signature": A1_SIG, "webhook-timestamp": str(T0)},
        {"webhook-signature": A1_SIG, "webhook-id": A1_ID},
        a_headers(A1_ID, A1_SIG, ts=0) | {"webhook-timestamp": "1775001600.0"},
        a_headers(A1_ID, "garbage"),
        a_headers(A1_ID, "v2," + A1_SIG[3:]),
    ],
)
def test_standard_malformed_headers_rejected(headers: dict[str, str]) -> None:
    with pytest.raises(SignatureInvalid):
        verifier(A_SECRET).verify(A1_BODY, headers)


def test_standard_delivery_without_standard_key_rejected() -> None:
    with pytest.raises(SignatureInvalid, match="whsec_"):
        verifier(B_SECRET).verify(A1_BODY, a_headers(A1_ID, A1_SIG))


def test_legacy_vector_verifies() -> None:
    result = verifier(B_SECRET).verify(B_BODY, {"OpenPhone-Signature": B_SIG})
    assert result.scheme == "legacy"
    assert result.signed_at == T0


def test_legacy_extra_bogus_candidate_still_valid() -> None:
    header = f"hmac;1;1775001600000;AAAA, {B_SIG}"
    assert verifier(B_SECRET).verify(B_BODY, {"openphone-signature": header})


def test_legacy_timestamp_is_part_of_signed_content() -> None:
    seconds_sig = "hmac;1;1775001600;r+c7ZU0oLnxpQWzhvg5CEeqCKnp8ZXQvTVN34LPpU+4="
    assert sign_legacy(B_SECRET, 1775001600, B_BODY) == seconds_sig
    # Ten digits are read as seconds, and the signature covers the text as sent.
    assert verifier(B_SECRET).verify(B_BODY, {"openphone-signature": seconds_sig})
    forged = "hmac;1;1775001600;" + B_SIG.rsplit(";", 1)[1]
    with pytest.raises(SignatureInvalid):
        verifier(B_SECRET).verify(B_BODY, {"openphone-signature": forged})


def test_legacy_one_changed_byte_invalid() -> None:
    with pytest.raises(SignatureInvalid):
        verifier(B_SECRET).verify(
            B_BODY.replace(b"Hello", b"Hellp"), {"openphone-signature": B_SIG}
        )


def test_legacy_outside_window_rejected() -> None:
    with pytest.raises(SignatureInvalid, match="too old"):
        verifier(B_SECRET, now=T0 + 301).verify(B_BODY, {"openphone-signature": B_SIG})


@pytest.mark.parametrize("header", ["", "hmac;1;x;sig", "sha1;1;1775001600000;abc", "a;b;c"])
def test_legacy_malformed_header_rejected(header: str) -> None:
    with pytest.raises(SignatureInvalid):
        verifier(B_SECRET).verify(B_BODY, {"openphone-signature": header})


def test_no_signature_header_rejected() -> None:
    with pytest.raises(SignatureInvalid, match="no webhook-signature"):
        verifier(A_SECRET, B_SECRET).verify(A1_BODY, {"content-type": "application/json"})


def test_key_parsing_schemes_and_masked_repr() -> None:
    a, b = SigningKey.parse(A_SECRET), SigningKey.parse(B_SECRET)
    assert (a.scheme, b.scheme) == ("standard", "legacy")
    assert a.raw == bytes(range(32))
    assert A_SECRET not in repr(a)
    assert B_SECRET not in repr(b)


@pytest.mark.parametrize("bad", ["whsec_not*base64", "not base64!", "whsec_"])
def test_invalid_keys_rejected_without_echoing_them(bad: str) -> None:
    with pytest.raises(ValueError, match="webhook key") as info:
        SigningKey.parse(bad)
    assert bad not in str(info.value)


def test_standard_headers_round_trip() -> None:
    headers = standard_headers(A_SECRET, "msg_x", T0 + 5, b"{}")
    assert verifier(A_SECRET, now=T0).verify(b"{}", headers).delivery_id == "msg_x"


@given(body=st.binary(max_size=512), msg_id=st.text(min_size=1, max_size=30).map(str.strip))
def test_standard_sign_then_verify_and_tamper_detected(body: bytes, msg_id: str) -> None:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return
    if not msg_id or any(c.isspace() for c in msg_id):
        return
    v = verifier(A_SECRET)
    headers = standard_headers(A_SECRET, msg_id, T0, body)
    assert v.verify(body, headers).delivery_id == msg_id
    with pytest.raises(SignatureInvalid):
        v.verify(body + b" ", headers)


@given(body=st.binary(max_size=512))
def test_legacy_sign_then_verify_and_tamper_detected(body: bytes) -> None:
    v = verifier(B_SECRET)
    header = sign_legacy(B_SECRET, B_TS, body)
    assert v.verify(body, {"openphone-signature": header}).scheme == "legacy"
    with pytest.raises(SignatureInvalid):
        v.verify(body + b"x", {"openphone-signature": header})
