"""The use cases: capture, replay, reprocess, flows, returns, capital gains, statements and exports, mapping,
monitoring and alerts, reporting, FX, connections."""
