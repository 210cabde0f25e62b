# fish completion for kvmswitch(1): commands, options, files, and target
# names from `kvmswitch targets` (the running daemon's, else the
# configuration's). Installed as .../fish/vendor_completions.d/kvmswitch.fish.

function __kvmswitch_targets
    # A configuration file given on the command line: its targets.
    set -l words (commandline -opc)
    set -l cfg
    for i in (seq (count $words))
        if contains -- $words[$i] -c --config; and test $i -lt (count $words)
            set cfg -c $words[(math $i + 1)]
        end
    end
    kvmswitch targets $cfg 2>/dev/null
end

# True when the command line has its subcommand and n more words after it.
function __kvmswitch_args_after
    set -l words (commandline -opc)
    set -l n 0
    set -l seen 0
    set -l skip 0
    for w in $words[2..-1]
        if test $skip = 1
            set skip 0
            continue
        end
        switch $w
            case -c --config -s --secret-file
                set skip 1
            case '-*'
            case '*'
                if test $seen = 0
                    set seen 1
                else
                    set n (math $n + 1)
                end
        end
    end
    test $seen = 1 -a $n = $argv[1]
end

set -l commands run check config targets doctor list keys status stats monitor switch toggle next prev release reload lock unlock subscribe remote libvirt-xml version help
complete -c kvmswitch -f
complete -c kvmswitch -n "not __fish_seen_subcommand_from $commands" -l help -d 'Show the usage'
complete -c kvmswitch -n "not __fish_seen_subcommand_from $commands" -l version -d 'Print the version'
complete -c kvmswitch -n "not __fish_seen_subcommand_from $commands" -a run -d 'Run the daemon in the foreground'
complete -c kvmswitch -n "not __fish_seen_subcommand_from $commands" -a check -d 'Validate the configuration'
complete -c kvmswitch -n "not __fish_seen_subcommand_from $commands" -a config -d 'Print the configuration in force'
complete -c kvmswitch -n "not __fish_seen_subcommand_from $commands" -a targets -d 'Print the target names'
complete -c kvmswitch -n "not __fish_seen_subcommand_from $commands" -a doctor -d "Check the machine's set-up"
complete -c kvmswitch -n "not __fish_seen_subcommand_from $commands" -a list -d 'Input devices, taken or not, and why'
complete -c kvmswitch -n "not __fish_seen_subcommand_from $commands" -a status -d "The running daemon's state"
complete -c kvmswitch -n "not __fish_seen_subcommand_from $commands" -a stats -d 'How long forwarding takes, the event loop priority'
complete -c kvmswitch -n "not __fish_seen_subcommand_from $commands" -a keys -d 'The key names a chord takes'
complete -c kvmswitch -n "not __fish_seen_subcommand_from $commands" -a monitor -d 'Show live where each key went'
complete -c kvmswitch -n "not __fish_seen_subcommand_from $commands" -a switch -d 'Make a target active'
complete -c kvmswitch -n "not __fish_seen_subcommand_from $commands" -a toggle -d 'Host <-> the last VM target'
complete -c kvmswitch -n "not __fish_seen_subcommand_from $commands" -a next -d 'The next target'
complete -c kvmswitch -n "not __fish_seen_subcommand_from $commands" -a prev -d 'The previous target'
complete -c kvmswitch -n "not __fish_seen_subcommand_from $commands" -a release -d 'Emergency: ungrab everything'
complete -c kvmswitch -n "not __fish_seen_subcommand_from $commands" -a reload -d 'Re-read the configuration'
complete -c kvmswitch -n "not __fish_seen_subcommand_from $commands" -a lock -d 'Lock the hotkeys against accidental switches'
complete -c kvmswitch -n "not __fish_seen_subcommand_from $commands" -a unlock -d 'Unlock the hotkeys'
complete -c kvmswitch -n "not __fish_seen_subcommand_from $commands" -a subscribe -d 'Print a line on every switch'
complete -c kvmswitch -n "not __fish_seen_subcommand_from $commands" -a remote -d 'Switch through a [listener]'
complete -c kvmswitch -n "not __fish_seen_subcommand_from $commands" -a libvirt-xml -d "libvirt <input> elements for a target"
complete -c kvmswitch -n "not __fish_seen_subcommand_from $commands" -a version -d 'Print the version'
complete -c kvmswitch -n "not __fish_seen_subcommand_from $commands" -a help -d 'Usage of a command'

complete -c kvmswitch -n "__fish_seen_subcommand_from $commands" -l help -d 'Show the usage'
complete -c kvmswitch -n "__fish_seen_subcommand_from run check config targets doctor list keys libvirt-xml" -s c -l config -r -F -d 'Configuration file'
complete -c kvmswitch -n "__fish_seen_subcommand_from check config; and __kvmswitch_args_after 0" -F
complete -c kvmswitch -n "__fish_seen_subcommand_from run" -s v -l verbose -d 'Debug messages'
complete -c kvmswitch -n "__fish_seen_subcommand_from doctor list status monitor" -l json -d 'JSON for scripts'
complete -c kvmswitch -n "__fish_seen_subcommand_from stats" -l watch -d 'Show them again every second'
complete -c kvmswitch -n "__fish_seen_subcommand_from list" -l daemon -d "The daemon's devices"
complete -c kvmswitch -n "__fish_seen_subcommand_from switch libvirt-xml; and __kvmswitch_args_after 0" -a '(__kvmswitch_targets)' -d Target
complete -c kvmswitch -n "__fish_seen_subcommand_from libvirt-xml" -l evdev -d '<input type=evdev> (input-linux)'
complete -c kvmswitch -n "__fish_seen_subcommand_from libvirt-xml" -l passthrough -d '<input type=passthrough> (virtio-input-host)'
complete -c kvmswitch -n "__fish_seen_subcommand_from remote" -s s -l secret-file -r -F -d 'The shared secret'
complete -c kvmswitch -n "__fish_seen_subcommand_from remote; and __kvmswitch_args_after 1" -a 'switch toggle next prev'
complete -c kvmswitch -n "__fish_seen_subcommand_from remote; and __fish_seen_subcommand_from switch; and __kvmswitch_args_after 2" -a '(__kvmswitch_targets)' -d Target
complete -c kvmswitch -n "__fish_seen_subcommand_from help; and __kvmswitch_args_after 0" -a "$commands"
