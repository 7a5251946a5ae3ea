"""Quotas counted from existing resources, and per-project usage records."""
