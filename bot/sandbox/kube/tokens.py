"""ServiceAccount tokens as the real API server mints and checks them (TokenRequest).

RBAC can only be tested with the credentials a pod really gets: a ServiceAccount token.
``POST /api/v1/namespaces/NS/serviceaccounts/NAME/token`` (what ``kubectl create token``
and the kubelet call) answers a signed JWT with the claims kube-apiserver writes
(``iss``, ``sub: system:serviceaccount:NS:NAME``, ``aud``, ``exp``/``iat``/``nbf``, ``jti``
and ``kubernetes.io: {namespace, serviceaccount: {name, uid}}``), signed ES256 with a
key the server makes at first use. A request carrying such a token is authenticated as
that ServiceAccount only while the signature, the lifetime, the audience and the
ServiceAccount itself (same uid: a deleted and re-created one does not revive old
tokens) all check out; otherwise 401, as on a real cluster.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from . import errors

ISSUER = "https://kubernetes.default.svc.cluster.local"
API_AUDIENCE = ISSUER
DEFAULT_SECONDS = 3600
MIN_SECONDS = 600
SA_RESOURCE = ("", "serviceaccounts")


@dataclass(frozen=True)
class ServiceAccountUser:
    """The identity a ServiceAccount token authenticates as."""

    namespace: str
    name: str
    uid: str

    @property
    def username(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.name}"

    @property
    def groups(self) -> tuple[str, ...]:
        return ("system:serviceaccounts", f"system:serviceaccounts:{self.namespace}",
                "system:authenticated")  # fmt: skip


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("eyJ")


class TokenIssuer:
    """Mints and verifies the server's ServiceAccount tokens."""

    def __init__(self, lookup: Any) -> None:
        """``lookup(namespace, name)`` returns the stored ServiceAccount or None."""
        self._lookup = lookup
        self._lock = threading.Lock()
        self._key: Any = None
        self.kid = uuid.uuid4().hex[:16]

    def _signing_key(self) -> Any:
        with self._lock:
            if self._key is None:
                from cryptography.hazmat.primitives.asymmetric import ec

                self._key = ec.generate_private_key(ec.SECP256R1())
            return self._key

    # -- TokenRequest ----------------------------------------------------------------------

    def request(self, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """Answer a TokenRequest for ServiceAccount ``namespace/name``."""
        account = self._lookup(namespace, name)
        if account is None:
            raise errors.not_found("serviceaccounts", "", name)
        spec = dict(body.get("spec") or {})
        seconds = spec.get("expirationSeconds")
        seconds = DEFAULT_SECONDS if seconds is None else seconds
        if not isinstance(seconds, int) or seconds < MIN_SECONDS:
            raise errors.invalid(
                "TokenRequest",
                "authentication.k8s.io",
                name,
                [
                    {
                        "reason": "FieldValueInvalid",
                        "field": "spec.expirationSeconds",
                        "message": f"Invalid value: {seconds}: may not specify a duration "
                        "less than 10 minutes",
                    }
                ],
            )
        audiences = list(spec.get("audiences") or [API_AUDIENCE])
        uid = str((account.get("metadata") or {}).get("uid") or "")
        now = int(time.time())
        claims = {
            "aud": audiences,
            "exp": now + seconds,
            "iat": now,
            "iss": ISSUER,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": name, "uid": uid}},
            "nbf": now,
            "sub": f"system:serviceaccount:{namespace}:{name}",
        }
        spec["audiences"] = audiences
        spec["expirationSeconds"] = seconds
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + seconds))
        return {
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None},
            "spec": spec,
            "status": {"token": self.sign(claims), "expirationTimestamp": expires},
        }

    def sign(self, claims: dict[str, Any]) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        header = {"alg": "ES256", "kid": self.kid}
        head = json.dumps(header, separators=(",", ":"))
        body = json.dumps(claims, separators=(",", ":"))
        signing_input = f"{_b64(head.encode())}.{_b64(body.encode())}"
        der = self._signing_key().sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return f"{signing_input}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    # -- authentication --------------------------------------------------------------------

    def authenticate(self, token: str) -> ServiceAccountUser:
        """The ServiceAccount a token stands for; 401 for anything not valid now."""
        claims = self._verified_claims(token)
        if claims is None:
            raise errors.ApiError(401, "Unauthorized", "Unauthorized")
        now = time.time()
        audiences = claims.get("aud") or []
        if isinstance(audiences, str):
            audiences = [audiences]
        if claims.get("exp", 0) <= now or claims.get("nbf", 0) > now + 60:
            raise errors.ApiError(401, "Unauthorized", "Unauthorized")
        if claims.get("iss") != ISSUER or API_AUDIENCE not in audiences:
            raise errors.ApiError(401, "Unauthorized", "Unauthorized")
        info = claims.get("kubernetes.io") or {}
        namespace = str(info.get("namespace") or "")
        name = str((info.get("serviceaccount") or {}).get("name") or "")
        uid = str((info.get("serviceaccount") or {}).get("uid") or "")
        account = self._lookup(namespace, name)
        if account is None or (account.get("metadata") or {}).get("uid") != uid:
            raise errors.ApiError(401, "Unauthorized", "Unauthorized")
        return ServiceAccountUser(namespace, name, uid)

    def _verified_claims(self, token: str) -> dict[str, Any] | None:
        if self._key is None:
            return None  # nothing was ever signed here
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

        try:
            head, payload, signature = token.split(".")
            raw = _unb64(signature)
            if len(raw) != 64:
                return None
            der = encode_dss_signature(
                int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
            )
            self._key.public_key().verify(
                der, f"{head}.{payload}".encode(), ec.ECDSA(hashes.SHA256())
            )
            claims = json.loads(_unb64(payload))
        except (ValueError, InvalidSignature):
            return None
        return claims if isinstance(claims, dict) else None
