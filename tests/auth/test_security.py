"""Bearer tokens through HTTP: every way a token can be wrong, the JWKS path, and who gets a row.

GET /api/{user_id}/tasks is the probe: any `/api/{user_id}/...` route shares the dependency.
"""

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from backend.app.config import DEV_JWT_SECRET
from backend.app.models import User
from testkit.auth_server import (
    JwksServer,
    SigningKey,
    handmade_token,
    hs256_token_with_secret,
    make_signing_key,
    token_claims,
)
from tests.auth.conftest import ALGORITHMS
from tests.conftest import auth, make_token

PROBE = "/api/alice/tasks"
ISSUER = "https://auth.example.com"
AUDIENCE = "todo-chat-api"


def assert_unauthorized(response: httpx.Response) -> str:
    """A 401 as the contract describes it: the Bearer challenge and a sentence."""
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == "Bearer"
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail.strip()
    return detail


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def get_probe(app: FastAPI, token: str, path: str = PROBE) -> httpx.Response:
    with TestClient(app) as client:
        return client.get(path, headers=bearer(token))


def users(session: Session) -> list[User]:
    session.expire_all()
    return list(session.exec(select(User).order_by(User.id)).all())


# --- The token is missing or unusable ---------------------------------------------------------


def _unsigned(alg: str) -> str:
    return handmade_token({"alg": alg, "typ": "JWT"}, token_claims("alice"), b"")


BAD_AUTHORIZATION: dict[str, Callable[[], dict[str, str]]] = {
    "no header": lambda: {},
    "basic scheme": lambda: {"Authorization": "Basic YWxpY2U6c2VjcmV0"},
    "bearer without token": lambda: {"Authorization": "Bearer "},
    "bearer word only": lambda: {"Authorization": "Bearer"},
    "garbage token": lambda: bearer("not-a-jwt"),
    "three garbage segments": lambda: bearer("a.b.c"),
    "expired": lambda: bearer(make_token("alice", expires_in=timedelta(hours=-1))),
    "signed with another secret": lambda: bearer(make_token("alice", secret="s" * 40)),
    "alg none": lambda: bearer(_unsigned("none")),
    "alg None": lambda: bearer(_unsigned("None")),
    "alg missing": lambda: bearer(
        handmade_token({"typ": "JWT"}, token_claims("alice"), b"signature")
    ),
    "alg is a list": lambda: bearer(
        handmade_token({"alg": ["HS256"], "typ": "JWT"}, token_claims("alice"), b"x")
    ),
    "no sub": lambda: bearer(make_token(None)),
    "no exp": lambda: bearer(jwt.encode({"sub": "alice"}, DEV_JWT_SECRET, algorithm="HS256")),
    "sub is a number": lambda: bearer(
        jwt.encode(
            {"sub": 42, "exp": datetime.now(UTC) + timedelta(hours=1)},
            DEV_JWT_SECRET,
            algorithm="HS256",
        )
    ),
    "sub is blank": lambda: bearer(make_token("   ")),
    "sub longer than a user id": lambda: bearer(make_token("a" * 256)),
    "asymmetric token without a JWKS": lambda: bearer(make_signing_key("EdDSA").sign("alice")),
}


@pytest.mark.parametrize("headers", BAD_AUTHORIZATION.values(), ids=BAD_AUTHORIZATION.keys())
def test_unusable_credentials_are_401_with_a_bearer_challenge(
    client: TestClient, headers: Callable[[], dict[str, str]], session: Session
) -> None:
    assert_unauthorized(client.get(PROBE, headers=headers()))
    assert users(session) == []  # a refused request creates nobody


def test_the_401_sentence_says_what_is_wrong(client: TestClient) -> None:
    assert "Missing" in assert_unauthorized(client.get(PROBE))
    expired = make_token("alice", expires_in=timedelta(hours=-1))
    assert "expired" in assert_unauthorized(client.get(PROBE, headers=bearer(expired)))
    no_sub = make_token(None)
    assert "'sub'" in assert_unauthorized(client.get(PROBE, headers=bearer(no_sub)))


def test_a_valid_development_token_opens_the_api(client: TestClient) -> None:
    response = client.get(PROBE, headers=auth("alice"))
    assert response.status_code == 200
    assert response.json() == []


