// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The exporter thread and its queue. Producers append spans to an open
 * batch under a mutex and never wait on the network; the thread closes
 * batches by size or age, encodes and gzips them once, and POSTs them,
 * retrying as the OTLP/HTTP specification allows. At most queue_batches
 * closed batches exist at a time (the one being retried included): a new
 * batch that finds no room pushes out the oldest, and its spans are counted.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "util.h"
#include "exporter.h"
#include "exporter_http.h"
#include "otlp.h"
#include "zipkin.h"

#define BACKOFF_INITIAL_MS	500
#define BACKOFF_MAX_MS		30000
#define NS_PER_MS		1000000ULL
#define NEVER			UINT64_MAX

struct batch {
	struct span **spans;	/* freed once encoded */
	int n;
	uint64_t opened_ns;
	uint8_t *body;		/* encoded (and maybe gzipped) request */
	size_t body_len;
	int attempts;
	uint64_t first_try_ns;
	uint64_t next_try_ns;
	bool evicted;		/* pushed out while the thread was sending it */
};

struct exporter {
	struct exporter_config cfg;
	pthread_mutex_t lock;
	pthread_cond_t wake;	/* CLOCK_MONOTONIC */
	pthread_t thread;
	struct batch *cur;	/* open, filled by exporter_submit */
	struct batch **queue;	/* ring of cfg.queue_batches closed batches */
	int qhead, qlen;
	struct batch *inflight;	/* taken off the queue by the thread */
	bool busy;		/* thread works on inflight without the lock */
	bool stopping;
	uint64_t deadline_ns;	/* flush deadline, set by exporter_stop */
	bool failing;		/* in a streak of failed requests */
	uint64_t fail_streak;
	uint64_t rng;
	struct exporter_stats st;
	struct http_client *http;
};

static void batch_free(struct batch *b)
{
	if (!b)
		return;
	for (int i = 0; b->spans && i < b->n; i++)
		span_free(b->spans[i]);
	free(b->spans);
	free(b->body);
	free(b);
}

/* Frees b and adds its spans to one of the drop counters. */
static void batch_drop(struct batch *b, uint64_t *counter)
{
	*counter += b->n;
	batch_free(b);
}

static struct batch *queue_pop(struct exporter *e)
{
	struct batch *b = e->queue[e->qhead];

	e->qhead = (e->qhead + 1) % e->cfg.queue_batches;
	e->qlen--;
	return b;
}

static int batches_held(const struct exporter *e)
{
	return e->qlen + (e->inflight && !e->inflight->evicted);
}

/*
 * Makes room for one more closed batch by dropping the oldest. The batch
 * being retried is the oldest; while it is on the wire it can't be freed,
 * so the next one goes instead, or — with nothing queued — it is marked
 * and dropped (or counted as exported) when the request returns.
 */
static void make_room(struct exporter *e)
{
	while (batches_held(e) >= e->cfg.queue_batches) {
		if (e->inflight && !e->inflight->evicted && !e->busy) {
			batch_drop(e->inflight, &e->st.spans_dropped_queue);
			e->inflight = NULL;
		} else if (e->qlen) {
			batch_drop(queue_pop(e), &e->st.spans_dropped_queue);
		} else {
			e->inflight->evicted = true;
		}
	}
}

static void close_cur(struct exporter *e)
{
	if (!e->cur)
		return;
	make_room(e);
	e->queue[(e->qhead + e->qlen) % e->cfg.queue_batches] = e->cur;
	e->qlen++;
	e->cur = NULL;
	pthread_cond_signal(&e->wake);
}

void exporter_submit(struct exporter *e, struct span *s)
{
	if (!e) {
		span_free(s);
		return;
	}
	pthread_mutex_lock(&e->lock);
	e->st.spans_in++;
	if (e->stopping) {
		e->st.spans_dropped_shutdown++;
		span_free(s);
		goto out;
	}
	if (!e->cur) {
		e->cur = calloc(1, sizeof(*e->cur));
		if (e->cur)
			e->cur->spans = calloc(e->cfg.batch_size, sizeof(s));
		if (!e->cur || !e->cur->spans) {
			free(e->cur);
			e->cur = NULL;
			e->st.spans_dropped_error++;
			span_free(s);
			goto out;
		}
		e->cur->opened_ns = now_mono_ns();
		pthread_cond_signal(&e->wake);	/* start the age timer */
	}
	e->cur->spans[e->cur->n++] = s;
	if (e->cur->n >= e->cfg.batch_size)
		close_cur(e);
out:
	pthread_mutex_unlock(&e->lock);
}

