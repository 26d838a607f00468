#!/usr/bin/env bash
# `cmake --install` into a temporary prefix: bin/shardflow runs (and writes
# and reads HDF5 through its installed plugin), the man page
# has a section per command (read with `man -l` when man is installed, else
# its troff header is checked), and the bash completion completes commands
# and a command's options.
# usage: install_test.sh BUILD_DIR
set -uo pipefail
build=$1
fail() { echo "FAIL: $*"; exit 1; }
command -v cmake >/dev/null || { echo "SKIP: cmake not found"; exit 77; }
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null || fail "cmake --install failed"

bin=$prefix/bin/shardflow
man1=$prefix/share/man/man1/shardflow.1
comp=$prefix/share/bash-completion/completions/shardflow
[[ -x $bin ]] || fail "$bin missing or not executable"
"$bin" --version | grep -q '^shardflow [0-9]' || fail "installed shardflow --version"
# HDF5 is a plugin the installed binary finds in LIBDIR/shardflow.
printf '{"k": "a", "v": 1}\n' >"$prefix/in.jsonl"
"$bin" flatten "$prefix/in.jsonl" -o "$prefix/h5out" --format hdf5 --quiet ||
    fail "installed shardflow flatten --format hdf5"
[[ $("$bin" cat "$prefix/h5out") == *"a,1"* ]] || fail "installed shardflow cat of HDF5"
[[ -s $man1 ]] || fail "$man1 missing"
[[ -s $comp ]] || fail "$comp missing"

commands=(run validate experiment flatten schema gen inspect cat)
head -1 "$man1" | grep -q '^\.TH SHARDFLOW 1 ' || fail "man page: no .TH SHARDFLOW 1 header"
if command -v man >/dev/null; then
    text=$(MANWIDTH=100 man -l "$man1" 2>&1) || fail "man -l $man1: $text"
    for c in "${commands[@]}"; do
        grep -q "^COMMAND: ${c^^}\$" <<<"$text" || fail "man page: no COMMAND: ${c^^} section"
        grep -q "usage: shardflow $c" <<<"$text" || fail "man page: no usage of $c"
    done
    grep -q -- "--write-mode MODE" <<<"$text" || fail "man page: run's options missing"
else
    echo "man not installed: checked the troff source only"
    for c in "${commands[@]}"; do
        grep -q "^\.SH \"COMMAND: ${c^^}\"" "$man1" || fail "man page: no section for $c"
    done
fi

# Completion: source it and ask as bash would.
complete_words() { # the words typed so far, the last one being completed
    bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1));
             _shardflow; printf "%s\n" "${COMPREPLY[@]}"' _ "$comp" "$@"
}
got=$(complete_words shardflow "") || fail "completion script failed"
for c in "${commands[@]}"; do
    grep -qx "$c" <<<"$got" || fail "completion: command $c not offered"
done
[[ $(complete_words shardflow ru) == run ]] || fail "completion: 'ru' does not give run"
got=$(complete_words shardflow run job.json --out)
[[ $got == --output ]] || fail "completion: run --out gives '$got', not --output"
got=$(complete_words shardflow gen kpi --ov)
[[ $got == --overwrite ]] || fail "completion: gen --ov gives '$got'"
got=$(complete_words shardflow flatten --explo)
[[ $got == --explode ]] || fail "completion: flatten --explo gives '$got'"
echo "install: bin/shardflow, man1/shardflow.1 and the bash completion are in place"
