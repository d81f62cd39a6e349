"""DKIM keys: generated here, stored encrypted, published as DNS TXT records.

``create_keys(domain, selector)`` makes one RSA-2048 key (``SELECTOR-rsa``, the
algorithm every verifier knows) and one Ed25519 key (``SELECTOR-ed25519``, RFC 8463:
small, and ten times cheaper to sign with). Messages then carry both signatures; a
verifier that does not know Ed25519 ignores that one (RFC 6376 6.1).

Rotation: create keys under a new selector, publish its records, and retire the old
selector. The newest selector that is not retired signs; a retired one never does
again, so its records may be removed once the mail it signed has been read.

Private keys are encrypted with AES-256-GCM under a key derived from
``ENVOI_SECRET_KEY`` by HKDF-SHA256, so a database dump alone does not reveal them.
They are never shown again and no face exports them: only the signer decrypts them.
Changing ``ENVOI_SECRET_KEY`` therefore makes existing keys unusable (the signer logs
it and sends unsigned), and they must be created again.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from envoi.accounts.services import Actor, audit
from envoi.accounts.users import authorize
from envoi.sending.email.models import DkimAlgorithm, DkimKey, SendingDomain

RSA_BITS = 2048
TXT_CHUNK = 255
"""RFC 1035 3.3.14: one character-string of a TXT record holds at most 255 octets."""
_SELECTOR = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,40}[a-z0-9])?")
_DOMAIN = re.compile(r"(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
SUFFIXES = {DkimAlgorithm.RSA: "rsa", DkimAlgorithm.ED25519: "ed25519"}
_HKDF_INFO = b"envoi dkim private keys v1"
_NONCE = 12


_changes = 0
"""Keys created or retired by this process: its cached signers are then stale at once
(other processes notice within :data:`envoi.sending.email.dkim.CACHE_SECONDS`)."""


def changes() -> int:
    return _changes


def _changed() -> None:
    global _changes
    _changes += 1


class DkimError(ValueError):
    """A key request that cannot be done; the message names the field."""


def normalize_domain(value: str) -> str:
    """The domain in lower case, without a final dot; :class:`DkimError` if it is not
    a host name (an IDN must be given in its ``xn--`` form)."""
    domain = value.strip().lower().rstrip(".")
    if not _DOMAIN.fullmatch(domain):
        raise DkimError(_("domain: %(value)s is not a domain name (example.com; "
                          "international names in their xn-- form)") % {"value": repr(value)})
    return domain


def check_selector(value: str) -> str:
    selector = value.strip().lower()
    if not _SELECTOR.fullmatch(selector):
        raise DkimError(_("selector: %(value)s must be 1 to 42 letters, digits or "
                          "hyphens, not starting or ending with a hyphen") % {
                              "value": repr(value)})
    return selector


# -- encryption of the private keys --------------------------------------------------


def _cipher() -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
        settings.SECRET_KEY.encode("utf-8"))
    return AESGCM(key)


def encrypt_private_key(der: bytes, key_id: str) -> str:
    """AES-GCM with a random nonce; ``key_id`` (the record name) is bound as associated
    data, so a stored key cannot be moved to another selector unnoticed."""
    nonce = os.urandom(_NONCE)
    sealed = _cipher().encrypt(nonce, der, key_id.encode("ascii"))
    return base64.b64encode(nonce + sealed).decode("ascii")


def decrypt_private_key(stored: str, key_id: str) -> bytes:
    """The PKCS #8 DER; :class:`DkimError` when ``ENVOI_SECRET_KEY`` is not the one the
    key was stored under (or the stored text was altered)."""
    raw = base64.b64decode(stored)
    try:
        return _cipher().decrypt(raw[:_NONCE], raw[_NONCE:], key_id.encode("ascii"))
    except InvalidTag as error:
        raise DkimError(f"the private key of {key_id} cannot be decrypted: "
                        "ENVOI_SECRET_KEY changed since it was created") from error


def key_id(key: DkimKey) -> str:
    return f"{key.selector}._domainkey.{key.domain.domain}"


# -- generation ------------------------------------------------------------------------


@dataclass(frozen=True)
class NewKey:
    algorithm: str
    public_key: str  # the p= value
    private_der: bytes


def generate(algorithm: str) -> NewKey:
    if algorithm == DkimAlgorithm.RSA:
        private: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey = rsa.generate_private_key(
            public_exponent=65537, key_size=RSA_BITS)
        public = private.public_key().public_bytes(  # SubjectPublicKeyInfo (RFC 6376 3.6.1)
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    else:
        private = ed25519.Ed25519PrivateKey.generate()
        public = private.public_key().public_bytes(  # the bare 32 octets (RFC 8463 4.2)
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return NewKey(algorithm, base64.b64encode(public).decode("ascii"), der)


def create_keys(actor: Actor, domain: str, selector: str) -> list[DkimKey]:
    """An RSA and an Ed25519 key for ``domain`` under ``SELECTOR-rsa`` and
    ``SELECTOR-ed25519``; the domain is added as a sending domain if it is new.
    Audited. :class:`DkimError` for a bad name or a selector the domain has already."""
    authorize(actor, "sending_domain.manage")
    domain = normalize_domain(domain)
    selector = check_selector(selector)
    new = [generate(algorithm) for algorithm in SUFFIXES]
    try:
        with transaction.atomic():
            sending_domain, _new = SendingDomain.objects.get_or_create(domain=domain)
            keys = []
            for made in new:
                key = DkimKey(domain=sending_domain, algorithm=made.algorithm,
                              selector=f"{selector}-{SUFFIXES[DkimAlgorithm(made.algorithm)]}",
                              public_key=made.public_key)
                key.private_key = encrypt_private_key(made.private_der, key_id(key))
                key.save()
                keys.append(key)
    except IntegrityError as error:
        raise DkimError(_("selector: %(domain)s has selector %(selector)s already; "
                          "choose a new one to rotate") % {
                              "domain": domain, "selector": repr(selector)}) from error
    _changed()
    audit(actor, "sending_domain.dkim_create", domain=domain,
          selectors=[key.selector for key in keys])
    return keys


def retire_selector(actor: Actor, domain: str, selector: str) -> int:
    """Retire the keys under ``selector`` (``SELECTOR``, or one of its ``-rsa`` /
    ``-ed25519`` names): they sign nothing from now on. The number retired."""
    authorize(actor, "sending_domain.manage")
    domain = normalize_domain(domain)
    selector = check_selector(selector)
    names = {selector, *(f"{selector}-{suffix}" for suffix in SUFFIXES.values())}
    retired = DkimKey.objects.filter(domain__domain=domain, selector__in=names,
                                     retired_at__isnull=True).update(retired_at=timezone.now())
    if not retired:
        raise DkimError(_("selector: %(domain)s has no active selector %(selector)s") % {
            "domain": domain, "selector": repr(selector)})
    _changed()
    audit(actor, "sending_domain.dkim_retire", domain=domain, selector=selector)
    return retired


def add_domain(actor: Actor, domain: str) -> SendingDomain:
    """Add a sending domain to check (without keys: the relay may sign for it)."""
    authorize(actor, "sending_domain.manage")
    domain = normalize_domain(domain)
    sending_domain, created = SendingDomain.objects.get_or_create(domain=domain)
    if created:
        audit(actor, "sending_domain.add", domain=domain)
    return sending_domain


# -- DNS records -----------------------------------------------------------------------


def record_value(key: DkimKey) -> str:
    return f"v=DKIM1; k={key.key_type}; p={key.public_key}"


def zone_line(name: str, value: str) -> str:
    """``NAME IN TXT "…"``: the value split into quoted strings of at most 255
    characters (a DNS server joins them back into one value)."""
    chunks = [value[start:start + TXT_CHUNK] for start in range(0, len(value), TXT_CHUNK)]
    quoted = " ".join(f'"{chunk}"' for chunk in chunks or [""])
    return f"{name}. IN TXT {quoted}"


def dkim_zone_line(key: DkimKey) -> str:
    return zone_line(key_id(key), record_value(key))


def random_selector() -> str:
    """A default selector for the console: the year and month, and a short suffix."""
    return f"{timezone.now():%Y%m}{secrets.token_hex(2)}"
