#!/usr/bin/env bash
# usage: slurm/sweep.sh [OPTIONS]
#
# Submits scaling studies of a shardflow job to Slurm and a collector job that
# merges the results. For each study (strong, weak) and rank count R it submits
# one job array of R ranks whose tasks run every strategy x repeat; weak
# scaling first generates R x EVENTS_PER_RANK events with `shardflow gen kpi`
# (one generator job per rank count, the array waits for it with afterok);
# strong scaling generates one dataset (or reads --data). The collector
# (slurm/collect.py) runs after all arrays succeeded (--dependency=afterok) and
# writes results.csv, summary.md and PNG plots (with gnuplot) under OUT/results.
# Prints every job id and where results and logs go; OUT/jobs.txt lists the
# ids (cancel a sweep with: scancel $(cat OUT/jobs.txt)).
#
#   --ranks LIST          rank counts, comma or blank separated (default 1,2,4,8)
#   --strategies SPEC     "name:shardflow flags;name:flags;..." (flags split on
#                         blanks; default: the three --repartition strategies,
#                         "before-aggregate:--repartition before-aggregate;
#                          before-join:--repartition before-join;none:--repartition none")
#   --repeats N           runs per rank count and strategy (default 3)
#   --studies LIST        strong, weak or both (default strong,weak)
#   --job FILE            the job spec (default jobs/daily_kpi.json of this
#                         repository); its input names are read from it, and
#                         each input is read from (first that applies):
#                         --input NAME=PATH; with --data DIR, DIR/NAME.jsonl,
#                         the generated file name below, or the spec path's
#                         file name in DIR; the generated KPI dataset (the fact
#                         input reads events.jsonl; a dimension named users or
#                         items, or keyed by user_id or item_id, reads
#                         users.jsonl or items.jsonl); else the spec's own path
#   --input NAME=PATH     read input NAME from PATH in every run (repeatable;
#                         for the fact input: in strong scaling, since weak
#                         scaling generates it)
#   --events N            strong scaling: total events (default 8M; K/M/G suffixes)
#   --events-per-rank N   weak scaling: events per rank (default 1M)
#   --users N, --items N, --seed S   generator settings (default 1000, 200, 42)
#   --data DIR            strong scaling reads this dataset (see --job) instead
#                         of generating one
#   --data-dir DIR        where generated datasets go (default OUT/data); a
#                         dataset already generated there with the same
#                         settings is reused
#   --out DIR             results, run outputs and logs (default out/sweep-DATE-TIME)
#   --extra "FLAGS"       shardflow run flags for every run, e.g. "--chunk-size 64M"
#   --throttle N          at most N tasks of each array at once (--array=...%N)
#   --ntasks-per-node N   spread R ranks over ceil(R/N) nodes (default: 1 node)
#   --overcommit          allow more ranks than CPUs (sbatch and srun --overcommit)
#   --shared              do not ask for --exclusive nodes (default exclusive,
#                         so no two runs share a node and timings stay clean)
#   --time T              time limit of each job (default 01:00:00)
#   --sbatch "FLAGS"      extra flags for every sbatch, e.g. "-p batch -A proj"
#   --bin PATH            shardflow binary (default $SHARDFLOW_BIN or build/shardflow)
#   --dry-run             print the sbatch commands, submit nothing (OUT is
#                         still prepared, with fake job ids)
#   -h, --help            this help
set -uo pipefail

SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"

die() { echo "sweep.sh: error: $*" >&2; exit 2; }

