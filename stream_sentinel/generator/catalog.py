"""Fixed vocabularies of the simulation: merchant categories, channels, card types, patterns.

Columnar batches carry small integer codes; these tuples turn the codes into the strings of a
:class:`~stream_sentinel.domain.Transaction`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from stream_sentinel.domain import CardType, Channel


@dataclass(frozen=True, slots=True)
class Category:
    name: str
    weight: float  # share of merchants
    amount_multiple: float  # typical ticket relative to the user's everyday spend
    online_share: float  # share of merchants of this category that trade online


CATEGORIES: tuple[Category, ...] = (
    Category("grocery", 0.20, 0.7, 0.10),
    Category("restaurant", 0.17, 0.8, 0.15),
    Category("fuel", 0.09, 1.0, 0.0),
    Category("retail", 0.15, 1.3, 0.35),
    Category("electronics", 0.06, 3.5, 0.50),
    Category("travel", 0.04, 6.0, 0.70),
    Category("entertainment", 0.07, 0.9, 0.50),
    Category("health", 0.05, 1.4, 0.10),
    Category("digital_goods", 0.07, 0.4, 1.0),
    Category("atm", 0.07, 2.5, 0.0),
    Category("jewelry", 0.03, 6.0, 0.20),
)
CATEGORY_NAMES: tuple[str, ...] = tuple(c.name for c in CATEGORIES)
CATEGORY_CODE: dict[str, int] = {name: code for code, name in enumerate(CATEGORY_NAMES)}
ATM = CATEGORY_CODE["atm"]
DIGITAL_GOODS = CATEGORY_CODE["digital_goods"]
#: Categories fraudsters cash out in: resellable goods and travel.
HIGH_VALUE = np.array([CATEGORY_CODE[n] for n in ("electronics", "jewelry", "travel")])
AMOUNT_MULTIPLE = np.array([c.amount_multiple for c in CATEGORIES])

#: Channel / card-type codes are positions in the domain enums (their declaration order).
CHANNELS: tuple[Channel, ...] = tuple(Channel)
CARD_TYPES: tuple[CardType, ...] = tuple(CardType)
ONLINE = CHANNELS.index(Channel.ONLINE)
POS = CHANNELS.index(Channel.POS)
ATM_CHANNEL = CHANNELS.index(Channel.ATM)
MOBILE = CHANNELS.index(Channel.MOBILE)
CREDIT = CARD_TYPES.index(CardType.CREDIT)
DEBIT = CARD_TYPES.index(CardType.DEBIT)
PREPAID = CARD_TYPES.index(CardType.PREPAID)


def card_present(channel: npt.NDArray[np.int8]) -> npt.NDArray[np.bool_]:
    """POS and ATM: the transaction happened at the merchant's location."""
    return (channel == POS) | (channel == ATM_CHANNEL)


# Fraud patterns. Code 0 is "legitimate"; the names travel in labels and ground-truth columns only.
LEGIT = 0
CARD_TESTING = 1
ACCOUNT_TAKEOVER = 2
COMPROMISED_MERCHANT = 3
IMPOSSIBLE_TRAVEL = 4
VELOCITY_BURST = 5
HIGH_AMOUNT_OUTLIER = 6
PATTERN_NAMES: tuple[str, ...] = (
    "",
    "card_testing",
    "account_takeover",
    "compromised_merchant",
    "impossible_travel",
    "velocity_burst",
    "high_amount_outlier",
)
PATTERNS: tuple[str, ...] = PATTERN_NAMES[1:]
PATTERN_CODE: dict[str, int] = {name: code for code, name in enumerate(PATTERN_NAMES) if name}
