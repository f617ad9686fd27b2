"""Runtime shared by every service: settings, Kafka app factory, database, dead letters, outbox, telemetry."""
