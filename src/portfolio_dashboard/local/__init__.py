"""Files outside PostgreSQL: the spool, the Schwab token file, the one atomic writer."""
