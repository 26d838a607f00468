#!/usr/bin/env bash
# two_nodes_test.sh SHARDFLOW JOB WORK - two simulated nodes on
# one machine (issue 14): each node is a sleeper in its own network, UTS
# (hostname nodea / nodeb) and mount namespaces (a private /tmp, its own
# /etc/hosts), joined by a veth pair. mpirun runs on nodea and starts its
# daemon on nodeb through --mca plm_rsh_agent, a script that enters nodeb's
# namespaces with nsenter. The output is on the shared path (WORK).
#
# It checks that nothing assumes one node: 4 ranks, 2 per node, give the
# same bytes as one node; MPI_Comm_split_type sees 2 ranks per node, so the
# default --memory-limit is each node's 75% over 2 (not over 4); with a
# tiny limit the run spills into a --spill-dir under /tmp that exists only
# in the nodes' private /tmp (the machine's /tmp never sees it) and still
# gives the same bytes; staging and commit happen on the shared output.
# Exit 77 (skipped, with the reason) where the namespaces cannot be made.
set -euo pipefail
sf=$(realpath "$1") job=$(realpath "$2") work=$3
skip() { echo "skipping: $*"; exit 77; }
[[ $(id -u) -eq 0 ]] || skip "needs root (unshare --net, veth)"
unshare --net --uts --mount --fork true 2>/dev/null || skip "unshare --net --uts --mount does not work here"
command -v nsenter >/dev/null && command -v ip >/dev/null || skip "needs nsenter and ip"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd)
case $work in /tmp/*) skip "WORK must not be under /tmp (each node has a private /tmp)" ;; esac
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

printf '127.0.0.1 localhost\n10.77.0.1 nodea\n10.77.0.2 nodeb\n' >"$work/hosts"
cat >"$work/node.sh" <<EON
#!/bin/sh
# A simulated node: its hostname, a private /tmp, its own /etc/hosts.
mount --make-rprivate /
hostname "\$1"
mount -t tmpfs -o size=256m tmpfs /tmp
mount --bind "$work/hosts" /etc/hosts
exec sleep 600
EON
chmod +x "$work/node.sh"
# Open MPI calls the agent like ssh: AGENT HOST COMMAND...
cat >"$work/agent.sh" <<EOA
#!/bin/sh
host=\$1
shift
exec nsenter -t "\$(cat "$work/\$host.pid")" -n -u -m -- /bin/sh -c "\$*"
EOA
chmod +x "$work/agent.sh"

start_node() { # NAME -> pid of the sleeper inside the namespaces
    unshare --net --uts --mount --fork "$work/node.sh" "$1" &
    local u=$! child=""
    pids+=("$u")
    for _ in $(seq 100); do
        child=$(cat "/proc/$u/task/$u/children" 2>/dev/null | tr -d ' ') || true
        [[ -n $child && $(nsenter -t "$child" -u hostname 2>/dev/null) == "$1" ]] && break
        sleep 0.05
    done
    [[ -n $child ]] || { echo "FAIL: node $1 did not start"; exit 1; }
    pids+=("$child")
    echo "$child" >"$work/$1.pid"
}
start_node nodea
start_node nodeb
pa=$(cat "$work/nodea.pid") pb=$(cat "$work/nodeb.pid")
veth=sf$$
ip link add "${veth}a" type veth peer name "${veth}b" || skip "cannot create a veth pair"
ip link set "${veth}a" netns "$pa"
ip link set "${veth}b" netns "$pb"
nsenter -t "$pa" -n sh -c "ip link set lo up && ip addr add 10.77.0.1/24 dev ${veth}a && ip link set ${veth}a up"
nsenter -t "$pb" -n sh -c "ip link set lo up && ip addr add 10.77.0.2/24 dev ${veth}b && ip link set ${veth}b up"
echo "nodes: nodea (pid $pa, 10.77.0.1), nodeb (pid $pb, 10.77.0.2)"

on_a() { nsenter -t "$pa" -n -u -m -- "$@"; }
mpirun_2n() { # OUT ARGS...: 4 ranks, 2 per node, started from nodea
    local out=$1
    shift
    on_a mpirun -x OMPI_ALLOW_RUN_AS_ROOT -x OMPI_ALLOW_RUN_AS_ROOT_CONFIRM --host nodea:2,nodeb:2 -np 4 \
        --mca plm_rsh_agent "$work/agent.sh" --mca btl tcp,self \
        --mca btl_tcp_if_include 10.77.0.0/24 --mca oob_tcp_if_include 10.77.0.0/24 \
        "$sf" run "$job" --input events="$events" --input users="$users" -o "$out" --no-progress "$@"
}

# S3-shaped data (one group per date, user and country), on the shared path.
mpirun --oversubscribe -np 2 "$sf" gen kpi --events 200000 --users 20000 --seed 3 --ids string \
    -o "$work/data" >/dev/null
events=$work/data/events.jsonl users=$work/data/users.jsonl

# Reference: one node (the machine itself), 4 ranks, no limit.
mpirun --oversubscribe -np 4 "$sf" run "$job" --input events="$events" --input users="$users" \
    -o "$work/one_node" --no-progress --quiet --memory-limit none

data_same() {
    diff -r -x _MANIFEST.json -x _METRICS.json -x _SUCCESS "$1" "$2" >/dev/null ||
        { echo "FAIL: $2 differs from the one-node run"; diff -rq -x _MANIFEST.json -x _METRICS.json "$1" "$2" | head; exit 1; }
}

# 1. The default limit is per node: 2 ranks on each.
mpirun_2n "$work/two_nodes" --quiet
data_same "$work/one_node" "$work/two_nodes"
python3 - "$work/two_nodes/_METRICS.json" <<'EOP'
import json, sys
m = json.load(open(sys.argv[1]))
limits = m["memory"]["limit_bytes"]
total = [int(l.split()[1]) * 1024 for l in open("/proc/meminfo") if l.startswith("MemTotal:")][0]
want = total // 4 * 3 // 2   # 75% of the node over its 2 ranks
if len(limits) != 4 or any(l != limits[0] for l in limits):
    sys.exit("FAIL: limits per rank %r" % limits)
# The cgroup may cap the node's memory below MemTotal; never over 2 ranks' share.
if limits[0] > want or limits[0] <= total // 4 * 3 // 4:
    sys.exit("FAIL: default limit %d: not 75%% of the node over 2 ranks (%d)" % (limits[0], want))
print("default --memory-limit per rank: %.1f MiB (75%% of the node over its 2 ranks)" % (limits[0] / 2**20))
EOP

# 2. A tiny limit: spill into each node's private /tmp.
spill=/tmp/sf-two-nodes-$$
if [[ -e $spill ]]; then echo "FAIL: $spill exists on the machine already"; exit 1; fi
need=$(mpirun_2n "$work/refused" --memory-limit 1M 2>&1 | sed -n 's/.*needs at least \([0-9]*\)M per rank.*/\1/p' | head -1) || true
[[ -n $need ]] || { echo "FAIL: a 1M limit was not refused with the minimum"; exit 1; }
mpirun_2n "$work/spilled" --memory-limit "$((need + 6))M" --spill-dir "$spill" 2>"$work/spilled.err"
grep -q "spilled to $spill" "$work/spilled.err" || { echo "FAIL: the run did not spill"; cat "$work/spilled.err"; exit 1; }
data_same "$work/one_node" "$work/spilled"
if [[ -e $spill ]]; then echo "FAIL: the spill went to the machine's /tmp ($spill)"; exit 1; fi
for n in nodea nodeb; do
    left=$(nsenter -t "$(cat "$work/$n.pid")" -m ls -A "$spill" 2>/dev/null || echo "(no $spill)")
    [[ -z $left ]] || { echo "FAIL: spill files left on $n: $left"; exit 1; }
done
echo "spilled under each node's private /tmp ($spill), same output, nothing left"
[[ -f $work/spilled/_SUCCESS && ! -e $work/spilled/_temporary ]] || { echo "FAIL: commit"; exit 1; }
echo "PASS"