void exporter_get_stats(struct exporter *e, struct exporter_stats *out)
{
	if (!e) {
		memset(out, 0, sizeof(*out));
		return;
	}
	pthread_mutex_lock(&e->lock);
	*out = e->st;
	pthread_mutex_unlock(&e->lock);
}

/* Called by curl from inside a request: past the deadline, give up. */
static int past_deadline(void *arg)
{
	struct exporter *e = arg;

	return __atomic_load_n(&e->stopping, __ATOMIC_ACQUIRE) &&
	       now_mono_ns() >= __atomic_load_n(&e->deadline_ns, __ATOMIC_ACQUIRE);
}

static void wait_until(struct exporter *e, uint64_t when)
{
	struct timespec ts;

	if (when == NEVER) {
		pthread_cond_wait(&e->wake, &e->lock);
		return;
	}
	ts.tv_sec = when / 1000000000ULL;
	ts.tv_nsec = when % 1000000000ULL;
	pthread_cond_timedwait(&e->wake, &e->lock, &ts);
}

static uint64_t min3(uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t m = a < b ? a : b;

	return m < c ? m : c;
}

/* "Full jitter": uniform in [0, min(max, initial * 2^attempt)]. */
static uint64_t backoff_ms(struct exporter *e, int attempt)
{
	uint64_t cap = BACKOFF_INITIAL_MS;

	for (int i = 1; i < attempt && cap < BACKOFF_MAX_MS; i++)
		cap *= 2;
	if (cap > BACKOFF_MAX_MS)
		cap = BACKOFF_MAX_MS;
	/* xorshift64: jitter needs spread, not cryptographic quality. */
	e->rng ^= e->rng << 13;
	e->rng ^= e->rng >> 7;
	e->rng ^= e->rng << 17;
	return e->rng % (cap + 1);
}

/* Encodes the batch once, so retries resend the same bytes. */
static int batch_encode(struct exporter *e, struct batch *b)
{
	uint8_t *raw, *gz;
	size_t raw_len, gz_len;
	int err;

	err = e->cfg.format == EXPORTER_ZIPKIN ?
	      zipkin_encode(b->spans, b->n, &e->cfg, &raw, &raw_len) :
	      otlp_encode(b->spans, b->n, &e->cfg, &raw, &raw_len);
	if (err)
		return err;
	if (e->cfg.gzip) {
		err = gzip_compress(raw, raw_len, &gz, &gz_len);
		free(raw);
		if (err)
			return err;
		raw = gz;
		raw_len = gz_len;
	}
	for (int i = 0; i < b->n; i++)
		span_free(b->spans[i]);
	free(b->spans);
	b->spans = NULL;
	b->body = raw;
	b->body_len = raw_len;
	return 0;
}

/* A printable prefix of a response body for a one-line error message. */
static void snippet(const struct http_result *res, char *out, size_t size)
{
	size_t n = 0;

	for (size_t i = 0; i < res->body_len && n + 1 < size; i++) {
		char c = res->body[i];

		out[n++] = c >= ' ' && c < 127 ? c : '.';
	}
	out[n] = '\0';
}

static bool status_retryable(long status)
{
	return status == 429 || status == 502 || status == 503 || status == 504;
}

static void log_failure(struct exporter *e, const struct http_result *res,
			const char *what)
{
	char body[201];

	if (res->curl_err) {
		fprintf(stderr, "weft: export to %s failed: %s; %s\n",
			e->cfg.endpoint, res->error, what);
	} else {
		snippet(res, body, sizeof(body));
		fprintf(stderr, "weft: export to %s failed: HTTP %ld \"%s\"; %s\n",
			e->cfg.endpoint, res->status, body, what);
	}
}

