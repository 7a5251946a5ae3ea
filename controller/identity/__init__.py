"""Identity: projects, users, roles, tokens, application credentials, and who is calling."""
