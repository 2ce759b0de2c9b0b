#!/usr/bin/env bash
# Runs the deploy/ recipe on this machine with one command: PostgreSQL, NODES Cartwright nodes (3)
# and nginx in front of them (deploy/nginx.conf with this run's ports), each node with its own
# METRICS_ADDR. Waits until every node is ready and nginx answers, prints where everything is, and
# stops everything on exit, Ctrl-C or SIGTERM.
#
#   deploy/run-local.sh [BINARY]        # BINARY: target/debug/cartwright when left out
#
# PostgreSQL: DATABASE_URL when set, else a throwaway cluster in a temporary folder (removed at
# exit). Settings in the environment (JOB_INTERVAL_SECONDS, AUTH_RATE_LIMIT_PER_MINUTE, SMTP_URL,
# ...) reach every node; NGINX_PORT picks nginx's port (default: a free one). A node that dies
# is reported and the others go on behind nginx (that is the point); everything stops when nginx
# stops or no node is left. The lines it prints, for people and tests:
#   admin EMAIL PASSWORD                                  (only when it made up the password)
#   node N pid PID http://127.0.0.1:PORT metrics http://127.0.0.1:METRICS_PORT/metrics
#   logs DIR                                              (nodeN/log, nginx/error.log, pg/server.log)
#   ready http://127.0.0.1:NGINX_PORT
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
binary="$(realpath "${1:-$here/../target/debug/cartwright}")"
nodes="${NODES:-3}"
[ -x "$binary" ] || { echo "run-local: no cartwright binary at $binary (cargo build first)" >&2; exit 2; }
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
[ -x "$nginx_bin" ] || { echo "run-local: nginx is not installed (apt-get install nginx)" >&2; exit 2; }

dir="$(mktemp -d /tmp/cartwright-deploy.XXXXXX)"
chmod 755 "$dir"
node_pids=()
nginx_pid=""
pg_bin=""
as_pg=()

