"""The controller's own facts: versions, database, native backend, uptime."""
