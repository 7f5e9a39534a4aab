#!/bin/sh
# Runs once, when Postgres initialises an empty data directory (docker-entrypoint-initdb.d): creates the
# application's role `rplace` (not a superuser; it owns the per-canvas schemas its migrations create) with
# the password from RPLACE_DB_PASSWORD. The superuser's password is POSTGRES_PASSWORD; neither is in the repo.
set -eu
: "${RPLACE_DB_PASSWORD:?RPLACE_DB_PASSWORD must be set}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" --set=pw="$RPLACE_DB_PASSWORD" <<'SQL'
CREATE ROLE rplace LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'pw';
GRANT CONNECT, CREATE ON DATABASE rplace TO rplace;
SQL
