# plot.gp - scaling plots of a shardflow sweep (called by slurm/collect.py).
#
# gnuplot -e 'datafile="X.dat"; outfile="X.png"; study="strong"; strategies="static dynamic"; maxranks=8; baseranks=1' slurm/plot.gp
#
# datafile holds one block per strategy (in the order of `strategies`,
# separated by two blank lines) with the columns: ranks, median wall seconds,
# speedup, efficiency. Draws three panels side by side: wall time, speedup
# (log-log, with the ideal line) and parallel efficiency (ideal 1.0) against ranks.

if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
    set terminal pngcairo size 1500,480 noenhanced font ",10"
} else {
    set terminal png size 1500,480 noenhanced
}
set output outfile

nstrat = words(strategies)
set key top left box opaque Left reverse
set grid
set xlabel "MPI ranks"
set xrange [0.8 * baseranks : maxranks * 1.25]
set logscale x 2
set xtics 2

set multiplot layout 1,3 title sprintf("shardflow %s scaling (medians over repeats)", study)

set title "wall time"
set ylabel "seconds"
set yrange [0:*]
plot for [i = 1:nstrat] datafile index (i - 1) using 1:2 with linespoints pt 7 title word(strategies, i)

set title "speedup"
set ylabel sprintf("speedup (x %d ranks)", baseranks)
set logscale y 2
set yrange [*:*]
if (study eq "weak") {
    set ylabel "scaled speedup  n * T(base) / T(n)"
}
plot for [i = 1:nstrat] datafile index (i - 1) using 1:3 with linespoints pt 7 title word(strategies, i), \
     x with lines dashtype 2 lc rgb "gray40" title "ideal"

set title "parallel efficiency"
unset logscale y
set ylabel "efficiency"
set yrange [0:1.2]
plot for [i = 1:nstrat] datafile index (i - 1) using 1:4 with linespoints pt 7 title word(strategies, i), \
     1 with lines dashtype 2 lc rgb "gray40" title "ideal"

unset multiplot
unset output