def test_a_token_from_an_auth_server_whose_clock_runs_ahead_is_accepted(
    client: TestClient,
) -> None:
    # A fresh token's `iat` a few seconds in our future (clocks never agree exactly) must not
    # bounce the user who has just signed in.
    issued_ahead = datetime.now(UTC) + timedelta(seconds=5)
    token = make_token("alice", iat=issued_ahead)
    assert client.get(PROBE, headers=bearer(token)).status_code == 200


def test_a_token_expired_seconds_ago_is_401_the_clock_margin_is_for_its_start_only(
    client: TestClient,
) -> None:
    just_expired = make_token("alice", expires_in=timedelta(seconds=-5))
    assert "expired" in assert_unauthorized(client.get(PROBE, headers=bearer(just_expired)))


@pytest.mark.parametrize(
    ("claims", "sentence"),
    [
        ({"nbf": datetime.now(UTC) + timedelta(minutes=5)}, "not valid yet"),
        ({"iat": datetime.now(UTC) + timedelta(minutes=5)}, "not valid yet"),
        ({"iat": "yesterday"}, "'iat' claim is not a number"),
        ({"nbf": True}, "'nbf' claim is not a number"),
    ],
)
def test_a_token_not_valid_yet_is_401(
    client: TestClient, claims: dict[str, object], sentence: str
) -> None:
    token = make_token("alice", **claims)
    assert sentence in assert_unauthorized(client.get(PROBE, headers=bearer(token)))


def test_a_user_id_with_a_nul_byte_is_401_not_a_database_error(client: TestClient) -> None:
    # PostgreSQL text cannot hold NUL: such a `sub` must be refused before it reaches the DB.
    token = make_token("ali\x00ce")
    assert_unauthorized(client.get("/api/ali%00ce/tasks", headers=bearer(token)))


# --- Issuer and audience ----------------------------------------------------------------------


@pytest.fixture
def iss_aud_client(make_app) -> Iterator[TestClient]:
    with TestClient(make_app(auth_issuer=ISSUER, auth_audience=AUDIENCE)) as client:
        yield client


def test_right_issuer_and_audience_are_accepted(iss_aud_client: TestClient) -> None:
    token = make_token("alice", iss=ISSUER, aud=AUDIENCE)
    assert iss_aud_client.get(PROBE, headers=bearer(token)).status_code == 200


@pytest.mark.parametrize(
    ("claims", "word"),
    [
        ({"iss": "https://evil.example.com", "aud": AUDIENCE}, "issuer"),
        ({"iss": ISSUER, "aud": "another-api"}, "audience"),
        ({"aud": AUDIENCE}, "iss"),
        ({"iss": ISSUER}, "aud"),
    ],
    ids=["wrong iss", "wrong aud", "no iss", "no aud"],
)
def test_wrong_or_missing_issuer_or_audience_is_401(
    iss_aud_client: TestClient, claims: dict[str, str], word: str
) -> None:
    token = make_token("alice", **claims)
    assert word in assert_unauthorized(iss_aud_client.get(PROBE, headers=bearer(token)))


# --- Asymmetric tokens through the JWKS ---------------------------------------------------------


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_tokens_signed_by_the_auth_server_keys_are_accepted(
    make_jwks_app, signing_keys: dict[str, SigningKey], alg: str
) -> None:
    response = get_probe(make_jwks_app(), signing_keys[alg].sign("alice"))
    assert response.status_code == 200, response.text
    assert response.json() == []


def test_an_hs256_token_is_refused_when_only_the_jwks_is_trusted(make_jwks_app) -> None:
    assert_unauthorized(get_probe(make_jwks_app(), make_token("alice")))


def _key_bytes(key: SigningKey, form: str) -> bytes:
    if form == "pem":
        return key.public_pem()
    return json.dumps(key.public_jwk()).encode()


