"""Cumulo's per-node agent (arrives with the agent-stream issue)."""