# count N: a generator count with an optional decimal K/M/G suffix, as digits.
count() {
    local n="$1" mult=1
    case "$n" in
        *[kK]) mult=1000; n="${n%?}" ;;
        *[mM]) mult=1000000; n="${n%?}" ;;
        *[gG]) mult=1000000000; n="${n%?}" ;;
    esac
    [[ "$n" =~ ^[0-9]+$ ]] || return 1
    echo $(( 10#$n * mult ))
}

# ---------------------------------------------------------------------------
# Inside the jobs: the generator, an array task and the collector. Their
# settings come from OUT/sweep.env, not from the environment, because a
# cluster may submit with --export=NONE.

task_main() {
    local out="$1" study="$2" ranks="$3"
    # shellcheck disable=SC1091
    source "$out/sweep.env" || exit 2
    local idx="${SLURM_ARRAY_TASK_ID:?not an array task}"
    local nstrat=${#SF_STRATEGY_NAMES[@]}
    local s=$(( idx / SF_REPEATS )) rep=$(( idx % SF_REPEATS + 1 ))
    [[ $s -lt $nstrat ]] || { echo "sweep.sh: array index $idx out of range" >&2; exit 2; }
    local name="${SF_STRATEGY_NAMES[$s]}" flags=()
    read -r -a flags <<<"${SF_STRATEGY_FLAGS[$s]}"
    local extra_flags=()
    read -r -a extra_flags <<<"$SF_EXTRA"
    # Each input's path for this study; @WEAK@ is the generated weak dataset.
    local inputs=() i path
    for (( i = 0; i < ${#SF_INPUT_NAMES[@]}; i++ )); do
        if [[ "$study" == weak ]]; then
            path="${SF_WEAK_PATHS[$i]//@WEAK@/$SF_DATA_DIR/weak-n$ranks}"
        else
            path="${SF_STRONG_PATHS[$i]}"
        fi
        inputs+=(--input "${SF_INPUT_NAMES[$i]}=$path")
    done
    local run="$out/runs/$study/n$ranks/$name/r$rep"
    mkdir -p "$(dirname "$run")"
    echo "sweep.sh: $study scaling, $ranks ranks, strategy $name, repeat $rep -> $run"
    SHARDFLOW_BIN="$SF_BIN" bash "$SF_SLURM_DIR/shardflow.sbatch" run "$SF_JOB" \
        "${inputs[@]}" --output "$run" --overwrite --quiet --no-progress \
        "${extra_flags[@]}" "${flags[@]}"
}

gen_main() {
    local out="$1" dir="$2" events="$3"
    # shellcheck disable=SC1091
    source "$out/sweep.env" || exit 2
    local params="events=$events users=$SF_USERS items=$SF_ITEMS seed=$SF_SEED"
    rm -f "$dir/gen.params"
    SHARDFLOW_BIN="$SF_BIN" bash "$SF_SLURM_DIR/shardflow.sbatch" gen kpi --events "$events" \
        --users "$SF_USERS" --items "$SF_ITEMS" --seed "$SF_SEED" --overwrite -o "$dir" || exit $?
    # Written last, so a dataset is reused only when its generation finished.
    echo "$params" >"$dir/gen.params"
}

collect_main() {
    local out="$1"
    # shellcheck disable=SC1091
    source "$out/sweep.env" || exit 2
    echo "sweep.sh: collecting $out"
    python3 "$SF_SLURM_DIR/collect.py" "$out"
}

case "${1:-}" in
    __task) shift; task_main "$@"; exit $? ;;
    __gen) shift; gen_main "$@"; exit $? ;;
    __collect) shift; collect_main "$@"; exit $? ;;
esac

# ---------------------------------------------------------------------------
# Submission.

repo="$(cd "$(dirname "$SELF")/.." && pwd)"
ranks_list="1,2,4,8"
strategies="before-aggregate:--repartition before-aggregate;before-join:--repartition before-join;none:--repartition none"
repeats=3
studies="strong,weak"
job="$repo/jobs/daily_kpi.json"
events=8M
events_per_rank=1M
users=1000
items=200
seed=42
data=""
data_dir=""
out=""
extra=""
throttle=""
per_node=""
overcommit=0
exclusive=1
time_limit="01:00:00"
sbatch_flags=""
bin="${SHARDFLOW_BIN:-$repo/build/shardflow}"
dry_run=0
input_opts=()

need() { [[ $# -ge 2 ]] || die "$1 needs a value (see --help)"; }
while [[ $# -gt 0 ]]; do
    case "$1" in
        --ranks) need "$@"; ranks_list="$2"; shift 2 ;;
        --strategies) need "$@"; strategies="$2"; shift 2 ;;
        --repeats) need "$@"; repeats="$2"; shift 2 ;;
        --studies) need "$@"; studies="$2"; shift 2 ;;
        --job) need "$@"; job="$2"; shift 2 ;;
        --events) need "$@"; events="$2"; shift 2 ;;
        --events-per-rank) need "$@"; events_per_rank="$2"; shift 2 ;;
        --users) need "$@"; users="$2"; shift 2 ;;
        --items) need "$@"; items="$2"; shift 2 ;;
        --seed) need "$@"; seed="$2"; shift 2 ;;
        --data) need "$@"; data="$2"; shift 2 ;;
        --input) need "$@"; input_opts+=("$2"); shift 2 ;;
        --data-dir) need "$@"; data_dir="$2"; shift 2 ;;
        --out) need "$@"; out="$2"; shift 2 ;;
        --extra) need "$@"; extra="$2"; shift 2 ;;
        --throttle) need "$@"; throttle="$2"; shift 2 ;;
        --ntasks-per-node) need "$@"; per_node="$2"; shift 2 ;;
        --overcommit) overcommit=1; shift ;;
        --shared) exclusive=0; shift ;;
        --time) need "$@"; time_limit="$2"; shift 2 ;;
        --sbatch) need "$@"; sbatch_flags="$2"; shift 2 ;;
        --bin) need "$@"; bin="$2"; shift 2 ;;
        --dry-run) dry_run=1; shift ;;
        -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$SELF"; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done

