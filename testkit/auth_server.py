"""A fake auth server at the process edge: signing keys, tokens and a real JWKS server.

The app downloads the key set over a real socket, so its JWKS client, caches and error
handling run exactly as in production (Better Auth's JWT plugin publishes the same shape).
"""

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

JWKS_PATH = "/api/auth/jwks"  # where Better Auth publishes its key set

PrivateKey = ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class SigningKey:
    """An auth-server key pair: signs tokens, and publishes its public half as a JWK."""

    kid: str
    alg: str  # "EdDSA", "RS256" or "ES256"
    private_key: PrivateKey = field(repr=False)

    def public_jwk(self) -> dict[str, Any]:
        """The public key as the JWKS serves it, with `kid`, `alg` and `use`."""
        public_key = self.private_key.public_key()
        to_jwk = {"EdDSA": OKPAlgorithm, "RS256": RSAAlgorithm, "ES256": ECAlgorithm}[self.alg]
        jwk = to_jwk.to_jwk(public_key, as_dict=True)
        return {**jwk, "kid": self.kid, "alg": self.alg, "use": "sig"}

    def public_pem(self) -> bytes:
        """The public key in PEM, as an attacker would copy it for an algorithm-confusion try."""
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(
        self,
        sub: str | None = "alice",
        *,
        expires_in: timedelta = timedelta(hours=1),
        alg: str | None = None,
        kid: str | None = None,
        **claims: object,
    ) -> str:
        """A token signed with this key; `alg`/`kid` override the header (to forge mismatches)."""
        return sign_token(
            self.private_key,
            alg=alg or self.alg,
            kid=self.kid if kid is None else kid,
            sub=sub,
            expires_in=expires_in,
            **claims,
        )


def make_signing_key(alg: str, kid: str | None = None) -> SigningKey:
    """A fresh key pair for `alg`: Ed25519 for EdDSA, RSA-2048 for RS256, P-256 for ES256."""
    if alg == "EdDSA":
        private_key: PrivateKey = ed25519.Ed25519PrivateKey.generate()
    elif alg == "RS256":
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif alg == "ES256":
        private_key = ec.generate_private_key(ec.SECP256R1())
    else:
        raise ValueError(f"no fake key for {alg!r}")
    return SigningKey(kid=kid or f"{alg.lower()}-key", alg=alg, private_key=private_key)


def token_claims(
    sub: str | None = "alice", *, expires_in: timedelta = timedelta(hours=1), **claims: object
) -> dict[str, object]:
    """The claims of a token as an auth server issues them (`sub` left out when None)."""
    now = datetime.now(UTC)
    payload: dict[str, object] = {"iat": now, "exp": now + expires_in, **claims}
    if sub is not None:
        payload["sub"] = sub
    return payload


def sign_token(
    private_key: PrivateKey,
    *,
    alg: str,
    kid: str | None,
    sub: str | None = "alice",
    expires_in: timedelta = timedelta(hours=1),
    **claims: object,
) -> str:
    """Sign a token with PyJWT, as the auth server does; `kid` goes into the header."""
    headers = {"kid": kid} if kid is not None else None
    return jwt.encode(
        token_claims(sub, expires_in=expires_in, **claims),
        private_key,
        algorithm=alg,
        headers=headers,
    )


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _json_segment(value: object) -> str:
    return _b64url(json.dumps(value, default=_json_default, separators=(",", ":")).encode())


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return int(value.timestamp())
    raise TypeError(f"cannot put {value!r} into a token")


def handmade_token(header: dict[str, Any], claims: dict[str, object], signature: bytes) -> str:
    """A token assembled byte by byte, for headers PyJWT refuses to write (`alg: none`...)."""
    return f"{_json_segment(header)}.{_json_segment(claims)}.{_b64url(signature)}"


def hs256_token_with_secret(secret: bytes, claims: dict[str, object], **header: object) -> str:
    """An HS256 token whose HMAC secret is any bytes, a public key included.

    PyJWT refuses to HMAC with a PEM key (its own algorithm-confusion guard), so an attacker's
    token is built by hand here.
    """
    signing_input = f"{_json_segment({'alg': 'HS256', 'typ': 'JWT', **header})}." + _json_segment(
        claims
    )
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(signature)}"


class JwksServer:
    """A real HTTP server on 127.0.0.1 serving `{"keys": [...]}` at JWKS_PATH.

    Keys can be added and removed while it runs (rotation), it counts the key-set downloads
    (caching), it can answer with something that is not a key set (a misconfigured URL), and it
    can be stopped (the auth server is down).
    """

    def __init__(self, keys: Iterable[SigningKey] = ()) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, SigningKey] = {key.kid: key for key in keys}
        self._override: tuple[int, str, bytes] | None = None
        self._requests = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._base_url = ""

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> "JwksServer":
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                if self.path.split("?")[0] != JWKS_PATH:
                    self._answer(404, "application/json", b'{"error":"not found"}')
                    return
                status, content_type, body = server._serve_key_set()
                self._answer(status, content_type, body)

            def _answer(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: object) -> None:
                pass  # keep test output clean

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        host, port = self._httpd.server_address[:2]
        self._base_url = f"http://{host}:{port}"
        # A short poll interval keeps stop() (shutdown waits for one poll) out of test timings.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.02,), name="fake-jwks", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Shut the server down and close its socket: connections are refused from now on."""
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    @property
    def url(self) -> str:
        """The JWKS URL, to be given to the app as AUTH_JWKS_URL (still valid once stopped)."""
        return self._base_url + JWKS_PATH

    # -- the key set -----------------------------------------------------------------------

    def add_key(self, key: SigningKey) -> None:
        with self._lock:
            self._keys[key.kid] = key

    def remove_key(self, kid: str) -> None:
        with self._lock:
            del self._keys[kid]

    def answer_with(self, status: int, body: bytes, content_type: str = "text/html") -> None:
        """Serve this instead of the key set (e.g. an HTML page from a wrong URL)."""
        with self._lock:
            self._override = (status, content_type, body)

    @property
    def request_count(self) -> int:
        """How many times the key set has been downloaded."""
        with self._lock:
            return self._requests

    def _serve_key_set(self) -> tuple[int, str, bytes]:
        with self._lock:
            self._requests += 1
            if self._override is not None:
                return self._override
            keys = [key.public_jwk() for key in self._keys.values()]
        return 200, "application/json", json.dumps({"keys": keys}).encode()
