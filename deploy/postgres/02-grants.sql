-- Then, connected to the new database (as a superuser):
--   sudo -u postgres psql -d portfolio -f 02-grants.sql
REVOKE ALL ON DATABASE portfolio FROM PUBLIC;
-- TEMPORARY: `reprocess` stages rows in temporary tables before merging them.
GRANT CONNECT, TEMPORARY ON DATABASE portfolio TO portfolio_app;
ALTER SCHEMA public OWNER TO portfolio_owner;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO portfolio_app;
-- Every table and view the owner's migrations create (now and later) is readable and writable by the app.
ALTER DEFAULT PRIVILEGES FOR ROLE portfolio_owner IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO portfolio_app;
ALTER DEFAULT PRIVILEGES FOR ROLE portfolio_owner IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO portfolio_app;
