"""The use cases: capture, replay, reprocess, mapping, monitoring and alerts, reporting, FX, connections."""