@pytest.mark.parametrize("form", ["pem", "jwk"])
@pytest.mark.parametrize("alg", ALGORITHMS)
@pytest.mark.parametrize("secret", [None, "s" * 40], ids=["jwks only", "jwks and secret"])
def test_hs256_signed_with_the_public_key_is_refused(
    make_jwks_app,
    signing_keys: dict[str, SigningKey],
    alg: str,
    form: str,
    secret: str | None,
) -> None:
    # Algorithm confusion: the public key is public, so an HMAC made with it proves nothing.
    key = signing_keys[alg]
    token = hs256_token_with_secret(_key_bytes(key, form), token_claims("alice"), kid=key.kid)
    assert_unauthorized(get_probe(make_jwks_app(auth_jwt_secret=secret), token))


@pytest.mark.parametrize(
    ("claimed_alg", "kid_of"),
    [
        ("ES256", "RS256"),
        ("ES256", "EdDSA"),
        ("RS256", "EdDSA"),
        ("EdDSA", "ES256"),
        ("RS256", "ES256"),
    ],
)
def test_a_token_whose_alg_does_not_match_its_key_is_refused(
    make_jwks_app, signing_keys: dict[str, SigningKey], claimed_alg: str, kid_of: str
) -> None:
    # The attacker signs with a key of the claimed type, naming the server's key of another.
    token = signing_keys[claimed_alg].sign("alice", kid=signing_keys[kid_of].kid)
    assert_unauthorized(get_probe(make_jwks_app(), token))


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_a_token_signed_by_a_stranger_under_a_known_kid_is_refused(
    make_jwks_app, signing_keys: dict[str, SigningKey], alg: str
) -> None:
    forged = make_signing_key(alg, kid=signing_keys[alg].kid).sign("alice")
    assert_unauthorized(get_probe(make_jwks_app(), forged))


def test_unknown_or_missing_kid_is_refused(
    make_jwks_app, signing_keys: dict[str, SigningKey]
) -> None:
    key = signing_keys["EdDSA"]
    app = make_jwks_app()
    with TestClient(app) as client:
        for token in (key.sign("alice", kid="no-such-kid"), key.sign("alice", kid="")):
            assert_unauthorized(client.get(PROBE, headers=bearer(token)))
        no_kid = jwt.encode(token_claims("alice"), key.private_key, algorithm="EdDSA")
        assert_unauthorized(client.get(PROBE, headers=bearer(no_kid)))


def test_one_key_set_download_serves_many_requests(
    make_jwks_app, jwks_server: JwksServer, signing_keys: dict[str, SigningKey]
) -> None:
    app = make_jwks_app()
    with TestClient(app) as client:
        for _ in range(2):
            token = signing_keys["EdDSA"].sign("alice")
            assert client.get(PROBE, headers=bearer(token)).status_code == 200
        assert jwks_server.request_count == 1
        for alg in ALGORITHMS:
            token = signing_keys[alg].sign("alice")
            assert client.get(PROBE, headers=bearer(token)).status_code == 200
    assert jwks_server.request_count == 1


def test_forged_kids_do_not_make_every_request_download_the_keys(
    make_jwks_app, jwks_server: JwksServer, signing_keys: dict[str, SigningKey]
) -> None:
    # A cooldown no test run outlasts: the count below cannot depend on the machine's speed.
    app = make_jwks_app(auth_jwks_refresh_cooldown_s=3600)
    with TestClient(app) as client:
        for n in range(5):
            token = signing_keys["EdDSA"].sign("alice", kid=f"forged-{n}")
            assert_unauthorized(client.get(PROBE, headers=bearer(token)))
        # The first load, then one refetch for the first unknown kid; the others wait.
        assert jwks_server.request_count == 2
        # Known keys still verify from the cache meanwhile.
        assert client.get(PROBE, headers=bearer(signing_keys["ES256"].sign())).status_code == 200
    assert jwks_server.request_count == 2


def test_a_rotated_key_verifies_at_once_right_after_the_keys_were_fetched(
    make_jwks_app, jwks_server: JwksServer, signing_keys: dict[str, SigningKey]
) -> None:
    # The identity provider publishes a new key and signs with it straight away: its first
    # token must not wait for a cooldown that counts from the fetch of the old set.
    app = make_jwks_app(auth_jwks_refresh_cooldown_s=3600)
    with TestClient(app) as client:
        assert client.get(PROBE, headers=bearer(signing_keys["EdDSA"].sign())).status_code == 200
        rotated = make_signing_key("EdDSA", kid="eddsa-rotated")
        jwks_server.add_key(rotated)
        response = client.get(PROBE, headers=bearer(rotated.sign("alice")))
        assert response.status_code == 200, response.text
        assert jwks_server.request_count == 2


