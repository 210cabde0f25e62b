# bash completion for kvmswitch(1): commands, options, files, and target
# names from `kvmswitch targets` (the running daemon's, else the
# configuration's). Installed as .../bash-completion/completions/kvmswitch.

# The target names; $1 is a configuration file given on the command line.
_kvmswitch_targets()
{
	kvmswitch targets ${1:+-c "$1"} 2>/dev/null
}

_kvmswitch()
{
	# The words so far from the line itself: bash splits COMP_WORDS at ':'
	# and '=' too (COMP_WORDBREAKS), which would split tcp:HOST:PORT.
	local cur=${COMP_WORDS[COMP_CWORD]} line=${COMP_LINE:0:COMP_POINT} words
	read -ra words <<<"$line"
	[[ $line == *[[:space:]] || -z $line ]] && words+=("")
	local n=$((${#words[@]} - 1)) prev=${words[${#words[@]} - 2]}
	local commands="run check config targets doctor list keys status stats monitor switch toggle next prev release
		reload lock unlock subscribe remote libvirt-xml version help"
	local cmd="" cfg="" npos=0 i w
	for ((i = 1; i < n; i++)); do
		w=${words[i]}
		case $w in
		-c | --config | -s | --secret-file)
			[[ $w == -c || $w == --config ]] && cfg=${words[i + 1]}
			((i++))
			;;
		-*) ;;
		*)
			if [[ -z $cmd ]]; then
				cmd=$w
			else
				((npos++))
			fi
			;;
		esac
	done
	case $prev in
	-c | --config | -s | --secret-file)
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	esac
	local opts="" cands=""
	case $cmd in
	"")
		opts="--help --version"
		cands=$commands
		;;
	run) opts="-c --config -v --verbose --help" ;;
	check | config)
		opts="-c --config --help"
		if [[ $cur != -* && -z $cfg && $npos -eq 0 ]]; then
			compopt -o filenames 2>/dev/null
			COMPREPLY=($(compgen -f -- "$cur"))
			return
		fi
		;;
	targets) opts="-c --config --help" ;;
	doctor) opts="-c --config --json --help" ;;
	list) opts="-c --config --json --daemon --help" ;;
	status | monitor) opts="--json --help" ;;
	keys) opts="-c --config --help" ;;
	stats) opts="--watch --help" ;;
	switch) [[ $npos -eq 0 ]] && cands=$(_kvmswitch_targets "$cfg") ;;
	libvirt-xml)
		opts="-c --config --evdev --passthrough --help"
		[[ $npos -eq 0 ]] && cands=$(_kvmswitch_targets "$cfg")
		;;
	remote)
		opts="-s --secret-file --help"
		case $npos in
		1) cands="switch toggle next prev" ;;
		2) [[ $prev == switch ]] && cands=$(_kvmswitch_targets) ;;
		esac
		;;
	help) [[ $npos -eq 0 ]] && cands=$commands ;;
	*) opts="--help" ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
	else
		COMPREPLY=($(compgen -W "$cands" -- "$cur"))
	fi
}

complete -F _kvmswitch kvmswitch
