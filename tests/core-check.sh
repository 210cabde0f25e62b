#!/bin/bash
# Fails if a core file includes anything but pure libc headers, the kernel's
# input event definitions and the core's own headers; follows the core's own
# headers recursively. (The core does no I/O: see docs/DESIGN.md.)
#
#   tests/core-check.sh FILE...        (make core-check passes src/core/*.c include/core/*.h)
#
# Prints FILE:LINE: what is wrong, for each offence; exit status 1 if any.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)

# The allow-list: <...> headers a core file may include.
allowed_system=(
	stdbool.h stddef.h stdint.h stdlib.h string.h stdio.h errno.h limits.h
	ctype.h fnmatch.h inttypes.h stdarg.h assert.h
	linux/input.h linux/input-event-codes.h
)

is_allowed_system() {
	local h
	for h in "${allowed_system[@]}"; do [ "$1" = "$h" ] && return 0; done
	return 1
}

declare -A seen=()
bad=0
queue=()
for a in "$@"; do queue+=("$(realpath -m "$a")"); done

# A quoted include: "core/x.h" (from include/), or a header next to the
# including file inside src/core or include/core. Prints the path.
resolve_quoted() {
	local from=$1 h=$2 dir cand
	dir=$(dirname "$from")
	for cand in "$top/include/$h" "$dir/$h"; do
		[ -f "$cand" ] || continue
		cand=$(realpath "$cand")
		case $cand in
		"$top"/include/core/*|"$top"/src/core/*) echo "$cand"; return 0 ;;
		esac
	done
	return 1
}

while [ ${#queue[@]} -gt 0 ]; do
	f=${queue[0]}
	queue=("${queue[@]:1}")
	[ -n "${seen[$f]:-}" ] && continue
	seen[$f]=1
	if [ ! -f "$f" ]; then
		echo "${f#"$top"/}: no such file" >&2
		bad=1
		continue
	fi
	rel=${f#"$top"/}
	n=0
	while IFS= read -r line || [ -n "$line" ]; do
		n=$((n + 1))
		[[ $line =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*(.*)$ ]] || continue
		arg=${BASH_REMATCH[1]}
		if [[ $arg =~ ^\<([^>]+)\> ]]; then
			h=${BASH_REMATCH[1]}
			if ! is_allowed_system "$h"; then
				echo "$rel:$n: the core may not include <$h>"
				bad=1
			fi
		elif [[ $arg =~ ^\"([^\"]+)\" ]]; then
			h=${BASH_REMATCH[1]}
			if path=$(resolve_quoted "$f" "$h"); then
				queue+=("$path")
			else
				echo "$rel:$n: the core may include only its own headers (\"core/...\" in include/core or src/core), not \"$h\""
				bad=1
			fi
		else
			echo "$rel:$n: cannot check a computed include: $line"
			bad=1
		fi
	done < "$f"
done
if [ "$bad" != 0 ]; then
	echo "core-check: the core must stay pure (no I/O, no library headers); move such code to src/shell." >&2
	echo "core-check: allowed: $(printf '<%s> ' "${allowed_system[@]}")\"core/...\"" >&2
fi
exit "$bad"
