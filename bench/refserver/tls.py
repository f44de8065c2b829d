"""A self-signed certificate for the reference endpoint's https/wss (`RefServerConfig.tls`).

Generated at start for `127.0.0.1`, `::1` and `localhost` (an EC P-256 key, valid for a day),
written to a fresh temporary directory as `cert.pem` and `key.pem`, removed at stop; nothing is
shipped. Clients trust `cert.pem` as their CA (it is its own issuer): `client_context()`.
"""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

VALID_FOR = datetime.timedelta(days=1)
"""Lifetime of a generated certificate (it lives as long as one server)."""
HOSTS = ("localhost", "127.0.0.1", "::1")
"""Names the certificate covers."""


@dataclass(frozen=True)
class SelfSigned:
    """A generated certificate and its key, on disk."""

    directory: Path
    """The temporary directory holding both files (removed by `remove`)."""

    @property
    def cert_path(self) -> Path:
        """The certificate (PEM): what a client trusts."""
        return self.directory / "cert.pem"

    @property
    def key_path(self) -> Path:
        """The private key (PEM, unencrypted, mode 0600)."""
        return self.directory / "key.pem"

    def server_context(self) -> ssl.SSLContext:
        """The server side's TLS context."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_path, self.key_path)
        return context

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def generate() -> SelfSigned:
    """A new certificate for `HOSTS`, in a new temporary directory."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rtbench reference endpoint")])
    now = datetime.datetime.now(datetime.UTC)
    sans: list[x509.GeneralName] = [x509.DNSName(HOSTS[0])]
    sans += [x509.IPAddress(ipaddress.ip_address(h)) for h in HOSTS[1:]]
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + VALID_FOR)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            # Python 3.13's default contexts verify strictly (RFC 5280): key identifiers and usage.
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()),
                           critical=False)
            .add_extension(x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False,
                crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    made = SelfSigned(Path(tempfile.mkdtemp(prefix="rtbench-tls-")))
    made.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    made.key_path.touch(mode=0o600)
    made.key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return made


def client_context(cert_path: str | Path) -> ssl.SSLContext:
    """A client TLS context that trusts the certificate at `cert_path` (and verifies hostnames)."""
    return ssl.create_default_context(cafile=str(cert_path))
