"""HTTPS for the test server: a CA it makes itself, and TLS on the same port as HTTP.

kubectl and client-go (so Helm too) send a bearer token only over TLS: over plain HTTP a
ServiceAccount token never reaches the server, and RBAC could not be tested with the
clients platform teams use. So the server makes a CA and a serving certificate for
127.0.0.1/localhost (and the in-cluster names ``kubernetes.default.svc…``) at first
use, writes the CA into the kubeconfigs it hands out (``certificate-authority-data``),
and serves TLS on its one port: a connection whose first byte starts a TLS handshake
is wrapped, anything else is plain HTTP as before. ECDSA P-256 keys: made in about a
millisecond, so every test server can have its own CA.

Needs the ``cryptography`` package (the ``sandbox`` and ``test`` extras); without it the
server serves plain HTTP only and says so when HTTPS is asked for.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import socket
import ssl
import tempfile
import threading

TLS_HANDSHAKE = 0x16  # first byte of a TLS record carrying a handshake
SERVER_NAMES = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)


class TLSUnavailable(RuntimeError):
    """HTTPS was asked for but the ``cryptography`` package is not installed."""


class ServerTLS:
    """The CA and serving certificate of one test server, made on first use."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._lock = threading.Lock()
        self._ca_pem: bytes | None = None
        self._context: ssl.SSLContext | None = None

    @property
    def ca_pem(self) -> bytes:
        self._ensure()
        assert self._ca_pem is not None
        return self._ca_pem

    @property
    def context(self) -> ssl.SSLContext:
        self._ensure()
        assert self._context is not None
        return self._context

    @property
    def ready(self) -> bool:
        return self._context is not None

    def _ensure(self) -> None:
        with self._lock:
            if self._context is None:
                self._ca_pem, cert_pem, key_pem = _make_certificates(self.host)
                self._context = _server_context(cert_pem, key_pem)

    def wrap(self, conn: socket.socket) -> socket.socket | None:
        """``conn`` itself when the client speaks plain HTTP, a TLS socket when it starts a
        handshake (after the handshake), None when the handshake failed."""
        conn.settimeout(30)
        try:
            first = conn.recv(1, socket.MSG_PEEK)
        except OSError:
            return None
        if not first or first[0] != TLS_HANDSHAKE:
            conn.settimeout(None)
            return conn
        if not self.ready:
            try:
                self._ensure()
            except TLSUnavailable:
                return None
        try:
            wrapped = self.context.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            with contextlib.suppress(OSError):
                conn.close()
            return None
        wrapped.settimeout(None)
        return wrapped


def _make_certificates(host: str) -> tuple[bytes, bytes, bytes]:
    """(CA certificate, serving certificate, serving key), PEM."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    except ImportError as exc:
        raise TLSUnavailable(
            "HTTPS needs the cryptography package: pip install 'meshbot[sandbox]'"
        ) from exc
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "meshbot-sandbox-ca")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in SERVER_NAMES]
    for address in {host, "127.0.0.1", "::1"}:
        with contextlib.suppress(ValueError):
            names.append(x509.IPAddress(ipaddress.ip_address(address)))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return ca.public_bytes(pem), cert.public_bytes(pem), key_pem


def _server_context(cert_pem: bytes, key_pem: bytes) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # load_cert_chain reads files only: a private temporary file, removed at once
    fd, path = tempfile.mkstemp(prefix="kube-sandbox-", suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(cert_pem + key_pem)
        context.load_cert_chain(path)
    finally:
        os.unlink(path)
    return context
