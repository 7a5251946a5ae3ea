"""Functional tests of the controller-agent stream and NodeService (own fixtures in conftest)."""