posint() { [[ "$1" =~ ^[1-9][0-9]*$ ]]; }

read -r -a ranks <<<"${ranks_list//,/ }"
[[ ${#ranks[@]} -gt 0 ]] || die "--ranks is empty"
for r in "${ranks[@]}"; do
    posint "$r" || die "--ranks: '$r' is not a positive integer"
done
posint "$repeats" || die "--repeats: '$repeats' is not a positive integer"
[[ -z "$throttle" ]] || posint "$throttle" || die "--throttle: '$throttle' is not a positive integer"
[[ -z "$per_node" ]] || posint "$per_node" || die "--ntasks-per-node: '$per_node' is not a positive integer"
events_n=$(count "$events") || die "--events: '$events' is not a count"
per_rank_n=$(count "$events_per_rank") || die "--events-per-rank: '$events_per_rank' is not a count"
count "$users" >/dev/null || die "--users: '$users' is not a count"
count "$items" >/dev/null || die "--items: '$items' is not a count"
[[ "$seed" =~ ^[0-9]+$ ]] || die "--seed: '$seed' is not a number"

do_strong=0
do_weak=0
for s in ${studies//,/ }; do
    case "$s" in
        strong) do_strong=1 ;;
        weak) do_weak=1 ;;
        *) die "--studies: unknown study '$s' (strong, weak)" ;;
    esac
done
[[ $do_strong -eq 1 || $do_weak -eq 1 ]] || die "--studies is empty"

strategy_names=()
strategy_flags=()
IFS=';' read -r -a entries <<<"$strategies"
for e in "${entries[@]}"; do
    [[ "$e" =~ ^[[:space:]]*$ ]] && continue
    [[ "$e" == *:* ]] || die "--strategies: '$e' is not NAME:FLAGS"
    name="${e%%:*}"
    name="${name//[[:space:]]/}"
    [[ "$name" =~ ^[A-Za-z0-9_.+-]+$ ]] ||
        die "--strategies: name '$name' must be letters, digits, '_', '.', '+' or '-'"
    for n in "${strategy_names[@]}"; do
        [[ "$n" != "$name" ]] || die "--strategies: '$name' given twice"
    done
    strategy_names+=("$name")
    strategy_flags+=("${e#*:}")
done
[[ ${#strategy_names[@]} -gt 0 ]] || die "--strategies is empty"

[[ -x "$bin" ]] || die "shardflow binary '$bin' not found (build it: scripts/build, or pass --bin)"
[[ -f "$job" ]] || die "job spec '$job' not found"
[[ -z "$data" || -d "$data" ]] || die "--data: '$data' is not a directory"
if [[ $dry_run -eq 0 ]]; then
    command -v sbatch >/dev/null 2>&1 || die "sbatch not found: is this a Slurm login node?"
fi
command -v python3 >/dev/null 2>&1 || die "python3 not found (the collector needs it)"

# The spec's inputs: name, role, key and path, one tab-separated line each.
spec_inputs=$(python3 - "$job" <<'PY'
import json, sys
try:
    spec = json.load(open(sys.argv[1]))
    inputs = spec["inputs"]
    assert isinstance(inputs, dict) and inputs
except Exception as e:
    sys.exit("cannot read the inputs of %s: %s" % (sys.argv[1], e))
for name, inp in inputs.items():
    fields = [name, str(inp.get("role", "")), str(inp.get("key", "")), str(inp.get("path", ""))]
    if any("\t" in f or "\n" in f for f in fields):
        sys.exit("input %r: a tab or newline in its name, key or path" % name)
    print("\t".join(fields))
PY
) || die "--job: $job: cannot read its inputs (see above)"
input_names=()
input_roles=()
input_keys=()
input_spec_paths=()
while IFS=$'\t' read -r n r k p; do
    input_names+=("$n")
    input_roles+=("$r")
    input_keys+=("$k")
    input_spec_paths+=("$p")
done <<<"$spec_inputs"
facts=0
for r in "${input_roles[@]}"; do [[ "$r" == fact ]] && facts=$(( facts + 1 )); done
[[ $facts -eq 1 ]] || die "--job: $job has $facts fact inputs; a job has exactly one"
declare -A given=()
for o in "${input_opts[@]}"; do
    [[ "$o" == ?*=?* ]] || die "--input takes NAME=PATH, got '$o'"
    n="${o%%=*}"
    known=0
    for m in "${input_names[@]}"; do [[ "$m" == "$n" ]] && known=1; done
    [[ $known -eq 1 ]] || die "--input $n: the job has no input '$n' (it has: ${input_names[*]})"
    p="${o#*=}"
    [[ -e "$p" ]] || die "--input $n: '$p' not found"
    given[$n]=$(cd "$(dirname "$p")" && echo "$PWD/$(basename "$p")")
done

abspath() { mkdir -p "$1" && (cd "$1" && pwd); }
[[ -n "$out" ]] || out="out/sweep-$(date +%Y%m%d-%H%M%S)"
out=$(abspath "$out") || die "cannot create '$out'"
[[ -n "$data_dir" ]] || data_dir="$out/data"
data_dir=$(abspath "$data_dir") || die "cannot create '$data_dir'"
[[ -z "$data" ]] || data=$(cd "$data" && pwd)
bin=$(cd "$(dirname "$bin")" && echo "$PWD/$(basename "$bin")")
job=$(cd "$(dirname "$job")" && echo "$PWD/$(basename "$job")")
[[ -e "$out/runs.tsv" ]] && die "$out already holds a sweep (runs.tsv); pick another --out"
mkdir -p "$out/logs" "$out/runs" "$out/results" || die "cannot write under $out"

strong_data="${data:-$data_dir/strong}"

# gen_file I: the file of the generated KPI dataset input I reads, or "".
gen_file() {
    local i="$1"
    if [[ "${input_roles[$i]}" == fact ]]; then echo events.jsonl; return; fi
    case "${input_names[$i]}:${input_keys[$i]}" in
        users:*|*:user_id) echo users.jsonl ;;
        items:*|*:item_id) echo items.jsonl ;;
        *) echo "" ;;
    esac
}
# spec_path I: the spec's own path of input I made absolute, or "" if none
# exists there.
spec_path() {
    local p="${input_spec_paths[$1]}"
    [[ -n "$p" && -e "$p" ]] || return 0
    (cd "$(dirname "$p")" && echo "$PWD/$(basename "$p")")
}
strong_paths=()
weak_paths=()
strong_gen=0   # some strong input reads the generated dataset
for (( i = 0; i < ${#input_names[@]}; i++ )); do
    n="${input_names[$i]}"
    g=$(gen_file "$i")
    s=""
    if [[ -n "${given[$n]:-}" ]]; then
        s="${given[$n]}"
    elif [[ -n "$data" ]]; then
        for f in "$n.jsonl" "$g" "$(basename "${input_spec_paths[$i]}")"; do
            [[ -n "$f" && -e "$data/$f" ]] && { s="$data/$f"; break; }
        done
        [[ -n "$s" ]] || die "--data: no file for input '$n' in $data (tried $n.jsonl${g:+, $g}" \
                             "and the spec's file name; or give --input $n=PATH)"
    elif [[ -n "$g" ]]; then
        s="$strong_data/$g"
        strong_gen=1
    else
        s=$(spec_path "$i")
        [[ -n "$s" ]] || die "input '$n': not in the generated KPI dataset and its spec path" \
                             "'${input_spec_paths[$i]}' does not exist; give --input $n=PATH"
    fi
    strong_paths+=("$s")
    if [[ "${input_roles[$i]}" == fact ]]; then
        weak_paths+=("@WEAK@/events.jsonl") # weak scaling generates it, whatever --input says
    elif [[ -n "${given[$n]:-}" ]]; then
        weak_paths+=("${given[$n]}")
    elif [[ -n "$g" ]]; then
        weak_paths+=("@WEAK@/$g")
    else
        weak_paths+=("$s")
    fi
done
{
    echo "# settings of this sweep, read by its jobs (written by slurm/sweep.sh)"
    printf 'SF_BIN=%q\n' "$bin"
    printf 'SF_SLURM_DIR=%q\n' "$(dirname "$SELF")"
    printf 'SF_JOB=%q\n' "$job"
    printf 'SF_REPEATS=%q\n' "$repeats"
    printf 'SF_EXTRA=%q\n' "$extra"
    printf 'SF_USERS=%q\nSF_ITEMS=%q\nSF_SEED=%q\n' "$users" "$items" "$seed"
    printf 'SF_DATA_DIR=%q\n' "$data_dir"
    printf 'SF_INPUT_NAMES=('; printf '%q ' "${input_names[@]}"; printf ')\n'
    printf 'SF_STRONG_PATHS=('; printf '%q ' "${strong_paths[@]}"; printf ')\n'
    printf 'SF_WEAK_PATHS=('; printf '%q ' "${weak_paths[@]}"; printf ')\n'
    printf 'SF_STRATEGY_NAMES=('; printf '%q ' "${strategy_names[@]}"; printf ')\n'
    printf 'SF_STRATEGY_FLAGS=('; printf '%q ' "${strategy_flags[@]}"; printf ')\n'
} >"$out/sweep.env"

submitted=()
# sb ARGS...: submit, print the job id (fake ids with --dry-run).
sb() {
    local id extra_sb=()
    read -r -a extra_sb <<<"$sbatch_flags"
    local cmd=(sbatch --parsable --time="$time_limit" "${extra_sb[@]}" "$@")
    if [[ $dry_run -eq 1 ]]; then
        # sb runs in a subshell; every id it returns is appended to submitted.
        echo "  dry-run: ${cmd[*]}" >&2
        echo "$(( 1001 + ${#submitted[@]} ))"
        return 0
    fi
    id=$("${cmd[@]}") || { echo "sweep.sh: sbatch failed: ${cmd[*]}" >&2; return 1; }
    echo "${id%%;*}"
}
# placement R: the sbatch flags that place R ranks.
placement() {
    local r="$1"
    local flags=(-n "$r")
    if [[ -n "$per_node" ]]; then
        flags+=(-N "$(( (r + per_node - 1) / per_node ))" --ntasks-per-node="$per_node")
    else
        flags+=(-N 1)
    fi
    [[ $overcommit -eq 1 ]] && flags+=(--overcommit)
    [[ $exclusive -eq 1 ]] && flags+=(--exclusive)
    printf '%s ' "${flags[@]}"
}
# gen_job DIR EVENTS RANKS: submits a job generating DIR and sets gen_id, or
# leaves gen_id empty when DIR already holds a dataset made with the same
# settings.
gen_job() {
    local dir="$1" ev="$2" r="$3"
    local params="events=$ev users=$users items=$items seed=$seed"
    gen_id=""
    if [[ -f "$dir/gen.params" && "$(cat "$dir/gen.params")" == "$params" ]]; then
        echo "  reusing $dir ($params)"
        return 0
    fi
    mkdir -p "$dir" || return 1
    # shellcheck disable=SC2046
    gen_id=$(sb -J "sf-gen-$(basename "$dir")" $(placement "$r") -o "$out/logs/%x-%j.out" \
                "$SELF" __gen "$out" "$dir" "$ev") || return 1
    submitted+=("$gen_id")
    echo "  generator job $gen_id: $ev events -> $dir"
}

cancel_submitted() {
    if [[ ${#submitted[@]} -gt 0 && $dry_run -eq 0 ]]; then
        echo "sweep.sh: cancelling the jobs already submitted: ${submitted[*]}" >&2
        scancel "${submitted[@]}"
    fi
    exit 1
}

ntasks_array=$(( ${#strategy_names[@]} * repeats ))
array_spec="0-$(( ntasks_array - 1 ))${throttle:+%$throttle}"
printf 'study\tranks\tstrategy\trepeat\trun_dir\n' >"$out/runs.tsv"
echo "sweep: $out"
echo "  ranks ${ranks[*]}; strategies ${strategy_names[*]}; $repeats repeat(s)"
array_ids=()

submit_arrays() {
    local study="$1" r="$2" dep="$3" id s rep dep_flags=()
    [[ -n "$dep" ]] && dep_flags=(--dependency="afterok:$dep")
    # shellcheck disable=SC2046
    id=$(sb -J "sf-$study-n$r" $(placement "$r") --array="$array_spec" "${dep_flags[@]}" \
            -o "$out/logs/%x-%A_%a.out" "$SELF" __task "$out" "$study" "$r") || cancel_submitted
    submitted+=("$id")
    array_ids+=("$id")
    echo "  $study n=$r: array job $id ($ntasks_array tasks${dep:+, after $dep})"
    for (( s = 0; s < ${#strategy_names[@]}; s++ )); do
        for (( rep = 1; rep <= repeats; rep++ )); do
            printf '%s\t%s\t%s\t%s\t%s\n' "$study" "$r" "${strategy_names[$s]}" "$rep" \
                "runs/$study/n$r/${strategy_names[$s]}/r$rep" >>"$out/runs.tsv"
        done
    done
}

if [[ $do_strong -eq 1 ]]; then
    if [[ $strong_gen -eq 1 ]]; then
        echo "strong scaling: $events_n events"
    else
        echo "strong scaling: inputs ${strong_paths[*]}"
    fi
    gen=""
    if [[ $strong_gen -eq 1 ]]; then
        max_r=0
        for r in "${ranks[@]}"; do (( r > max_r )) && max_r=$r; done
        gen_job "$strong_data" "$events_n" "$max_r" || cancel_submitted
        gen="$gen_id"
    fi
    for r in "${ranks[@]}"; do
        submit_arrays strong "$r" "$gen"
    done
fi
if [[ $do_weak -eq 1 ]]; then
    echo "weak scaling: $per_rank_n events per rank"
    for r in "${ranks[@]}"; do
        gen_job "$data_dir/weak-n$r" "$(( per_rank_n * r ))" "$r" || cancel_submitted
        submit_arrays weak "$r" "$gen_id"
    done
fi

deps=$(IFS=:; echo "${array_ids[*]}")
collector=$(sb -J sf-collect -n 1 -N 1 --dependency="afterok:$deps" -o "$out/logs/%x-%j.out" \
               "$SELF" __collect "$out") || cancel_submitted
submitted+=("$collector")
echo "  collector job $collector (after afterok:$deps)"
echo "${submitted[*]}" >"$out/jobs.txt"
echo
echo "results: $out/results/ (results.csv, summary.md, PNG plots when gnuplot is installed)"
echo "runs:    $out/runs/<study>/n<ranks>/<strategy>/r<repeat>/ (shardflow outputs with _MANIFEST.json)"
echo "logs:    $out/logs/"
echo "watch:   squeue -j $(IFS=,; echo "${submitted[*]}")"
echo "cancel:  scancel \$(cat $out/jobs.txt)"
echo "jobs: ${submitted[*]}"
