"""Broker sources: each module is one source with a ``fetch`` half (HTTP) and a pure ``parse`` half."""