stop_all() {
  trap - EXIT INT TERM
  # Nodes first (they finish their requests), then nginx, then the database they used.
  local pid
  for pid in "${node_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${node_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "$nginx_pid" ]; then
    kill -TERM "$nginx_pid" 2>/dev/null || true
    wait "$nginx_pid" 2>/dev/null || true
  fi
  if [ -n "$pg_bin" ]; then
    "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$dir/pg/data" -m fast stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- PostgreSQL -------------------------------------------------------------------------------
if [ -z "${DATABASE_URL:-}" ]; then
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    pg_bin="$(dirname "$(command -v pg_ctl)")"
  else
    pg_bin="$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1 || true)"
  fi
  if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/pg_ctl" ]; then
    pg_bin=""
    echo "run-local: no PostgreSQL: install it (apt-get install postgresql) or set DATABASE_URL" >&2
    exit 2
  fi
  mkdir -p "$dir/pg"
  if [ "$(id -u)" = 0 ]; then
    # PostgreSQL refuses to run as root.
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$dir/pg"
    as_pg=(runuser -u postgres --)
  fi
  pg_port="$(free_port)"
  "${as_pg[@]}" "$pg_bin/initdb" -D "$dir/pg/data" -A trust -U postgres >"$dir/pg/initdb.log" 2>&1 \
    || { cat "$dir/pg/initdb.log" >&2; exit 1; }
  "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/server.log" -w \
    -o "-p $pg_port -k $dir/pg -c listen_addresses=127.0.0.1" start >/dev/null \
    || { cat "$dir/pg/server.log" >&2; exit 1; }
  export DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/postgres"
fi

# --- Settings every node shares (docs/DEPLOY.md, "Several nodes") -------------------------------
nginx_port="${NGINX_PORT:-$(free_port)}"
export JWT_SECRET="${JWT_SECRET:-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')}"
export TRUSTED_PROXIES="${TRUSTED_PROXIES:-127.0.0.1}"
export PUBLIC_URL="${PUBLIC_URL:-http://127.0.0.1:$nginx_port}"
export HOST=127.0.0.1
export LOG_FORMAT="${LOG_FORMAT:-json}"
export DATABASE_WAIT_SECONDS="${DATABASE_WAIT_SECONDS:-10}"
export ADMIN_EMAIL="${ADMIN_EMAIL:-admin@cartwright.local}"
if [ -z "${ADMIN_PASSWORD:-}" ]; then
  ADMIN_PASSWORD="$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  echo "admin $ADMIN_EMAIL $ADMIN_PASSWORD"
fi
export ADMIN_PASSWORD

# Migrations and the demo catalog once, before the nodes start (each node would also migrate).
"$binary" migrate >"$dir/migrate.log" 2>&1 || { cat "$dir/migrate.log" >&2; exit 1; }
if [ "${DEMO_DATA:-true}" = true ]; then
  "$binary" demo >>"$dir/migrate.log" 2>&1 || { cat "$dir/migrate.log" >&2; exit 1; }
fi

# --- The nodes ----------------------------------------------------------------------------------
ports=()
upstream=""
for n in $(seq 1 "$nodes"); do
  port="$(free_port)"
  metrics_port="$(free_port)"
  mkdir -p "$dir/node$n"
  PORT="$port" METRICS_ADDR="127.0.0.1:$metrics_port" DATA_DIR="$dir/node$n" \
    "$binary" serve >"$dir/node$n/log" 2>&1 &
  node_pids+=("$!")
  ports+=("$port")
  echo "node $n pid $! http://127.0.0.1:$port metrics http://127.0.0.1:$metrics_port/metrics"
  upstream+="    server 127.0.0.1:$port max_fails=1 fail_timeout=10s;"$'\n'
done
echo "logs $dir"

ready() { curl -fsS -o /dev/null --max-time 2 "$1/ready" 2>/dev/null; }
for n in $(seq 1 "$nodes"); do
  url="http://127.0.0.1:${ports[$((n - 1))]}"
  for _ in $(seq 1 300); do
    ready "$url" && break
    kill -0 "${node_pids[$((n - 1))]}" 2>/dev/null \
      || { echo "run-local: node $n exited:" >&2; tail -n 20 "$dir/node$n/log" >&2; exit 1; }
    sleep 0.1
  done
  ready "$url" || { echo "run-local: node $n is not ready:" >&2; tail -n 20 "$dir/node$n/log" >&2; exit 1; }
done

# --- nginx: the recipe's site with this run's nodes and port, in a main config of its own ------
mkdir -p "$dir/nginx/temp"
awk -v upstream="$upstream" -v port="$nginx_port" '
  /^ *server 127\.0\.0\.1:[0-9]+ / { if (!done) { printf "%s", upstream; done = 1 } next }
  /^ *listen 80;/ { print "    listen 127.0.0.1:" port ";"; next }
  { print }' "$here/nginx.conf" >"$dir/nginx/site.conf"
user_line=""
if [ "$(id -u)" = 0 ]; then
  # As root nginx would run its workers as `nobody`; name the user, and let it write its buffers.
  worker_user="$(id -un www-data 2>/dev/null || echo nobody)"
  user_line="user $worker_user $(id -gn "$worker_user");"
  chown "$worker_user" "$dir/nginx/temp"
fi
cat >"$dir/nginx/nginx.conf" <<CONF
$user_line
worker_processes 1;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log $dir/nginx/access.log;
    client_body_temp_path $dir/nginx/temp/body;
    proxy_temp_path $dir/nginx/temp/proxy;
    fastcgi_temp_path $dir/nginx/temp/fastcgi;
    uwsgi_temp_path $dir/nginx/temp/uwsgi;
    scgi_temp_path $dir/nginx/temp/scgi;
    include $dir/nginx/site.conf;
}
CONF
"$nginx_bin" -t -q -p "$dir/nginx" -e "$dir/nginx/error.log" -c "$dir/nginx/nginx.conf" >&2 \
  || { echo "run-local: the nginx configuration does not load" >&2; exit 1; }
"$nginx_bin" -p "$dir/nginx" -e "$dir/nginx/error.log" -c "$dir/nginx/nginx.conf" -g 'daemon off;' &
nginx_pid=$!
for _ in $(seq 1 100); do
  ready "http://127.0.0.1:$nginx_port" && break
  sleep 0.1
done
ready "http://127.0.0.1:$nginx_port" \
  || { echo "run-local: nginx does not answer:" >&2; cat "$dir/nginx/error.log" >&2; exit 1; }
echo "ready http://127.0.0.1:$nginx_port"

# --- Until a signal, nginx stopping, or the last node stopping ----------------------------------
# node_pids keeps the nodes still running, so stop_all signals no pid that was reused.
while true; do
  stopped=""
  status=0
  wait -n -p stopped "$nginx_pid" "${node_pids[@]}" || status=$?
  [ -n "$stopped" ] || continue
  if [ "$stopped" = "$nginx_pid" ]; then
    nginx_pid=""
    echo "run-local: nginx stopped (status $status); stopping everything" >&2
    exit 1
  fi
  remaining=()
  for pid in "${node_pids[@]}"; do [ "$pid" = "$stopped" ] || remaining+=("$pid"); done
  node_pids=("${remaining[@]}")
  echo "run-local: node pid $stopped stopped (status $status); ${#node_pids[@]} left behind nginx" >&2
  if [ "${#node_pids[@]}" -eq 0 ]; then
    echo "run-local: no node left; stopping everything" >&2
    exit 1
  fi
done
