# The latency CDFs of a benchmark run (tests/bench/report calls it):
#   gnuplot -e "dir='RESULT-DIR'; out='FILE.png'; which='idle'" tests/bench/cdf.gp
#   gnuplot -e "dir='RESULT-DIR'; out='FILE.png'; which='loaded'" tests/bench/cdf.gp
# Reads DIR/cdf-MODE-CONTENDER.dat (columns: p, nines = -log10(1-p), rt_us,
# kern_us) and draws one panel per mode: round-trip latency (log scale)
# against the share of frames, on a scale that spreads out the tail.
if (!exists("which")) which = 'idle'
if (which eq 'loaded') {
	modes = "closed_cpu 1000hz_cpu 8000hz_cpu closed_mem 8000hz_mem"
	titles = "'closed loop, CPU hogs' '1000 frames/s, CPU hogs' '8000 frames/s, CPU hogs' 'closed loop, memory hogs' '8000 frames/s, memory hogs'"
	contenders = "floor kvmswitch kvmswitch_nort interception interception_nice"
	names = "'floor (uinput → own node)' 'kvmswitch (real-time)' 'kvmswitch, realtime = no' 'interception-tools' 'interception-tools, nice -20'"
	colors = "#000000 #d62728 #ff7f0e #1f77b4 #9467bd"
	nmodes = 5
	ncont = 5
	set terminal pngcairo size 1500,1000 font ",10"
	heading = "Round-trip latency under load (one busy loop or memory hog per CPU, normal priority), CDF (one run; software-emulated VM: compare within the run only)"
	rows = 2
} else {
	modes = "closed 1000hz 8000hz"
	titles = "'closed loop' '1000 frames/s' '8000 frames/s'"
	contenders = "floor kvmswitch kvmswitch_nort interception interception_nice pyevdev"
	names = "'floor (uinput → own node)' 'kvmswitch (real-time)' 'kvmswitch, realtime = no' 'interception-tools' 'interception-tools, nice -20' 'python3-evdev script'"
	colors = "#000000 #d62728 #ff7f0e #1f77b4 #9467bd #2ca02c"
	nmodes = 3
	ncont = 6
	set terminal pngcairo size 1500,520 font ",10"
	heading = "Round-trip latency, CDF (one run; software-emulated VM: compare within the run only)"
	rows = 1
}
set output out
set multiplot layout rows,3 title heading
set logscale x 10
set xlabel "round-trip latency (µs)"
set ylabel "share of frames at or below"
set ytics ("0" 0, "50%%" 0.30103, "90%%" 1, "99%%" 2, "99.9%%" 3, "99.99%%" 4, "99.999%%" 5)
set yrange [0:*]
set grid xtics ytics mxtics
set key top left opaque box
set format x "%g"
file(m, c) = sprintf("%s/cdf-%s-%s.dat", dir, m, c)
present(f) = system(sprintf("test -s '%s' && echo 1 || echo 0", f)) + 0
do for [i = 1:nmodes] {
	m = word(modes, i)
	if (i > 1) { unset key }
	n = 0
	do for [j = 1:ncont] { n = n + present(file(m, word(contenders, j))) }
	if (n == 0) {
		set title word(titles, i) . " (not run)"
		plot [1:1000] [0:1] NaN notitle
	} else {
		set title word(titles, i)
		plot for [j = 1:ncont] file(m, word(contenders, j)) \
			using 3:2 with lines lw 2 lc rgb word(colors, j) title word(names, j)
	}
}
unset multiplot
