#include "stats.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>

#include "jsonget.h"

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
static void window(FILE *out, struct json_object *w)
{
	char a[24], b[24], c[24], d[24];
	fprintf(out, " %9" PRId64 " %9s %9s %9s %9s", jsonget_int(w, "frames", 0),
		duration(jsonget_int(w, "p50_ns", 0), a, sizeof(a)),
		duration(jsonget_int(w, "p99_ns", 0), b, sizeof(b)),
		duration(jsonget_int(w, "p999_ns", 0), c, sizeof(c)),
		duration(jsonget_int(w, "max_ns", 0), d, sizeof(d)));
}

/* "SCHED_FIFO priority 10 (granted by CAP_SYS_NICE), memory locked" */
static void realtime_text(FILE *out, struct json_object *rt)
{
	if (!rt) {
		fputs("?", out);
		return;
	}
	const char *policy = jsonget_str(rt, "policy", "?");
	fputs(policy, out);
	if (jsonget_int(rt, "priority", 0))
		fprintf(out, " priority %" PRId64, jsonget_int(rt, "priority", 0));
	const char *by = jsonget_str(rt, "granted_by", NULL);
	if (jsonget_bool(rt, "dropped", false))
		fprintf(out, " (dropped from real-time: it ran %" PRId64 " ms without sleeping)",
			jsonget_int(rt, "runaway_limit_ms", 0));
	else if (by)
		fprintf(out, " (granted by %s)", by);
	else
		fprintf(out, " (realtime = %s: %s)", jsonget_str(rt, "setting", "?"),
			jsonget_str(rt, "refused", "not available"));
	const char *mem = jsonget_str(rt, "memory", NULL);
	if (mem)
		fprintf(out, ", memory %s", mem);
}

void stats_print(FILE *out, struct json_object *st)
{
	struct json_object *lat = jsonget_member(st, "latency", json_type_object);
	struct json_object *ts = jsonget_member(lat, "targets", json_type_array);
	fprintf(out, "hop: %s\n\n", jsonget_str(lat, "hop", "?"));
	size_t nt = ts ? json_object_array_length(ts) : 0;
	if (!nt) {
		fputs("no frame forwarded yet\n", out);
	} else {
		fprintf(out, "%-16s %-8s | %-49s | %s\n", "", "", "since start", "last minute");
		fprintf(out, "%-16s %-8s |", "TARGET", "KIND");
		for (int i = 0; i < 2; i++)
			fprintf(out, " %9s %9s %9s %9s %9s%s", "FRAMES", "P50", "P99", "P99.9", "MAX", i ? "\n" : " |");
		for (size_t i = 0; i < nt; i++) {
			struct json_object *t = json_object_array_get_idx(ts, i);
			fprintf(out, "%-16s %-8s |", jsonget_str(t, "target", "?"), jsonget_str(t, "kind", "?"));
			window(out, jsonget_member(t, "since_start", json_type_object));
			fputs(" |", out);
			window(out, jsonget_member(t, "last_minute", json_type_object));
			fputc('\n', out);
		}
	}
	fputs("\nevent loop: ", out);
	realtime_text(out, jsonget_member(st, "realtime", json_type_object));
	fputc('\n', out);
}

void stats_status_lines(FILE *out, struct json_object *st)
{
	fputs("realtime: ", out);
	realtime_text(out, jsonget_member(st, "realtime", json_type_object));
	fputc('\n', out);
	struct json_object *ts = jsonget_member(jsonget_member(st, "latency", json_type_object), "targets", json_type_array);
	size_t nt = ts ? json_object_array_length(ts) : 0;
	fputs("hop:", out);
	if (!nt)
		fputs(" no frame forwarded yet", out);
	for (size_t i = 0; i < nt; i++) {
		struct json_object *t = json_object_array_get_idx(ts, i);
		struct json_object *w = jsonget_member(t, "since_start", json_type_object);
		char a[24], b[24];
		fprintf(out, "%s %s %s p50 %s p99 %s", i ? ";" : "", jsonget_str(t, "target", "?"),
			jsonget_str(t, "kind", "?"), duration(jsonget_int(w, "p50_ns", 0), a, sizeof(a)),
			duration(jsonget_int(w, "p99_ns", 0), b, sizeof(b)));
	}
	fputs(nt ? " (since start; kvmswitch stats)\n" : "\n", out);
}