def test_the_default_cooldown_lets_a_rotated_key_in_after_a_forged_kid(
    make_jwks_app, jwks_server: JwksServer, signing_keys: dict[str, SigningKey]
) -> None:
    app = make_jwks_app()  # AUTH_JWKS_REFRESH_COOLDOWN_S's default: about a second
    with TestClient(app) as client:
        forged = signing_keys["EdDSA"].sign("alice", kid="forged")
        assert_unauthorized(client.get(PROBE, headers=bearer(forged)))
        assert jwks_server.request_count == 2
        rotated = make_signing_key("EdDSA", kid="eddsa-rotated")
        jwks_server.add_key(rotated)
        # Within the second the forged kid's refetch still counts; after it the new key is in.
        token = rotated.sign("alice")
        for _ in range(100):  # polled every 50 ms for up to 5 s
            if (response := client.get(PROBE, headers=bearer(token))).status_code != 401:
                break
            assert jwks_server.request_count == 2
            time.sleep(0.05)
        assert response.status_code == 200, response.text
        assert jwks_server.request_count == 3


def test_a_key_added_by_rotation_is_fetched_on_its_first_token(
    make_jwks_app, jwks_server: JwksServer, signing_keys: dict[str, SigningKey]
) -> None:
    app = make_jwks_app(auth_jwks_refresh_cooldown_s=0)
    with TestClient(app) as client:
        assert client.get(PROBE, headers=bearer(signing_keys["EdDSA"].sign())).status_code == 200
        assert jwks_server.request_count == 1

        rotated = make_signing_key("EdDSA", kid="eddsa-key-2")
        jwks_server.add_key(rotated)
        response = client.get(PROBE, headers=bearer(rotated.sign("alice")))
        assert response.status_code == 200, response.text
        assert jwks_server.request_count == 2
        # The old key is still published, and still trusted.
        assert client.get(PROBE, headers=bearer(signing_keys["EdDSA"].sign())).status_code == 200


def test_a_key_removed_by_rotation_stops_verifying_once_the_new_set_is_fetched(
    make_jwks_app, jwks_server: JwksServer, signing_keys: dict[str, SigningKey]
) -> None:
    # The auth server retires a (perhaps leaked) key: once we have downloaded the new key set,
    # tokens signed with the old key must stop working, not stay valid until a restart.
    old = signing_keys["EdDSA"]
    app = make_jwks_app(auth_jwks_refresh_cooldown_s=0)
    with TestClient(app) as client:
        assert client.get(PROBE, headers=bearer(old.sign("alice"))).status_code == 200

        new = make_signing_key("EdDSA", kid="eddsa-key-2")
        jwks_server.remove_key(old.kid)
        jwks_server.add_key(new)
        assert client.get(PROBE, headers=bearer(new.sign("alice"))).status_code == 200
        assert_unauthorized(client.get(PROBE, headers=bearer(old.sign("alice"))))


def test_jwks_down_is_503_with_a_sentence(
    make_jwks_app, jwks_server: JwksServer, signing_keys: dict[str, SigningKey]
) -> None:
    jwks_server.stop()
    response = get_probe(make_jwks_app(), signing_keys["EdDSA"].sign("alice"))
    assert response.status_code == 503
    assert "keys" in response.json()["detail"]


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, b"<!doctype html><title>Sign in</title>"),
        (500, b"Internal Server Error"),
        (404, b"<!doctype html><title>Not found</title>"),
    ],
    ids=["html page", "server error", "wrong path"],
)
def test_a_jwks_url_that_does_not_answer_a_key_set_is_503(
    make_jwks_app,
    jwks_server: JwksServer,
    signing_keys: dict[str, SigningKey],
    status: int,
    body: bytes,
) -> None:
    # A misconfigured AUTH_JWKS_URL (say, the frontend's HTML) is an outage, not a bad token.
    jwks_server.answer_with(status, body)
    response = get_probe(make_jwks_app(), signing_keys["RS256"].sign("alice"))
    assert response.status_code == 503, response.text
    assert "keys" in response.json()["detail"]


