# Sourced by the benchmark scripts, with S set to their samples directory.
# quant NAME FIELD: median|q1|q3|n of NAME's samples (nearest rank), or nothing.
quant() {
	[ -s "$S/$1.ms" ] && [ ! -e "$S/$1.fail" ] || return 0
	sort -n "$S/$1.ms" | awk -v f="$2" '{ v[NR] = $1 } END {
		if (f == "n") { print NR; exit }
		p = f == "q1" ? 0.25 : f == "q3" ? 0.75 : 0.5
		if (f == "median" && NR % 2 == 0) { printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2; exit }
		i = int(p * (NR - 1) + 0.5) + 1; printf "%.1f\n", v[i] }'
}
