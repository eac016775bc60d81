"""The secure stack's Redis ACL users: one per service that keeps state, least privilege.

Pure data. Every service may run anything but Redis's ``@dangerous`` commands (FLUSHALL, FLUSHDB,
CONFIG, KEYS, DEBUG, SHUTDOWN, MONITOR, ACL, SAVE, ...), INFO excepted: health checks and the
console's memory figures read it. The console may also run SLOWLOG GET and MEMORY USAGE (its
Redis page); not SLOWLOG RESET. The admin (``check``, the launcher's probe) may run everything.
The default user is disabled, so a client without a user name gets nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from pydantic import SecretStr

ADMIN_RULES = "~* &* +@all"
SERVICE_RULES = "~* &* +@all -@dangerous +info"
#: The console's Redis page also reads the slow log (SLOWLOG GET is @dangerous) and key sizes.
CONSOLE_RULES = f"{SERVICE_RULES} +slowlog|get +memory|usage"
#: Redis user -> its ACL rules (the registry and the generator keep no state in Redis).
REDIS_USERS: dict[str, str] = {
    "detector": SERVICE_RULES,
    "alerts": SERVICE_RULES,
    "learner": SERVICE_RULES,
    "drift": SERVICE_RULES,
    "experiments": SERVICE_RULES,
    "console": CONSOLE_RULES,
    "admin": ADMIN_RULES,
}


def acl_file(passwords: Mapping[str, SecretStr]) -> str:
    """An ``aclfile`` for ``REDIS_USERS``: passwords as SHA-256 (``#hex``), never in clear.

    >>> lines = acl_file({name: SecretStr("pw") for name in REDIS_USERS}).splitlines()
    >>> lines[0], lines[1].split()[:3], lines[1].split()[4:]
    ('user default off', ['user', 'detector', 'on'], ['~*', '&*', '+@all', '-@dangerous', '+info'])
    """
    lines = ["user default off"]
    for name, rules in REDIS_USERS.items():
        digest = hashlib.sha256(passwords[name].get_secret_value().encode()).hexdigest()
        lines.append(f"user {name} on #{digest} {rules}")
    return "\n".join(lines) + "\n"
