"""TLS for a console bound beyond loopback: the clinic's certificate, or a self-signed one.

``--tls-cert F --tls-key F`` loads the clinic's certificate and key. ``--tls-self-signed``
uses ``<site>/console-tls/cert.pem`` and ``key.pem`` (mode 0600, folder 0700), made with
``cryptography`` (ECDSA P-256, valid 2 years) when missing, expired, or not naming the
host the console binds; it is kept, so a tablet confirms its SHA-256 fingerprint once.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import os
import socket
import ssl
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from console.errors import TlsError

__all__ = ["certificate_hosts", "fingerprint", "load_context", "self_signed"]

VALID_DAYS = 730
SELF_SIGNED_DIR = "console-tls"


def fingerprint(cert_path: Path) -> str:
    """SHA-256 fingerprint of a PEM certificate, as browsers show it (``AB:CD:...``).

    Raises
    ------
    TlsError
        The file cannot be read or is not a PEM certificate.
    """
    cert = _read_cert(cert_path)
    return ":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA256()))


def _read_cert(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except OSError as exc:
        raise TlsError(f"cannot read the certificate {path}: {exc}") from exc
    except ValueError as exc:
        raise TlsError(f"{path}: not a PEM certificate ({exc})") from exc


def load_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server TLS context (TLS 1.2 or newer) for ``cert`` and its ``key``.

    Raises
    ------
    TlsError
        A file is missing or unreadable, or the key does not belong to the certificate.
    """
    for what, path in (("--tls-cert", cert), ("--tls-key", key)):
        if not path.is_file():
            raise TlsError(f"{what} {path}: no such file")
    _read_cert(cert)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(str(cert), str(key))
    except (ssl.SSLError, OSError) as exc:
        raise TlsError(
            f"--tls-cert {cert} / --tls-key {key}: cannot be used together ({exc})"
        ) from exc
    return ctx


def certificate_hosts(bind_host: str) -> list[str]:
    """The names a self-signed certificate for ``bind_host`` carries: the host (unless a
    wildcard address), this machine's name, ``localhost`` and the loopback addresses."""
    names = [bind_host] if bind_host not in ("0.0.0.0", "::", "") else []
    names += [socket.gethostname(), "localhost", "127.0.0.1", "::1"]
    return list(dict.fromkeys(names))


def _san(hosts: Sequence[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for host in hosts:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            entries.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(entries)


def _usable(cert_path: Path, key_path: Path, hosts: Sequence[str], now: _dt.datetime) -> bool:
    if not (cert_path.is_file() and key_path.is_file()):
        return False
    try:
        cert = _read_cert(cert_path)
        have = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (TlsError, x509.ExtensionNotFound):
        return False
    return cert.not_valid_after_utc > now + _dt.timedelta(days=1) and set(_san(hosts)) <= set(have)


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def self_signed(
    site: Path, hosts: Sequence[str], now: _dt.datetime | None = None
) -> tuple[Path, Path, bool]:
    """The console's self-signed certificate and key under ``<site>/console-tls/``.

    Returns
    -------
    tuple
        ``(cert path, key path, made)``: ``made`` is true when a new one was made now
        (none there, expiring within a day, or not naming every one of ``hosts``).

    Raises
    ------
    TlsError
        The folder or files cannot be written.
    """
    now = now or _dt.datetime.now(_dt.UTC)
    folder = site / SELF_SIGNED_DIR
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    if _usable(cert_path, key_path, hosts, now):
        return cert_path, key_path, False
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"vrtherapy console {hosts[0]}")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(minutes=5))
        .not_valid_after(now + _dt.timedelta(days=VALID_DAYS))
        .add_extension(_san(hosts), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        _write_private(
            key_path,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
        _write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    except OSError as exc:
        raise TlsError(f"cannot write the console's certificate in {folder}: {exc}") from exc
    return cert_path, key_path, True
