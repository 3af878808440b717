// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * weft: load the BPF side, drain its ring buffer into the pipeline, and
 * send the spans it builds to the terminal and/or an OTLP collector.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "util.h"
#include "cli.h"
#include "exporter.h"
#include "goprobes.h"
#include "ids.h"
#include "loader.h"
#include "output.h"
#include "ownconn.h"
#include "opsserver.h"
#include "kube_meta.h"
#include "privdrop.h"
#include "procinfo.h"
#include "pairing.h"
#include "record.h"

#define POLL_MS 10	/* the longest a record waits in the ring buffer */

static volatile sig_atomic_t exiting, hangup;

static void on_signal(int sig)
{
	exiting = 1;
}

/* SIGHUP (a closed terminal, or an operator's "reload") must not kill a
 * tracer: there is no output file to reopen (spans go to stdout) and no
 * configuration is read after start, so it is noted and ignored. */
static void on_hangup(int sig)
{
	hangup = 1;
}

struct app {
	struct env env;
	struct loader loader;
	struct pairing *pairing;
	struct exporter *exporter;
	struct ops_server *ops;		/* --metrics-addr, else NULL */
	uint64_t spans_out;
	uint64_t spans_unsampled;
	uint64_t spans_filtered;
	uint64_t records;
	uint64_t lost_reported;
};

static void on_span(struct span *s, void *ctx)
{
	struct app *a = ctx;

	if (!s->sampled && !a->env.keep_unsampled) {
		a->spans_unsampled++;
		span_free(s);
		return;
	}
	a->spans_out++;
	output_span(stdout, a->env.output, s);
	if (a->exporter)
		exporter_submit(a->exporter, s);
	else
		span_free(s);
}

static const struct env *scan_env;

/*
 * At start-up every running process may be a Go binary to probe, but
 * only those the filters let through: a uprobe costs its binary nothing
 * when it does not fire, yet taking one off again costs a quarter of a
 * second here (an RCU grace period each), and a node runs many Go binaries
 * (kubelet, containerd, etcd...). A process that was not probed now is
 * when its first record comes (goprobes_is_go).
 */
static void goprobes_note_pid(uint32_t pid)
{
	const struct env *e = scan_env;

	if (e && e->lo.n_pids) {
		bool listed = false;

		for (int i = 0; i < e->lo.n_pids; i++)
			listed |= e->lo.pids[i] == pid;
		if (!listed)
			return;
	}
	if (e && (e->names.n_comms || e->names.n_exes)) {
		char path[64], comm[32] = "";
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%u/comm", pid);
		f = fopen(path, "re");
		if (!f)
			return;
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
		if (!procfilter_match(&e->names, pid, comm))
			return;
	}
	goprobes_consider(pid);
}

/* The ring buffer's consumer: stage 1 (record.c) decodes, stage 3
 * (pairing.c) takes it from there. */
static int on_record(void *ctx, void *data, size_t size)
{
	struct app *a = ctx;
	struct record rec;

	a->records++;
	switch (record_decode(data, size, &rec)) {
	case REC_CHUNK:
		if (!procfilter_wanted(&a->env.names, rec.pid, rec.chunk.comm) ||
		    (kube_meta_filtering() && !procinfo_get(rec.pid, rec.chunk.comm)->wanted)) {
			a->spans_filtered++;
			break;
		}
		pairing_chunk(a->pairing, &rec.chunk);
		break;
	case REC_CLOSE:
		pairing_close(a->pairing, &rec.end);
		break;
	case REC_EXEC:
		/* read the new image's name and environment while it runs */
		procinfo_forget(rec.pid);
		procinfo_get(rec.pid, "");
		pairing_forget_pid(a->pairing, rec.pid);
		goprobes_forget(rec.pid);
		goprobes_consider(rec.pid);
		break;
	case REC_GO_STREAM:
		pairing_go_stream(a->pairing, &rec.gs);
		break;
	case REC_GO_H2_FIELDS:
		pairing_go_h2_fields(a->pairing, &rec.gf);
		break;
	case REC_NONE:
		break;	/* malformed: never produced by our BPF */
	}
	return 0;
}

