"""Services: work that combines the domain with storage or files (statements, exports, ...)."""
