"""The console's users: names, roles and scrypt password hashes, kept in one JSON file.

The file holds no plaintext: each password is stored as
``scrypt$N$r$p$salt$hash`` (hashlib.scrypt, a random 16-byte salt). ``stream-sentinel console
add-user`` writes it (mode 0600), the console reads it at start.

>>> stored = hash_password("correct horse", cost=2**4)
>>> verify_password("correct horse", stored), verify_password("wrong", stored)
(True, False)
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from stream_sentinel.errors import ConfigError, UsageError

SCRYPT_COST = 2**14  # N: about 16 MB and tens of ms per check
SCRYPT_BLOCK = 8
SCRYPT_PARALLEL = 1
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
MIN_PASSWORD = 8


class Role(enum.IntEnum):
    """What a user may do; each role may do everything the ones below it may."""

    VIEWER = 1  # read every page
    ANALYST = 2  # resolve cases, unblock users
    ADMIN = 3  # everything (the console has no admin-only action yet)

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    name: str
    role: Role
    password_hash: str


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def hash_password(password: str, cost: int = SCRYPT_COST) -> str:
    """A salted scrypt hash of ``password`` in the file's one-string form."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(),
        salt=salt,
        n=cost,
        r=SCRYPT_BLOCK,
        p=SCRYPT_PARALLEL,
        maxmem=256 * cost * SCRYPT_BLOCK,
    )
    return f"scrypt${cost}${SCRYPT_BLOCK}${SCRYPT_PARALLEL}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` hashes to ``stored`` (compared in constant time)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        cost, block, parallel = int(n), int(r), int(p)
        expected = base64.b64decode(digest)
        found = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=cost,
            r=block,
            p=parallel,
            maxmem=256 * cost * block,
            dklen=len(expected),
        )
    except ValueError:
        return False
    return scheme == "scrypt" and hmac.compare_digest(found, expected)


class UserBook:
    """The users of one console, as read from (and written to) the users file."""

    def __init__(self, users: dict[str, ConsoleUser] | None = None) -> None:
        self.users = dict(users or {})

    def __bool__(self) -> bool:
        return bool(self.users)

    @classmethod
    def load(cls, path: Path) -> UserBook:
        """The file's users; none when the file does not exist yet."""
        if not path.exists():
            return cls()
        try:
            entries = json.loads(path.read_text())["users"]
            return cls(
                {
                    name: ConsoleUser(name, Role[entry["role"].upper()], entry["password"])
                    for name, entry in entries.items()
                }
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(
                f"the console users file {path} is not readable ({exc!r}); fix it or recreate "
                "it with `stream-sentinel console add-user`"
            ) from None

    def save(self, path: Path) -> None:
        """Write the file (owner-only permissions: it holds password hashes)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "users": {
                u.name: {"role": u.role.label, "password": u.password_hash}
                for u in sorted(self.users.values(), key=lambda u: u.name)
            }
        }
        temporary = path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(document, out, indent=2)
        temporary.replace(path)

    def add(self, name: str, role: Role, password: str, cost: int = SCRYPT_COST) -> bool:
        """Add or replace a user; True when the name was new."""
        if not NAME_PATTERN.match(name):
            raise UsageError(
                f"user name {name!r} is not allowed: use 1-64 letters, digits, '_', '.', '@', '-'"
            )
        if len(password) < MIN_PASSWORD:
            raise UsageError(f"the password must have at least {MIN_PASSWORD} characters")
        new = name not in self.users
        self.users[name] = ConsoleUser(name, role, hash_password(password, cost))
        return new

    def authenticate(self, name: str, password: str) -> ConsoleUser | None:
        """The user when the password is theirs; None for an unknown name or a wrong password."""
        user = self.users.get(name)
        if user is None:
            hash_password(password)  # as slow as a real check: timing tells no names apart
            return None
        return user if verify_password(password, user.password_hash) else None