def test_cached_keys_keep_users_signed_in_while_the_jwks_is_down(
    make_jwks_app, jwks_server: JwksServer, signing_keys: dict[str, SigningKey]
) -> None:
    app = make_jwks_app()
    with TestClient(app) as client:
        assert client.get(PROBE, headers=bearer(signing_keys["ES256"].sign())).status_code == 200
        jwks_server.stop()
        assert client.get(PROBE, headers=bearer(signing_keys["ES256"].sign())).status_code == 200


# --- Whose path it is -----------------------------------------------------------------------


def test_a_valid_token_on_another_users_path_is_403(client: TestClient, session: Session) -> None:
    response = client.get("/api/bob/tasks", headers=auth("alice"))
    assert response.status_code == 403
    assert isinstance(response.json()["detail"], str)
    assert users(session) == []  # neither alice nor bob was created by the refused request


def test_a_jwks_token_on_another_users_path_is_403(
    make_jwks_app, signing_keys: dict[str, SigningKey]
) -> None:
    response = get_probe(make_jwks_app(), signing_keys["RS256"].sign("alice"), "/api/bob/tasks")
    assert response.status_code == 403


# --- Users appear just in time ---------------------------------------------------------------


def test_the_first_request_creates_the_user_from_the_claims(
    client: TestClient, session: Session
) -> None:
    headers = auth("alice", email="alice@example.com", name="Alice Liddell")
    assert client.get(PROBE, headers=headers).status_code == 200
    assert client.get(PROBE, headers=headers).status_code == 200

    [alice] = users(session)
    assert (alice.id, alice.email, alice.name) == ("alice", "alice@example.com", "Alice Liddell")
    assert alice.created_at is not None


def test_a_user_without_email_or_name_claims_gets_a_bare_row(
    client: TestClient, session: Session
) -> None:
    assert client.get(PROBE, headers=auth("alice")).status_code == 200
    [alice] = users(session)
    assert (alice.id, alice.email, alice.name) == ("alice", None, None)


def test_a_jwks_user_is_created_from_its_claims(
    make_jwks_app, signing_keys: dict[str, SigningKey], session: Session
) -> None:
    token = signing_keys["EdDSA"].sign("user_7f3a", email="bo@example.com", name="Bo")
    assert get_probe(make_jwks_app(), token, "/api/user_7f3a/tasks").status_code == 200
    [user] = users(session)
    assert (user.id, user.email, user.name) == ("user_7f3a", "bo@example.com", "Bo")


def test_oversized_or_unstorable_profile_claims_do_not_break_sign_in(
    client: TestClient, session: Session
) -> None:
    # Claims come from another system: a too-long email is cut to the column, and text that
    # PostgreSQL cannot store (NUL) is dropped, rather than failing the user's first request.
    long_email = "a" * 400 + "@example.com"
    assert client.get(PROBE, headers=auth("alice", email=long_email)).status_code == 200
    bob = auth("bob", email="bob\x00@example.com", name="B\x00b")
    assert client.get("/api/bob/tasks", headers=bob).status_code == 200

    alice, bob_row = users(session)
    assert alice.email == long_email[:320]
    assert (bob_row.email, bob_row.name) == (None, None)


def _first_requests_at_once(app: FastAPI, user_id: str, threads: int) -> list[int]:
    """`threads` first requests of a new user, released together; their status codes."""
    barrier = threading.Barrier(threads)
    headers = auth(user_id, email=f"{user_id}@example.com")

    def first_request(_: int) -> int:
        client = TestClient(app)  # one client per thread, as separate browsers would be
        barrier.wait()
        return client.get(f"/api/{user_id}/tasks", headers=headers).status_code

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(first_request, range(threads)))


def test_racing_first_requests_all_succeed_and_leave_one_row(
    app: FastAPI, session: Session
) -> None:
    threads = 8
    for user_id in ("alice", "bob", "carol"):
        statuses = _first_requests_at_once(app, user_id, threads)
        assert statuses == [200] * threads

    rows = users(session)
    assert [(u.id, u.email) for u in rows] == [
        ("alice", "alice@example.com"),
        ("bob", "bob@example.com"),
        ("carol", "carol@example.com"),
    ]
