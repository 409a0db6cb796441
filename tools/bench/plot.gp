# SPDX-License-Identifier: GPL-2.0
# The bench results as a PNG: throughput of both implementations per row
# (log scale), and the ratio rust/C with the line at 1.0.
#
#   gnuplot -e "dat='plot.dat'; out='bench.png'" plot.gp
#
# plot.dat (summarize.py): index, "row", C rate, rust rate, rust/C.

set terminal pngcairo size 1200,900 font ",10"
set output out
set multiplot layout 2,1 title "IOPF benchmark: upstream C iommufd.ko vs rust\\_iommufd.ko (same boot, same binary)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set grid ytics
set xtics rotate by -30 nomirror
set key top right

set ylabel "faults/s (ops/s for the floor)"
set logscale y
plot dat using 3:xtic(2) title "C iommufd.ko", '' using 4 title "rust\\_iommufd.ko"

unset logscale y
set ylabel "rust/C throughput"
set yrange [0:*]
plot dat using 5:xtic(2) title "rust/C" lc rgb "#4477aa", \
     1 with lines dt 2 lc rgb "black" title "1.0"
unset multiplot
