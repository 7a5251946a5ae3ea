"""SDK clients, one module per service (``client.<domain>``)."""
