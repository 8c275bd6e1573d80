"""Use cases: capture, replay, reprocess, flows, returns, capital gains, statements and exports, status, alerts, fx."""
