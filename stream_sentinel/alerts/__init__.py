"""Alert response: severity tiers, actions on users, enforcement state and SLAs (docs/alerts.md)."""