static void on_success(struct exporter *e, struct batch *b,
		       const struct http_result *res)
{
	int64_t rejected = 0;
	char *msg = NULL;

	if (e->failing)
		fprintf(stderr, "weft: export to %s recovered after %llu failed requests\n",
			e->cfg.endpoint, (unsigned long long)e->fail_streak);
	e->failing = false;
	e->fail_streak = 0;
	/* An unreadable 2xx body still means the spans were accepted.
	 * Zipkin answers 202 with no body: it has no partial success. */
	if (e->cfg.format != EXPORTER_ZIPKIN)
		otlp_decode_response((const uint8_t *)res->body, res->body_len,
				     &rejected, &msg);
	if (rejected < 0)
		rejected = 0;
	if (rejected > b->n)
		rejected = b->n;
	if (rejected || msg)
		fprintf(stderr, "weft: collector rejected %lld of %d spans: %s\n",
			(long long)rejected, b->n, msg ? msg : "(no message)");
	free(msg);
	e->st.spans_rejected += rejected;
	e->st.spans_exported += b->n - rejected;
}

/* Accounts for one finished request; called with the lock held. */
static void finish(struct exporter *e, struct batch *b,
		   const struct http_result *res)
{
	uint64_t now = now_mono_ns(), delay_ms;
	bool ok = !res->curl_err && res->status >= 200 && res->status < 300;
	enum http_failure f = res->curl_err ? http_classify(res->curl_err) :
			      status_retryable(res->status) ? HTTP_FAIL_RETRY :
							      HTTP_FAIL_FATAL;

	e->st.requests++;
	e->st.status_class[res->status >= 100 && res->status < 600 ? res->status / 100 : 0]++;
	if (ok) {
		on_success(e, b, res);
		goto done;
	}
	e->st.export_errors++;
	if (b->evicted) {
		batch_drop(b, &e->st.spans_dropped_queue);
		e->inflight = NULL;
		return;
	}
	if (f == HTTP_FAIL_ABORTED)
		return;		/* the deadline passed: the loop drops it */
	if (f == HTTP_FAIL_FATAL) {
		log_failure(e, res, "dropping the batch");
		e->st.spans_dropped_error += b->n;
		goto done;
	}
	delay_ms = res->retry_after_ms >= 0 ? (uint64_t)res->retry_after_ms :
					      backoff_ms(e, b->attempts);
	if (now + delay_ms * NS_PER_MS - b->first_try_ns >
	    (uint64_t)e->cfg.retry_max_ms * NS_PER_MS) {
		log_failure(e, res, "retried too long, dropping the batch");
		e->st.spans_dropped_error += b->n;
		goto done;
	}
	if (!e->failing)
		log_failure(e, res, "retrying (further failures are counted, not logged)");
	e->failing = true;
	e->fail_streak++;
	e->st.retries++;
	b->next_try_ns = now + delay_ms * NS_PER_MS;
	return;
done:
	batch_free(b);
	e->inflight = NULL;
}

/* One attempt at the in-flight batch; called and returns with the lock
 * held, drops it for the encoding and the request. */
static void attempt(struct exporter *e, struct batch *b)
{
	struct http_result res;
	uint64_t now = now_mono_ns();
	int timeout_ms = e->cfg.timeout_ms;

	if (e->stopping) {
		uint64_t left = e->deadline_ns > now ? e->deadline_ns - now : 0;

		if (left / NS_PER_MS < (uint64_t)timeout_ms)
			timeout_ms = left / NS_PER_MS + 1;
	}
	e->busy = true;
	pthread_mutex_unlock(&e->lock);

	if (!b->body && batch_encode(e, b)) {
		pthread_mutex_lock(&e->lock);
		e->busy = false;
		fprintf(stderr, "weft: failed to encode %d spans: out of memory\n", b->n);
		batch_drop(b, &e->st.spans_dropped_error);
		e->inflight = NULL;
		return;
	}
	if (!b->attempts++)
		b->first_try_ns = now;
	http_post(e->http, b->body, b->body_len, e->cfg.gzip, timeout_ms, &res);

	pthread_mutex_lock(&e->lock);
	e->busy = false;
	finish(e, b, &res);
	http_result_clear(&res);
}

