#!/usr/bin/env bash
# Checks that #includes point down the layers (README "What is here"):
#   leaf       common/, domain/ and model/ include only common/, domain/, model/
#   kernel     kernel/ includes nothing from services/, drivers/ or userland/
#   userland   services/ and drivers/ include nothing from userland/
#   test-only  production code includes no test helper
# Test code is anything under tests/ or a testing/ folder, and files named
# *_test.cpp, *_test_*.cpp, *_test_util.hpp, test_*.hpp, fake_*.hpp,
# *_harness.hpp or tiny_model.hpp; test helpers are the same minus the
# *_test.cpp sources. The first three rules hold for test code too.
# An include is mapped to the file it names: "llmos/<x>/..." through every
# <folder>/include/llmos/<x> in the tree, any other quoted include beside the
# includer first, then anywhere in the tree by its path suffix; includes of
# nothing in the tree (system, external, generated) are not checked.
# Usage: layering_check.sh [SOURCE_DIR]  (default: this script's parent).
# Prints FILE:LINE: [rule] ... per violation and exits 1 if there is any.
set -u
shopt -s nullglob

root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root" || { echo "layering_check: no such folder: $root" >&2; exit 2; }

# Known exceptions, "file|include" exactly: each says why and when it goes.
allowed=(
)

layers="benchmarks common domain drivers ipc kernel model services tests userland"
mapfile -t files < <(for d in $layers; do [ -d "$d" ] && find "$d" -type f \
  \( -name '*.hpp' -o -name '*.h' -o -name '*.cpp' -o -name '*.cc' -o -name '*.cu' -o -name '*.cuh' \); done | sort)
if [ "${#files[@]}" -eq 0 ]; then
  echo "layering_check: no sources under $root" >&2
  exit 2
fi

# llmos/<x> -> the folders holding include/llmos/<x> (space separated).
declare -A roots_of
while IFS= read -r dir; do
  x=${dir##*/include/llmos/}
  roots_of[$x]+="${dir%/include/llmos/*} "
done < <(for d in $layers; do [ -d "$d" ] && find "$d" -type d -path '*/include/llmos/*' ! -path '*/include/llmos/*/*'; done)

# file basename -> paths, for quoted includes found by their path suffix.
declare -A paths_of
for f in "${files[@]}"; do paths_of[${f##*/}]+="$f "; done

is_test_code() {  # path
  case "/$1" in
    /tests/* | */testing/*) return 0 ;;
  esac
  case "${1##*/}" in
    *_test.cpp | *_test_*.cpp | *_test_util.hpp | test_*.hpp | fake_*.hpp | *_harness.hpp | tiny_model.hpp) return 0 ;;
  esac
  return 1
}

is_test_helper() {  # path: test code something else includes
  case "${1##*/}" in
    *_test.cpp) return 1 ;;
  esac
  is_test_code "$1"
}

# "a/b/../c/./d" -> "a/c/d", into REPLY.
normalize() {
  local part out=()
  IFS=/ read -ra parts <<<"$1"
  for part in "${parts[@]}"; do
    case "$part" in
      "" | .) ;;
      ..) [ "${#out[@]}" -gt 0 ] && unset 'out[${#out[@]}-1]' ;;
      *) out+=("$part") ;;
    esac
  done
  REPLY=$(IFS=/; echo "${out[*]}")
}

# The file in the tree `inc` names when `from` includes it, into REPLY (empty
# if none). Sets REPLY rather than printing: no subshell per include.
resolve() {  # from inc
  local from=$1 inc=$2 r
  REPLY=
  if [[ $inc == llmos/* ]]; then
    local rest=${inc#llmos/}
    local x=${rest%%/*}
    [[ $rest == */* ]] || return 0
    for r in ${roots_of[$x]-}; do
      [ -f "$r/include/$inc" ] && { REPLY=$r/include/$inc; return 0; }
    done
    # Generated (llmos/ipc/llmos.capnp.h): the folder that owns llmos/<x>.
    for r in ${roots_of[$x]-}; do REPLY=$r/include/$inc; return 0; done
    return 0
  fi
  if [ -f "${from%/*}/$inc" ]; then
    normalize "${from%/*}/$inc"
    return 0
  fi
  local found=()
  for r in ${paths_of[${inc##*/}]-}; do
    [[ /$r == */$inc ]] && found+=("$r")
  done
  [ "${#found[@]}" -eq 0 ] && return 0
  # Several: prefer one in the includer's own top folder.
  for r in "${found[@]}"; do
    [ "${r%%/*}" = "${from%%/*}" ] && { REPLY=$r; return 0; }
  done
  REPLY=${found[0]}
}

violations=0
used_allowed=()
report() {  # file line rule inc target why
  local key="$1|$4"
  for a in "${allowed[@]}"; do
    if [ "$a" = "$key" ]; then
      used_allowed+=("$a")
      return
    fi
  done
  echo "$1:$2: [$3] includes \"$4\" ($5): $6"
  violations=$((violations + 1))
}

# One grep over every file: "file:line:text" per include line.
while IFS= read -r hit; do
  f=${hit%%:*}
  hit=${hit#*:}
  line=${hit%%:*}
  text=${hit#*:}
  from_layer=${f%%/*}
  if [[ $text =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\"([^\"]+)\" ]]; then
    inc=${BASH_REMATCH[1]}
  elif [[ $text =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\<(llmos/[^\>]+)\> ]]; then
    inc=${BASH_REMATCH[1]}
  else
    continue
  fi
  resolve "$f" "$inc"
  target=$REPLY
  [ -n "$target" ] || continue
  to_layer=${target%%/*}
  case "$from_layer" in
    common | domain | model)
      case "$to_layer" in
        common | domain | model) ;;
        *) report "$f" "$line" leaf "$inc" "$target" "$from_layer/ is a leaf: it includes only common/, domain/ and model/" ;;
      esac ;;
    kernel)
      case "$to_layer" in
        services | drivers | userland)
          report "$f" "$line" kernel "$inc" "$target" "the kernel includes nothing from $to_layer/" ;;
      esac ;;
    services | drivers)
      if [ "$to_layer" = userland ]; then
        report "$f" "$line" userland "$inc" "$target" "$from_layer/ includes nothing from userland/"
      fi ;;
  esac
  if ! is_test_code "$f" && is_test_helper "$target"; then
    report "$f" "$line" test-only "$inc" "$target" "production code includes no test helper"
  fi
done < <(grep -n -H '^[[:space:]]*#[[:space:]]*include' "${files[@]}")

for a in "${allowed[@]}"; do
  seen=0
  for u in "${used_allowed[@]}"; do [ "$u" = "$a" ] && seen=1; done
  [ "$seen" -eq 1 ] || echo "layering_check: note: the exception '$a' is no longer needed; remove it" >&2
done
if [ "$violations" -gt 0 ]; then
  echo "layering_check: $violations include(s) point the wrong way (rules: tests/layering_check.sh)" >&2
  exit 1
fi
echo "layering_check: ${#files[@]} files, every include points down the layers"