static void print_stats(struct app *a, bool final)
{
	uint64_t c[WEFT_CNT_MAX] = { 0 };
	struct pairing_stats ss;

	loader_counters(&a->loader, c);
	pairing_get_stats(a->pairing, &ss);
	fprintf(stderr, "weft: %s: spans %" PRIu64 " (output %" PRIu64
		", unsampled %" PRIu64 "), records %" PRIu64 ", connections open %" PRIu64 " (peak %" PRIu64 ")\n",
		final ? "at exit" : "stats", ss.spans, a->spans_out,
		a->spans_unsampled, a->records, ss.conns_open, ss.conns_open_peak);
	fprintf(stderr, "weft: drops: ring buffer full %" PRIu64 ", user memory unreadable %" PRIu64
		", header blocks over window %" PRIu64 " (kernel) / %" PRIu64
		" (agent), undecodable socket calls %" PRIu64 "\n",
		c[WEFT_CNT_RB_FULL], c[WEFT_CNT_READ_FAIL], c[WEFT_CNT_HDR_TRUNC],
		ss.framing.heads_truncated, c[WEFT_CNT_UNKNOWN_SYSCALL]);
	fprintf(stderr, "weft: exchanges: closed before response %" PRIu64
		", orphan responses %" PRIu64 ", not HTTP %" PRIu64
		", timed out %" PRIu64 ", too many pipelined %" PRIu64
		", incomplete at exit %" PRIu64 "; responses before their request %" PRIu64
		" (could not wait %" PRIu64 "); connections lost by the kernel side %" PRIu64
		" (requests with them %" PRIu64 "); closes after unread bytes %" PRIu64 "\n",
		ss.closed_early, ss.orphan_responses, ss.framing.not_http, ss.timed_out,
		ss.pending_overflow, ss.incomplete_at_exit, ss.responses_early,
		ss.responses_early_unheld, ss.conns_lost, ss.conns_lost_exchanges,
		ss.closes_waited);
	fprintf(stderr, "weft: http2: connections %" PRIu64 ", streams %" PRIu64
		"; lost: connections out of step %" PRIu64 " (records missing %" PRIu64
		", streams dropped %" PRIu64
		"), HPACK errors %" PRIu64 " (header blocks undecoded %" PRIu64
		"), bad requests %" PRIu64 ", over %d open streams %" PRIu64
		", unprocessed by GOAWAY %" PRIu64 "; streams reset %" PRIu64
		"; connections given up, kernel side asked to stop copying them %" PRIu64
		" (stopped %" PRIu64 ", table full %" PRIu64 ")\n",
		ss.h2.conns, ss.h2.streams, ss.h2.sync_lost, ss.h2.seq_gaps,
		ss.h2.streams_lost,
		ss.h2.hpack_errors, ss.h2.blocks_undecoded, ss.h2.bad_requests,
		H2_MAX_STREAMS, ss.h2.streams_refused, ss.h2.goaway_dropped,
		ss.h2.streams_reset, ss.h2.stop_asked, c[WEFT_CNT_CONN_STOPPED],
		ss.h2.stop_unasked);
	fprintf(stderr, "weft: http2 from the middle (open before weft): connections %" PRIu64
		", in step both ways %" PRIu64 ", given up %" PRIu64
		" (chunks passed over finding frames %" PRIu64 "); streams %" PRIu64
		"; header fields naming table entries from before weft %" PRIu64
		" (requests without :method or :path for it, no span %" PRIu64
		"; context taken by its value's shape %" PRIu64
		"; requests with a value that may have been B3 context, no span %" PRIu64 ")\n",
		ss.h2.mid_conns, ss.h2.mid_synced, ss.h2.mid_unsynced,
		ss.h2.mid_chunks_skipped, ss.h2.mid_streams,
		ss.h2.mid_fields_unknown, ss.h2.mid_requests_unknown,
		ss.h2.mid_ctx_by_shape, ss.h2.mid_ctx_hidden);
	fprintf(stderr, "weft: http2 from the middle, Go servers: requests kept for the server's "
		"own decoding %" PRIu64 ", filled in %" PRIu64 " (ambiguous %" PRIu64
		", still no :method/:path %" PRIu64 "), never filled in %" PRIu64
		", connection ended first %" PRIu64 "; decoded-fields records %" PRIu64
		" (binaries probed for them %" PRIu64 "); blocks filled in from the fields "
		"grpc-go wrote %" PRIu64 " (its records %" PRIu64 ")\n",
		ss.h2.mid_pending, ss.h2.go_fields_filled, ss.h2.go_fields_ambiguous,
		ss.h2.go_fields_unusable, ss.h2.mid_pending_expired, ss.h2.mid_pending_lost,
		ss.h2.go_fields_records, goprobes_h2_fields_probed(),
		ss.h2.go_written_filled, ss.h2.go_written_records);
	fprintf(stderr, "weft: trace context: invalid %" PRIu64
		" (requests whose context headers held no valid context: ignored, new traces)\n",
		ctx_invalid_count());
	{
		struct link_stats ls;
		uint64_t gb, ga, gs;

		pairing_get_link_stats(a->pairing, &ls);
		goprobes_stats(&gb, &ga, &gs);
		fprintf(stderr, "weft: links: on this node %" PRIu64 " (linked after waiting %"
			PRIu64 ", spans held %" PRIu64 ", missed %" PRIu64
			", at most %" PRIu64 " us late; client starts moved back to their "
			"server's %" PRIu64 "), in process %" PRIu64
			", suppressed as made by the process itself %" PRIu64
			" (+%" PRIu64 " other spans of such processes); Go binaries %" PRIu64 " (probed %" PRIu64
			", stripped %" PRIu64 ", taken off after their processes exited %" PRIu64 ")\n",
			ls.wire_links, ls.wire_waited, ls.spans_held, ls.wire_misses,
			ls.wire_miss_late_max_ns / 1000, ls.client_starts_moved,
			ls.process_links, ls.suppressed_client,
			ls.suppressed_server, gb, ga, gs, goprobes_detached());
		goprobes_tls_stats(&ga, &gs);
		fprintf(stderr, "weft: tls: Go binaries with crypto/tls probed %" PRIu64
			", not traced %" PRIu64 "; plaintext reads whose socket was "
			"never seen %" PRIu64 "\n", ga, gs, c[WEFT_CNT_TLS_NO_SOCK]);
		goprobes_h2_stats(&ga, &gs);
		fprintf(stderr, "weft: go http2 servers: handler probes on %" PRIu64
			" (not probed %" PRIu64 "); handlers tied to their stream %" PRIu64
			", stream not found %" PRIu64 ", connection not seen starting %" PRIu64 "\n",
			ga, gs, ss.go_handlers, ss.go_handlers_unplaced,
			c[WEFT_CNT_GO_STREAM_UNPLACED]);
		fprintf(stderr, "weft: telemetry: exchanges %" PRIu64 " (%s), "
			"far ends of weft's own export connections skipped %" PRIu64 "\n",
			ls.telemetry, a->env.trace_telemetry ? "traced: --trace-telemetry" :
			"not traced", c[WEFT_CNT_OWN_CONN]);
		if (ownconn_errors())
			fprintf(stderr, "weft: telemetry: %" PRIu64 " of weft's own "
				"connections could not be told to the kernel (their far "
				"ends are recognised by path only)\n", ownconn_errors());
	}
	sampler_print_stats(stderr, &a->env.sampler);
	kube_meta_print_stats(stderr);
	if (a->exporter) {
		struct exporter_stats es;

		exporter_get_stats(a->exporter, &es);
		fprintf(stderr, "weft: export: spans in %" PRIu64 ", exported %" PRIu64
			", rejected %" PRIu64 ", dropped: queue full %" PRIu64
			", errors %" PRIu64 ", shutdown %" PRIu64 "; requests %" PRIu64
			", retries %" PRIu64 ", failed requests %" PRIu64 "; format %s\n",
			es.spans_in, es.spans_exported, es.spans_rejected,
			es.spans_dropped_queue, es.spans_dropped_error,
			es.spans_dropped_shutdown, es.requests, es.retries,
			es.export_errors, exporter_format_name(a->env.ex.format));
	}
}

