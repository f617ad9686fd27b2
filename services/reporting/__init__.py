"""Reporting: live revenue-cycle KPIs per tenant, payer, hour and day, computed by faust
agents into tumbling-window tables whose changelogs live in Kafka (docs/architecture.md)."""
