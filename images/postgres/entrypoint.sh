#!/bin/sh
# Creates the cluster on first start, then runs PostgreSQL in the foreground.
# POSTGRES_USER and POSTGRES_DB name the role and database (both "triggers"
# by default); any client on the container's network is trusted, which is
# what a throwaway test database on a private network needs.
set -eu
data=/var/lib/postgresql/data
user=${POSTGRES_USER:-triggers}
database=${POSTGRES_DB:-triggers}
bin=/usr/lib/postgresql/15/bin

if [ ! -s "$data/PG_VERSION" ]; then
  "$bin/initdb" --pgdata="$data" --username="$user" --auth=trust --no-locale \
    --encoding=UTF8 >/dev/null 2>&1
  echo "host all all 0.0.0.0/0 trust" >> "$data/pg_hba.conf"
  "$bin/postgres" --single -D "$data" -j postgres >/dev/null <<SQL
CREATE DATABASE "$database" OWNER "$user";
SQL
fi
exec "$bin/postgres" -D "$data" -c listen_addresses='*' -c unix_socket_directories=/tmp