/* Say so, once per increase, when the kernel had to drop records. */
static void warn_lost(struct app *a)
{
	uint64_t c[WEFT_CNT_MAX] = { 0 };

	if (loader_counters(&a->loader, c))
		return;
	if (c[WEFT_CNT_RB_FULL] > a->lost_reported) {
		fprintf(stderr, "weft: ring buffer full: %" PRIu64 " records lost so far; "
			"raise --ringbuf-mb or narrow with --pid/--port\n",
			c[WEFT_CNT_RB_FULL]);
		a->lost_reported = c[WEFT_CNT_RB_FULL];
	}
}

/* The health endpoint's heartbeat each pass, its metrics once a second. */
static void ops_update(struct app *a, uint64_t now)
{
	struct ops_agent_counts c = {
		.records = a->records, .records_filtered = a->spans_filtered,
		.spans_output = a->spans_out, .spans_unsampled = a->spans_unsampled,
	};

	ops_tick(a->ops, now, &c, &a->loader, a->pairing, a->exporter);
}

static int run(struct app *a)
{
	struct ring_buffer *rb;
	uint64_t start = now_mono_ns(), last_stats = start, last_sweep = start;
	int err = 0;

	rb = ring_buffer__new(loader_ringbuf_fd(&a->loader), on_record, a, NULL);
	if (!rb) {
		err = -errno;
		fprintf(stderr, "weft: failed to create ring buffer reader: %s\n",
			strerror(-err));
		return err;
	}
	{
		char sd[64], fd[64];

		sampler_describe(&a->env.sampler, sd, sizeof(sd));
		ctx_formats_describe(&a->env.formats, fd, sizeof(fd));
		fprintf(stderr, "weft: sampler %s; trace context read from %s\n", sd, fd);
	}
	fprintf(stderr, "weft: tracing (hooks: %s, header window %u B, body capture %u B)%s\n",
		loader_hooks_name(a->loader.hooks), a->env.lo.hdr_window,
		a->env.lo.body_capture, !a->exporter ? "" :
		a->env.ex.format == EXPORTER_ZIPKIN ? ", exporting Zipkin v2 JSON" :
		", exporting over OTLP");
	output_header(stdout, a->env.output);
	fflush(stdout);

	while (!exiting) {
		uint64_t now;

		if (hangup) {
			hangup = 0;
			fprintf(stderr, "weft: SIGHUP ignored: nothing to reopen or "
				"reload (spans go to stdout; options are read at start)\n");
		}
		/* records arrive without wakeups (see rb_flags in the BPF side):
		 * a short timeout bounds how long a span waits */
		err = ring_buffer__poll(rb, POLL_MS);
		if (err == -EINTR) {
			err = 0;
			continue;
		}
		if (err < 0) {
			fprintf(stderr, "weft: failed to poll ring buffer: %s\n",
				strerror(-err));
			break;
		}
		/* epoll only reports forced wakeups: take what came quietly */
		ops_note_ring(a->ops);
		err = ring_buffer__consume(rb);
		if (err < 0) {
			fprintf(stderr, "weft: failed to read ring buffer: %s\n",
				strerror(-err));
			break;
		}
		err = 0;
		fflush(stdout);
		now = now_mono_ns();
		pairing_tick(a->pairing, now);
		ops_update(a, now);
		if (a->env.duration_s &&
		    now - start >= (uint64_t)a->env.duration_s * 1000000000ULL)
			break;
		if (now - last_sweep >= 10ULL * 1000000000ULL) {
			pairing_sweep(a->pairing, now);
			procinfo_sweep();
			goprobes_sweep();
			warn_lost(a);
			last_sweep = now;
		}
		if (a->env.stats_s &&
		    now - last_stats >= (uint64_t)a->env.stats_s * 1000000000ULL) {
			print_stats(a, false);
			last_stats = now;
		}
	}
	/* what the kernel already handed over still becomes spans */
	ring_buffer__consume(rb);
	ring_buffer__free(rb);
	return err;
}

