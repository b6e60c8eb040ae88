"""Who the node talks to: peer addresses, presentation contexts, TLS contexts."""

from __future__ import annotations

import contextlib
import re
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from idiscore.errors import ConfigurationError, MissingDependencyError

__all__ = [
    "Peer",
    "client_tls_context",
    "no_delay",
    "readable_transfer_syntaxes",
    "require_pynetdicom",
    "server_tls_context",
    "storage_contexts",
]

_PEER = re.compile(r"^(?P<ae>[^@]{1,16})@(?P<host>\[[^\]]+\]|[^:@]+):(?P<port>\d{1,5})$")


@dataclass(frozen=True)
class Peer:
    """A DICOM application entity on the network: ``AE@HOST:PORT``."""

    ae_title: str
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Peer:
        """``AE@HOST:PORT`` (an IPv6 host in brackets).

        Raises:
            ConfigurationError: not of that form, or the port is out of range.
        """
        match = _PEER.match(text.strip())
        if match is None:
            raise ConfigurationError(f"{text!r} is not AE@HOST:PORT")
        port = int(match["port"])
        ae_title = match["ae"].strip()
        if not 0 < port < 65536:
            raise ConfigurationError(f"port {port} is out of range")
        if not ae_title:
            raise ConfigurationError(f"{text!r} has an empty AE title")
        return cls(ae_title, match["host"].strip("[]"), port)

    def __str__(self) -> str:
        return f"{self.ae_title}@{self.host}:{self.port}"


def require_pynetdicom() -> None:
    """Raises:
    MissingDependencyError: pynetdicom (the ``net`` extra) is not installed."""
    try:
        import pynetdicom  # noqa: F401
    except ImportError:
        raise MissingDependencyError(
            "the DICOM node needs pynetdicom: pip install 'idiscore[net]'"
        ) from None


def readable_transfer_syntaxes() -> list[Any]:
    """Every transfer syntax pydicom reads and whose pixel data a codec here decodes
    (uncompressed and deflated first, the preferred order of an acceptor)."""
    from pydicom.pixels.decoders.base import get_decoder
    from pydicom.uid import AllTransferSyntaxes

    readable = []
    for syntax in AllTransferSyntaxes:
        try:
            available = get_decoder(syntax).is_available
        except NotImplementedError:
            continue
        if available:
            readable.append(syntax)
    return sorted(readable, key=lambda uid: (uid.is_compressed, uid.is_deflated))


def storage_contexts() -> list[Any]:
    """One SCP presentation context per storage SOP class pynetdicom knows, each with
    every :func:`readable_transfer_syntaxes` (and Verification)."""
    from pynetdicom import AllStoragePresentationContexts, build_context
    from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

    syntaxes = readable_transfer_syntaxes()
    contexts = [
        build_context(str(context.abstract_syntax), syntaxes)
        for context in AllStoragePresentationContexts
    ]
    contexts.append(build_context(Verification))
    return contexts


def no_delay(assoc: Any) -> None:
    """Send small PDUs at once (TCP_NODELAY) on an association's socket.

    DICOM alternates requests and responses: with Nagle's algorithm and delayed ACKs every
    instance can wait ~40 ms for the network stack. pynetdicom leaves the option alone.
    """
    import socket

    sock = getattr(getattr(assoc.dul, "socket", None), "socket", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _load_chain(context: ssl.SSLContext, cert: Path, key: Path) -> None:
    try:
        context.load_cert_chain(str(cert), str(key))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationError(
            f"cannot load the TLS certificate {str(cert)!r} and key: {exc.strerror or exc}"
        ) from None


def _load_ca(context: ssl.SSLContext, ca: Path) -> None:
    try:
        context.load_verify_locations(str(ca))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationError(
            f"cannot load the TLS CA certificates {str(ca)!r}: {exc.strerror or exc}"
        ) from None


def server_tls_context(cert: Path, key: Path, ca: Path | None = None) -> ssl.SSLContext:
    """The TLS context of the receiving node: TLS 1.2 or newer; with ``ca`` every client
    must present a certificate that ``ca`` signed (mutual TLS).

    Raises:
        ConfigurationError: a file is missing or not a certificate / key.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    _load_chain(context, cert, key)
    if ca is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        _load_ca(context, ca)
    return context


def client_tls_context(
    ca: Path | None, cert: Path | None = None, key: Path | None = None
) -> ssl.SSLContext:
    """A TLS client context that verifies the server against ``ca`` (the system's
    certificates when None), presenting ``cert`` when given."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if ca is not None:
        _load_ca(context, ca)
    if cert is not None and key is not None:
        _load_chain(context, cert, key)
    return context
