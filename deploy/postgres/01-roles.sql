-- Least-privilege roles for Portfolio Dashboard (run once, as a superuser):
--   sudo -u postgres psql -f 01-roles.sql        (after replacing both CHANGE-ME passwords)
-- portfolio_owner owns the database and the schema: migrations (`portfolio-dashboard migrate`) run as it.
-- portfolio_app is what the capture timer, the dashboard and every other command use day to day: it reads
-- and writes rows but cannot create, alter or drop anything.
CREATE ROLE portfolio_owner LOGIN PASSWORD 'CHANGE-ME-owner';
CREATE ROLE portfolio_app LOGIN PASSWORD 'CHANGE-ME-app';
CREATE DATABASE portfolio OWNER portfolio_owner ENCODING 'UTF8';