/* The loader of this run, for pairing's questions to the kernel side. */
static struct loader *stop_loader;

static bool stop_conn(const struct weft_conn_key *k)
{
	return stop_loader && loader_stop_conn(stop_loader, k);
}

static void stop_conn_done(const struct weft_conn_key *k)
{
	if (stop_loader)
		loader_stop_conn_done(stop_loader, k);
}

/* Stages 3-5 with their options; the Go probes and /proc are read first. */
static struct pairing *pipeline_start(struct app *a)
{
	struct pairing_opts so = {
		.hdr_window = a->env.lo.hdr_window,
		.is_go = goprobes_is_go,
		.want_h2_fields = goprobes_want_h2_fields,
		.resource_of = procinfo_resource,
		.stop_conn = stop_conn,
		.stop_conn_done = stop_conn_done,
		.link = {
			.mode = a->env.link_mode,
			.keep_instrumented = a->env.keep_instrumented,
			.trace_telemetry = a->env.trace_telemetry,
			.some_processes = a->env.lo.n_pids || a->env.names.n_comms ||
					  a->env.names.n_exes,
			.g_parent = goprobes_g_parent,
			.want_g_parents = goprobes_want_fanout,
			.sampler = &a->env.sampler,
			.formats = &a->env.formats,
		},
	};

