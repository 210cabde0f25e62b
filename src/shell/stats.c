#include "stats.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>

/* A duration for people: 87 us, 1.25 ms, 2.3 s. */
static const char *duration(int64_t ns, char *buf, size_t len)
{
	if (ns < 1000000)
		snprintf(buf, len, "%" PRId64 " us", (ns + 500) / 1000);
	else if (ns < 1000000000)
		snprintf(buf, len, "%.2f ms", (double)ns / 1e6);
	else
		snprintf(buf, len, "%.1f s", (double)ns / 1e9);
	return buf;
}

/* FRAMES p50 p99 p99.9 max of one window, in columns. */
static void window(FILE *out, const struct jval *w)
{
	char a[24], b[24], c[24], d[24];
	fprintf(out, " %9" PRId64 " %9s %9s %9s %9s", jsonread_int(w, "frames", 0),
		duration(jsonread_int(w, "p50_ns", 0), a, sizeof(a)),
		duration(jsonread_int(w, "p99_ns", 0), b, sizeof(b)),
		duration(jsonread_int(w, "p999_ns", 0), c, sizeof(c)),
		duration(jsonread_int(w, "max_ns", 0), d, sizeof(d)));
}

/* "SCHED_FIFO priority 10 (granted by CAP_SYS_NICE), memory locked" */
static void realtime_text(FILE *out, const struct jval *rt)
{
	if (!rt) {
		fputs("?", out);
		return;
	}
	const char *policy = jsonread_str(rt, "policy", "?");
	fputs(policy, out);
	if (jsonread_int(rt, "priority", 0))
		fprintf(out, " priority %" PRId64, jsonread_int(rt, "priority", 0));
	const char *by = jsonread_str(rt, "granted_by", NULL);
	if (jsonread_bool(rt, "dropped", false))
		fprintf(out, " (dropped from real-time: it ran %" PRId64 " ms without sleeping)",
			jsonread_int(rt, "runaway_limit_ms", 0));
	else if (by)
		fprintf(out, " (granted by %s)", by);
	else
		fprintf(out, " (realtime = %s: %s)", jsonread_str(rt, "setting", "?"),
			jsonread_str(rt, "refused", "not available"));
	const char *mem = jsonread_str(rt, "memory", NULL);
	if (mem)
		fprintf(out, ", memory %s", mem);
}

void stats_print(FILE *out, const struct jval *st)
{
	const struct jval *lat = jsonread_get(st, "latency");
	const struct jval *ts = jsonread_get(lat, "targets");
	fprintf(out, "hop: %s\n\n", jsonread_str(lat, "hop", "?"));
	if (!ts || !ts->child) {
		fputs("no frame forwarded yet\n", out);
	} else {
		fprintf(out, "%-16s %-8s | %-49s | %s\n", "", "", "since start", "last minute");
		fprintf(out, "%-16s %-8s |", "TARGET", "KIND");
		for (int i = 0; i < 2; i++)
			fprintf(out, " %9s %9s %9s %9s %9s%s", "FRAMES", "P50", "P99", "P99.9", "MAX", i ? "\n" : " |");
		for (const struct jval *t = ts->child; t; t = t->next) {
			fprintf(out, "%-16s %-8s |", jsonread_str(t, "target", "?"), jsonread_str(t, "kind", "?"));
			window(out, jsonread_get(t, "since_start"));
			fputs(" |", out);
			window(out, jsonread_get(t, "last_minute"));
			fputc('\n', out);
		}
	}
	fputs("\nevent loop: ", out);
	realtime_text(out, jsonread_get(st, "realtime"));
	fputc('\n', out);
}

void stats_status_lines(FILE *out, const struct jval *st)
{
	fputs("realtime: ", out);
	realtime_text(out, jsonread_get(st, "realtime"));
	fputc('\n', out);
	const struct jval *ts = jsonread_get(jsonread_get(st, "latency"), "targets");
	fputs("hop:", out);
	if (!ts || !ts->child)
		fputs(" no frame forwarded yet", out);
	for (const struct jval *t = ts ? ts->child : NULL; t; t = t->next) {
		const struct jval *w = jsonread_get(t, "since_start");
		char a[24], b[24];
		fprintf(out, "%s %s %s p50 %s p99 %s", t == ts->child ? "" : ";", jsonread_str(t, "target", "?"),
			jsonread_str(t, "kind", "?"), duration(jsonread_int(w, "p50_ns", 0), a, sizeof(a)),
			duration(jsonread_int(w, "p99_ns", 0), b, sizeof(b)));
	}
	fputs(ts && ts->child ? " (since start; kvmswitch stats)\n" : "\n", out);
}