static void *run(void *arg)
{
	struct exporter *e = arg;

	pthread_mutex_lock(&e->lock);
	for (;;) {
		uint64_t now = now_mono_ns(), cur_due = NEVER;

		if (e->stopping && now >= e->deadline_ns)
			break;
		if (e->cur) {
			cur_due = e->cur->opened_ns +
				  (uint64_t)e->cfg.batch_timeout_ms * NS_PER_MS;
			if (e->stopping || now >= cur_due) {
				close_cur(e);
				cur_due = NEVER;
			}
		}
		if (!e->inflight && e->qlen)
			e->inflight = queue_pop(e);
		if (e->inflight) {
			if (e->inflight->next_try_ns > now)
				wait_until(e, min3(e->inflight->next_try_ns, cur_due,
						   e->stopping ? e->deadline_ns : NEVER));
			else
				attempt(e, e->inflight);
			continue;
		}
		if (e->stopping)
			break;		/* everything is out */
		wait_until(e, cur_due);
	}
	/* The deadline passed: whatever is left was not delivered. */
	if (e->inflight)
		batch_drop(e->inflight, &e->st.spans_dropped_shutdown);
	e->inflight = NULL;
	while (e->qlen)
		batch_drop(queue_pop(e), &e->st.spans_dropped_shutdown);
	if (e->cur)
		batch_drop(e->cur, &e->st.spans_dropped_shutdown);
	e->cur = NULL;
	pthread_mutex_unlock(&e->lock);
	return NULL;
}

struct exporter *exporter_start(const struct exporter_config *cfg)
{
	struct exporter *e;
	pthread_condattr_t ca;
	int err;

	if (!cfg->endpoint) {
		fprintf(stderr, "weft: no export endpoint configured\n");
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	exporter_config_copy(&e->cfg, cfg);
	/* Zero or negative limits would mean "unbounded" or divide by zero. */
	if (e->cfg.batch_size < 1)
		e->cfg.batch_size = 1;
	if (e->cfg.queue_batches < 1)
		e->cfg.queue_batches = 1;
	if (e->cfg.timeout_ms < 1)
		e->cfg.timeout_ms = 1;
	if (e->cfg.batch_timeout_ms < 0)
		e->cfg.batch_timeout_ms = 0;
	if (e->cfg.shutdown_ms < 0)
		e->cfg.shutdown_ms = 0;
	e->rng = now_mono_ns() | 1;
	e->queue = calloc(e->cfg.queue_batches, sizeof(*e->queue));
	e->http = http_client_new(&e->cfg, past_deadline, e);
	if (!e->queue || !e->http)
		goto fail;
	pthread_mutex_init(&e->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&e->wake, &ca);
	pthread_condattr_destroy(&ca);
	err = pthread_create(&e->thread, NULL, run, e);
	if (err) {
		fprintf(stderr, "weft: failed to start the exporter thread: %s\n",
			strerror(err));
		pthread_cond_destroy(&e->wake);
		pthread_mutex_destroy(&e->lock);
		goto fail;
	}
	return e;
fail:
	http_client_free(e->http);
	free(e->queue);
	exporter_config_free(&e->cfg);
	free(e);
	return NULL;
}

void exporter_stop(struct exporter *e)
{
	exporter_stop_stats(e, NULL);
}

void exporter_stop_stats(struct exporter *e, struct exporter_stats *final)
{
	if (!e) {
		if (final)
			memset(final, 0, sizeof(*final));
		return;
	}
	pthread_mutex_lock(&e->lock);
	__atomic_store_n(&e->deadline_ns,
			 now_mono_ns() + (uint64_t)e->cfg.shutdown_ms * NS_PER_MS,
			 __ATOMIC_RELEASE);
	__atomic_store_n(&e->stopping, true, __ATOMIC_RELEASE);
	pthread_cond_signal(&e->wake);
	pthread_mutex_unlock(&e->lock);
	pthread_join(e->thread, NULL);
	if (final)
		*final = e->st;

	http_client_free(e->http);
	free(e->queue);
	pthread_cond_destroy(&e->wake);
	pthread_mutex_destroy(&e->lock);
	exporter_config_free(&e->cfg);
	free(e);
}
