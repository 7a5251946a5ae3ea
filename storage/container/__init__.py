"""Container and account listings: sharded SQLite indexes on the storage nodes."""
