"""Bearer-token verification: HS256 with the shared secret, asymmetric keys only through JWKS.

The algorithm decides the key source before anything is verified, so an HS256 token is never
checked against a public key (algorithm confusion) and `none` is never accepted.
"""

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

import jwt
from jwt import PyJWK, PyJWKClient, PyJWKClientConnectionError, PyJWKClientError

from backend.app.config import Settings
from backend.app.errors import ServiceUnavailable, Unauthorized
from backend.app.text import EMAIL_MAX, NAME_MAX, USER_ID_MAX

logger = logging.getLogger(__name__)

SYMMETRIC_ALGORITHMS = frozenset({"HS256"})
ASYMMETRIC_ALGORITHMS = frozenset(
    {"EdDSA", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)
JWKS_CACHE_SECONDS = 300
JWKS_TIMEOUT_SECONDS = 5
# Clocks of the auth server and of this server never agree exactly: without a margin, a token
# used the moment it is issued is refused now and then ("iat" a fraction of a second ahead).
# The margin is for the start of a token's life only: `exp` is the issuer's word and holds to
# the second (API.md: expired → 401).
CLOCK_SKEW_SECONDS = 30


@dataclass(frozen=True)
class Identity:
    """Who the token says the caller is."""

    user_id: str
    email: str | None = None
    name: str | None = None


class TokenVerifier:
    """Verifies bearer tokens for one app; keeps its JWKS client (and key cache) for its life."""

    def __init__(self, settings: Settings) -> None:
        self._secret = settings.jwt_secret
        self._issuer = settings.auth_issuer
        self._audience = settings.auth_audience
        # PyJWKClient caches the key set for JWKS_CACHE_SECONDS, so a key the auth server has
        # retired stops verifying within that time. No per-kid cache on top (cache_keys): it
        # never expires, so a retired key would stay trusted until a restart.
        self._jwks = (
            PyJWKClient(
                settings.auth_jwks_url,
                lifespan=JWKS_CACHE_SECONDS,
                timeout=JWKS_TIMEOUT_SECONDS,
                # Its own cooldown counts from the last fetch of any kind, so a key published
                # just after one would be refused for the whole cooldown; ours (below) counts
                # only from the last refetch an unknown `kid` caused.
                cooldown_duration=0,
            )
            if settings.auth_jwks_url
            else None
        )
        self._unknown_kid_cooldown = settings.auth_jwks_refresh_cooldown_s
        self._last_unknown_kid_refetch = -math.inf
        self._refetch_lock = threading.Lock()

    def may_fetch_keys(self, token: str) -> bool:
        """Whether verifying this token may download the key set (blocking network I/O): only an
        asymmetric token with a JWKS configured. HS256 against the secret is CPU work alone."""
        if self._jwks is None:
            return False
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
        except jwt.PyJWTError:
            return False
        return isinstance(algorithm, str) and algorithm in ASYMMETRIC_ALGORITHMS

    def verify(self, token: str) -> Identity:
        """Return the token's identity, or raise Unauthorized (401) / ServiceUnavailable (503)."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized("The bearer token is malformed.") from None
        algorithm = header.get("alg")
        # The header is attacker-chosen JSON: only a string can name an algorithm.
        if not isinstance(algorithm, str):
            raise Unauthorized("The bearer token does not name its algorithm.")
        key = self._key_for(algorithm, token)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                issuer=self._issuer,
                audience=self._audience,
                options={
                    "require": ["exp", "sub"],
                    # Checked below, with the clock-skew margin that `exp` does not get.
                    "verify_iat": False,
                    "verify_nbf": False,
                    "verify_aud": self._audience is not None,
                    "verify_iss": self._issuer is not None,
                },
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("The bearer token has expired.") from None
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthorized(f"The bearer token has no '{exc.claim}' claim.") from None
        except jwt.InvalidAudienceError:
            raise Unauthorized("The bearer token is for another audience.") from None
        except jwt.InvalidIssuerError:
            raise Unauthorized("The bearer token comes from another issuer.") from None
        except jwt.InvalidSignatureError:
            raise Unauthorized("The bearer token's signature is invalid.") from None
        except jwt.PyJWTError:
            raise Unauthorized("The bearer token is invalid.") from None
        _check_not_early(claims)
        return _identity(claims)

    def _key_for(self, algorithm: str, token: str) -> Any:
        if algorithm in SYMMETRIC_ALGORITHMS:
            if self._secret is None:
                raise Unauthorized("HS256 tokens are not accepted; use a token from the JWKS.")
            return self._secret
        if algorithm in ASYMMETRIC_ALGORITHMS:
            if self._jwks is None:
                raise Unauthorized(f"{algorithm} tokens are not accepted; no JWKS is configured.")
            return self._jwks_key(algorithm, token)
        raise Unauthorized(f"The token algorithm {algorithm!r} is not accepted.")

    def _jwks_key(self, algorithm: str, token: str) -> Any:
        try:
            signing_key = self._signing_key(jwt.get_unverified_header(token).get("kid"))
        # ValueError: the URL answered something that is not JSON (an HTML page, say): like an
        # unreachable endpoint, that is the auth server's outage, not a bad token.
        except (PyJWKClientConnectionError, ValueError):
            logger.warning("JWKS endpoint unreachable or not serving a key set", exc_info=True)
            raise ServiceUnavailable(
                "The authentication server's keys cannot be fetched; try again shortly."
            ) from None
        except (PyJWKClientError, jwt.PyJWTError):
            raise Unauthorized("The bearer token's signing key is unknown.") from None
        # A key published for one algorithm must not verify tokens claiming another.
        if signing_key.algorithm_name and signing_key.algorithm_name != algorithm:
            raise Unauthorized("The bearer token's algorithm does not match its key.")
        return signing_key.key

    def _signing_key(self, kid: object) -> PyJWK:
        """The published key named `kid`. An unknown `kid` refetches the key set at once (the
        auth server may just have rotated), unless another unknown `kid` already did so within
        the cooldown: forged kids cannot turn every request into a JWKS download."""
        assert self._jwks is not None
        if not isinstance(kid, str) or not kid:
            raise PyJWKClientError("The token names no key id.")
        known = self._jwks.match_kid(self._jwks.get_signing_keys(), kid)
        if known is not None:
            return known
        with self._refetch_lock:
            now = time.monotonic()
            if now - self._last_unknown_kid_refetch < self._unknown_kid_cooldown:
                raise PyJWKClientError(f"No published key has the id {kid!r}.")
            self._last_unknown_kid_refetch = now
            # The library refetches the set for a kid it does not know (its cooldown is off).
            return self._jwks.get_signing_key(kid)


def _check_not_early(claims: dict[str, Any]) -> None:
    """`nbf` (not before) and `iat` (issued at) may run up to CLOCK_SKEW_SECONDS ahead of our
    clock; later than that, the token is not valid yet."""
    latest = time.time() + CLOCK_SKEW_SECONDS
    for claim in ("nbf", "iat"):
        value = claims.get(claim)
        if value is None:
            continue
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not math.isfinite(value):
            raise Unauthorized(f"The bearer token's '{claim}' claim is not a number.")
        if value > latest:
            raise Unauthorized("The bearer token is not valid yet.")


def _identity(claims: dict[str, Any]) -> Identity:
    sub = claims.get("sub")
    # NUL cannot be stored in PostgreSQL text: such a sub would fail in the database instead.
    if not isinstance(sub, str) or not sub.strip() or len(sub) > USER_ID_MAX or "\x00" in sub:
        raise Unauthorized("The bearer token's 'sub' claim is not a valid user id.")
    return Identity(
        user_id=sub,
        email=_profile_text(claims.get("email"), EMAIL_MAX),
        name=_profile_text(claims.get("name"), NAME_MAX),
    )


def _profile_text(value: Any, max_length: int) -> str | None:
    # Profile claims are optional extras from another system: one the users table cannot hold
    # is dropped (NUL) or cut to the column (length) rather than failing the sign-in.
    if not isinstance(value, str) or "\x00" in value:
        return None
    return value[:max_length]