	goprobes_init(&a->loader, a->env.lo.verbose);
	stop_loader = &a->loader;
	scan_env = &a->env;
	procinfo_scan_all(goprobes_note_pid);
	return pairing_new(&so, on_span, a);
}

static void print_export_at_exit(struct exporter *e, enum exporter_format f)
{
	struct exporter_stats es;

	exporter_stop_stats(e, &es);
	fprintf(stderr, "weft: export at exit: exported %" PRIu64 " of %" PRIu64
		" spans, dropped %" PRIu64 " (queue full %" PRIu64 ", errors %" PRIu64
		", shutdown deadline %" PRIu64 "), rejected %" PRIu64 "; format %s\n",
		es.spans_exported, es.spans_in,
		es.spans_dropped_queue + es.spans_dropped_error + es.spans_dropped_shutdown,
		es.spans_dropped_queue, es.spans_dropped_error,
		es.spans_dropped_shutdown, es.spans_rejected, exporter_format_name(f));
}

int main(int argc, char **argv)
{
	static struct app a;
	/* SA_RESTART: a signal that lands while stdout's write() to a full
	 * pipe blocks would otherwise fail it with EINTR, and stdio drops the
	 * rest of its buffer: a span line cut in the middle. The drain loop
	 * still wakes up (epoll_wait is never restarted; it waits 10 ms). */
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
	int err;

	err = cli_parse(&a.env, argc, argv);
	if (err)
		return err > 0 ? 0 : 2;
	/* files opened as root by a given name: none another user could swap */
	if (priv_check_paths(&a.env)) {
		cli_free(&a.env);
		return 1;
	}
	/* A terminal sees each span as it comes. Into a pipe or a file the
	 * lines go out in 256 KiB writes (and at every drain pass, ~10 ms):
	 * stdio's 4 KiB made a write() every six spans. */
	if (isatty(STDOUT_FILENO))
		setvbuf(stdout, NULL, _IOLBF, 0);
	else
		setvbuf(stdout, NULL, _IOFBF, 256 << 10);

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_hangup;
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* before the BPF load: a taken port fails fast, probes see the start */
	if (a.env.metrics_addr) {
		a.ops = ops_start(a.env.metrics_addr);
		if (!a.ops) {
			cli_free(&a.env);
			return 1;
		}
	}
	err = loader_start(&a.loader, &a.env.lo);
	if (err) {
		ops_stop(a.ops);
		cli_free(&a.env);
		return 1;
	}
	ops_attached(a.ops, &a.loader);
	/* loaded and attached: keep only what later attaches and /proc need */
	priv_drop(a.env.lo.verbose);
	if (kube_meta_start(&a.env.k8s)) {
		err = 1;
		goto cleanup;
	}
	if (a.env.ex.service_name)
		procinfo_set_extra("service.name", a.env.ex.service_name);
	for (int i = 0; i < a.env.ex.n_res_attrs; i++)
		procinfo_set_extra(a.env.ex.res_keys[i], a.env.ex.res_vals[i]);
	if (a.env.ex.endpoint) {
		/* the collector's end of the export connection is not traced */
		ownconn_init(loader_own_conns_fd(&a.loader));
		a.env.ex.on_conn = ownconn_note;
		a.exporter = exporter_start(&a.env.ex);
		if (!a.exporter) {
			err = 1;
			goto cleanup;
		}
	}
	a.pairing = pipeline_start(&a);
	err = run(&a) ? 1 : 0;

cleanup:
	/* not ready any more: the endpoint goes first */
	ops_stop(a.ops);
	a.ops = NULL;
	if (a.pairing) {
		/* finishing open exchanges may still produce spans */
		pairing_flush(a.pairing);
		print_stats(&a, true);
		pairing_free(a.pairing);
		a.pairing = NULL;
		fflush(stdout);
	}
	if (a.exporter)
		print_export_at_exit(a.exporter, a.env.ex.format);
	goprobes_free();
	stop_loader = NULL;
	loader_stop(&a.loader);
	procinfo_free_all();
	kube_meta_stop();
	cli_free(&a.env);
	return err;
}
