// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests for Kubernetes metadata: container ids from /proc/PID/cgroup
 * (tests/unit/data/cgroup: one file per runtime and driver, with the
 * expected result in its header), pods from API JSON and from OCI bundles
 * (tests/unit/data/k8s), label selectors, service.name's order, the pod
 * cache, and which pods the filters keep.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "cgroup_id.h"
#include "kube_bundle.h"
#include "kube_cache.h"
#include "kube_meta.h"
#include "kube_pod.h"
#include "kube_selector.h"
#include "test.h"

#define DATA "tests/unit/data/"

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, n + 1);
	if (fread(buf, 1, n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

/* "# expect-KEY: value" from a data file's header ("" when empty). */
static void expect(const char *text, const char *key, char *out, size_t size)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "# expect-%s:", key);
	out[0] = '\0';
	p = strstr(text, pat);
	if (!p)
		return;
	p += strlen(pat);
	while (*p == ' ')
		p++;
	snprintf(out, size, "%.*s", (int)strcspn(p, "\n"), p);
}

/* The cgroup file without its '#' header, as the kernel writes it. */
static const char *body(const char *text)
{
	while (*text == '#') {
		const char *nl = strchr(text, '\n');

		if (!nl)
			return "";
		text = nl + 1;
	}
	return text;
}

static bool test_cgroup_files(void)
{
	DIR *d = opendir(DATA "cgroup");
	struct dirent *de;
	int files = 0;

	CHECK(d);
	while ((de = readdir(d))) {
		char path[512], id[128], pod[64], rt[32];
		struct cgroup_ids ids;
		char *text;
		bool found;

		if (!strstr(de->d_name, ".txt"))
			continue;
		snprintf(path, sizeof(path), DATA "cgroup/%s", de->d_name);
		text = slurp(path);
		CHECK(text);
		expect(text, "id", id, sizeof(id));
		expect(text, "pod", pod, sizeof(pod));
		expect(text, "runtime", rt, sizeof(rt));
		found = cgroup_ids_parse(body(text), &ids);
		if (found != (id[0] != '\0') || strcmp(ids.container_id, id) ||
		    strcmp(ids.pod_uid, pod) || strcmp(ids.runtime, rt)) {
			fprintf(stderr, "  %s: got id '%s' pod '%s' runtime '%s'\n",
				de->d_name, ids.container_id, ids.pod_uid, ids.runtime);
			free(text);
			closedir(d);
			return false;
		}
		free(text);
		files++;
	}
	closedir(d);
	CHECK(files >= 10);
	return true;
}

static bool test_cgroup_hostile(void)
{
	struct cgroup_ids ids;
	char big[8192];

	CHECK(!cgroup_ids_parse("", &ids));
	CHECK(!cgroup_ids_parse("garbage without colons\n", &ids));
	CHECK(!cgroup_ids_parse("0::", &ids));
	/* 63 and 65 hex digits, upper case: not ids */
	CHECK(!cgroup_ids_parse("0::/docker/34dc0b5e626f2c5c4c5170e34b10e7654ce36f0fcd532739f4445baabea0337\n", &ids));
	CHECK(!cgroup_ids_parse("0::/docker/34dc0b5e626f2c5c4c5170e34b10e7654ce36f0fcd532739f4445baabea033766\n", &ids));
	CHECK(!cgroup_ids_parse("0::/docker/34DC0B5E626F2C5C4C5170E34B10E7654CE36F0FCD532739F4445BAABEA03376\n", &ids));
	/* a pod uid with no container below it is not reported alone */
	CHECK(!cgroup_ids_parse("0::/kubepods/besteffort/pod74c13223-5a00-11e9-b385-42010a80018d\n", &ids));
	CHECK_STR(ids.pod_uid, "");
	/* a malformed pod uid next to a good id: the id, no pod */
	CHECK(cgroup_ids_parse("0::/kubepods/podnot-a-uid/34dc0b5e626f2c5c4c5170e34b10e7654ce36f0fcd532739f4445baabea03376", &ids));
	CHECK_STR(ids.pod_uid, "");
	/* found by tests/fuzz/fuzz_cgroup.c: a uid bad only in its last
	 * character left the first 35 as the pod's UID */
	CHECK(cgroup_ids_parse("0::/kubepods/pod74c13223-5a00-11e9-b385-42010a80018Z/34dc0b5e626f2c5c4c5170e34b10e7654ce36f0fcd532739f4445baabea03376", &ids));
	CHECK_STR(ids.pod_uid, "");
	CHECK(cgroup_ids_parse("0::/kubepods-besteffort-pod74c13223_5a00_11e9_b385_42010a80018d.slice/x-podaaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeeZ.slice/cri-containerd-34dc0b5e626f2c5c4c5170e34b10e7654ce36f0fcd532739f4445baabea03376.scope", &ids));
	CHECK_STR(ids.pod_uid, "74c13223-5a00-11e9-b385-42010a80018d");
	memset(big, '/', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[0] = '0'; big[1] = ':'; big[2] = ':';
	CHECK(!cgroup_ids_parse(big, &ids));
	return true;
}

static struct kube_pod *pod_file(const char *name)
{
	char path[256], *text;
	struct json_object *o;
	struct kube_pod *p;

	snprintf(path, sizeof(path), DATA "k8s/%s", name);
	text = slurp(path);
	if (!text)
		return NULL;
	o = json_tokener_parse(text);
	free(text);
	p = kube_pod_from_json(o);
	json_object_put(o);
	return p;
}

struct attrs {
	int n;
	char k[32][64], v[32][128];
};

static void collect(void *ctx, const char *key, const char *val)
{
	struct attrs *a = ctx;

	if (a->n < 32) {
		snprintf(a->k[a->n], sizeof(a->k[0]), "%s", key);
		snprintf(a->v[a->n], sizeof(a->v[0]), "%s", val);
		a->n++;
	}
}

static const char *attr(const struct attrs *a, const char *key)
{
	const char *v = NULL;

	for (int i = 0; i < a->n; i++)
		if (strcmp(a->k[i], key) == 0)
			v = a->v[i];	/* the last one written wins, as in a resource */
	return v;
}

static bool test_pod_json(void)
{
	struct kube_pod *p = pod_file("pod-deployment.json");
	struct attrs a = { 0 };
	char dep[64];

	CHECK(p);
	CHECK_STR(p->ns, "demo");
	CHECK_STR(p->name, "service-a-6d8f7b9c4d-x2k8p");
	CHECK_STR(p->uid, "7f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f");
	CHECK_STR(p->node, "node1");
	CHECK_STR(p->owner.kind, "ReplicaSet");
	CHECK_STR(p->owner.name, "service-a-6d8f7b9c4d");
	CHECK_INT(p->n_containers, 3);
	CHECK_STR(kube_pod_container_name(p, "bbbb000000000000000000000000000000000000000000000000000000000002"), "service-a");
	CHECK_STR(kube_pod_container_name(p, "aaaa000000000000000000000000000000000000000000000000000000000001"), "init-iptables");
	CHECK(!kube_pod_container_name(p, "dddd000000000000000000000000000000000000000000000000000000000004"));
	CHECK_STR(kube_pod_label(p, "app"), "service-a");
	/* the API could not be asked: the pod-template-hash names the Deployment */
	CHECK(kube_pod_guess_deployment(p, dep, sizeof(dep)));
	CHECK_STR(dep, "service-a");
	/* before the owner is resolved, no workload: the pod's name */
	CHECK_STR(kube_pod_service_name(p), "service-a-6d8f7b9c4d-x2k8p");
	kube_pod_set_top(p, "Deployment", "service-a");
	CHECK_STR(kube_pod_service_name(p), "service-a");
	kube_pod_attrs(p, "bbbb000000000000000000000000000000000000000000000000000000000002", collect, &a);
	CHECK_STR(attr(&a, "k8s.namespace.name"), "demo");
	CHECK_STR(attr(&a, "k8s.pod.name"), "service-a-6d8f7b9c4d-x2k8p");
	CHECK_STR(attr(&a, "k8s.pod.uid"), "7f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f");
	CHECK_STR(attr(&a, "k8s.container.name"), "service-a");
	CHECK_STR(attr(&a, "k8s.replicaset.name"), "service-a-6d8f7b9c4d");
	CHECK_STR(attr(&a, "k8s.deployment.name"), "service-a");
	CHECK_STR(attr(&a, "deployment.environment.name"), "staging");
	/* well under a KiB, where the JSON is 2 KiB (and real pods' 5-20) */
	fprintf(stderr, "  pod-deployment.json: %zu bytes kept (struct %zu)\n",
		p->bytes, sizeof(*p));
	CHECK(p->bytes < 900);
	kube_pod_unref(p);
	return true;
}

static struct kube_pod *pod_from(const char *json)
{
	struct json_object *o = json_tokener_parse(json);
	struct kube_pod *p = kube_pod_from_json(o);

	json_object_put(o);
	return p;
}

/* The order: annotation, app.kubernetes.io/name, workload, pod name. */
static bool test_service_name_order(void)
{
	struct kube_pod *p;

	p = pod_from("{\"metadata\":{\"name\":\"web-0\",\"namespace\":\"n\",\"uid\":\"u\","
		     "\"labels\":{\"app.kubernetes.io/name\":\"web\"},"
		     "\"annotations\":{\"resource.opentelemetry.io/service.name\":\"frontend\"},"
		     "\"ownerReferences\":[{\"kind\":\"StatefulSet\",\"name\":\"web-ss\",\"controller\":true}]}}");
	CHECK(p);
	CHECK_STR(kube_pod_service_name(p), "frontend");
	kube_pod_unref(p);
	p = pod_from("{\"metadata\":{\"name\":\"web-0\",\"namespace\":\"n\",\"uid\":\"u\","
		     "\"labels\":{\"app.kubernetes.io/name\":\"web\"},"
		     "\"ownerReferences\":[{\"kind\":\"StatefulSet\",\"name\":\"web-ss\",\"controller\":true}]}}");
	CHECK_STR(kube_pod_service_name(p), "web");
	kube_pod_unref(p);
	p = pod_from("{\"metadata\":{\"name\":\"web-0\",\"namespace\":\"n\",\"uid\":\"u\","
		     "\"ownerReferences\":[{\"kind\":\"StatefulSet\",\"name\":\"web-ss\",\"controller\":true}]}}");
	CHECK_STR(kube_pod_service_name(p), "web-ss");
	kube_pod_unref(p);
	/* a non-controller owner does not count */
	p = pod_from("{\"metadata\":{\"name\":\"web-0\",\"namespace\":\"n\",\"uid\":\"u\","
		     "\"ownerReferences\":[{\"kind\":\"StatefulSet\",\"name\":\"web-ss\"}]}}");
	CHECK_STR(kube_pod_service_name(p), "web-0");
	CHECK(!p->owner.kind);
	kube_pod_unref(p);
	/* a CronJob's job: the CronJob, and both names as attributes */
	p = pod_from("{\"metadata\":{\"name\":\"nightly-29000000-abcde\",\"namespace\":\"n\",\"uid\":\"u\","
		     "\"ownerReferences\":[{\"kind\":\"Job\",\"name\":\"nightly-29000000\",\"controller\":true}]}}");
	CHECK_STR(kube_pod_service_name(p), "nightly-29000000");
	kube_pod_set_top(p, "CronJob", "nightly");
	CHECK_STR(kube_pod_service_name(p), "nightly");
	{
		struct attrs a = { 0 };

		kube_pod_attrs(p, NULL, collect, &a);
		CHECK_STR(attr(&a, "k8s.job.name"), "nightly-29000000");
		CHECK_STR(attr(&a, "k8s.cronjob.name"), "nightly");
		CHECK(!attr(&a, "k8s.container.name"));
	}
	kube_pod_unref(p);
	/* an empty annotation or label is not a name */
	p = pod_from("{\"metadata\":{\"name\":\"x\",\"namespace\":\"n\",\"uid\":\"u\","
		     "\"labels\":{\"app.kubernetes.io/name\":\"\"},"
		     "\"annotations\":{\"resource.opentelemetry.io/service.name\":\"\"}}}");
	CHECK_STR(kube_pod_service_name(p), "x");
	kube_pod_unref(p);
	return true;
}

static bool test_pod_json_hostile(void)
{
	struct kube_pod *p;
	char big[16384];
	int n;

	CHECK(!pod_from("{}"));
	CHECK(!pod_from("[]"));
	CHECK(!pod_from("{\"metadata\":{\"name\":1,\"namespace\":\"n\",\"uid\":\"u\"}}"));
	CHECK(!kube_pod_from_json(NULL));
	/* wrong types everywhere else are ignored, not trusted */
	p = pod_from("{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\",\"uid\":\"u\","
		     "\"labels\":[1,2],\"annotations\":\"x\",\"ownerReferences\":{}},"
		     "\"spec\":7,\"status\":{\"containerStatuses\":[1,{\"name\":\"c\","
		     "\"containerID\":\"containerd://short\"},{\"containerID\":\"x\"}]}}");
	CHECK(p);
	CHECK_INT(p->n_labels, 0);
	CHECK_INT(p->n_containers, 1);
	CHECK_STR(p->containers[0].id, "");
	kube_pod_unref(p);
	/* more labels than kept: the first KUBE_MAX_LABELS */
	n = snprintf(big, sizeof(big), "{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\",\"uid\":\"u\",\"labels\":{");
	for (int i = 0; i < 100; i++)
		n += snprintf(big + n, sizeof(big) - n, "%s\"l%d\":\"v\"", i ? "," : "", i);
	snprintf(big + n, sizeof(big) - n, "}}}");
	p = pod_from(big);
	CHECK(p);
	CHECK_INT(p->n_labels, KUBE_MAX_LABELS);
	kube_pod_unref(p);
	return true;
}

static bool sel_match(const char *sel, const char *labels_json, bool *out)
{
	char json[1024], err[128];
	struct kube_selector *s = kube_selector_parse(sel, err, sizeof(err));
	struct kube_pod *p;

	if (!s) {
		fprintf(stderr, "  selector '%s': %s\n", sel, err);
		return false;
	}
	snprintf(json, sizeof(json), "{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\","
		 "\"uid\":\"u\",\"labels\":%s}}", labels_json);
	p = pod_from(json);
	*out = kube_selector_match(s, p);
	kube_pod_unref(p);
	kube_selector_free(s);
	return true;
}

#define SEL(sel, labels, want)                                               \
	do {                                                                 \
		bool got_;                                                   \
		CHECK(sel_match(sel, labels, &got_));                        \
		if (got_ != (want)) {                                        \
			fprintf(stderr, "  '%s' on %s: got %d\n", sel, labels, got_); \
			return false;                                        \
		}                                                            \
	} while (0)

static bool test_selector(void)
{
	const char *l = "{\"app\":\"web\",\"tier\":\"front\",\"app.kubernetes.io/part-of\":\"shop\"}";
	char err[128];

	SEL("", l, true);
	SEL("app=web", l, true);
	SEL("app==web", l, true);
	SEL("app = web , tier=front", l, true);
	SEL("app=db", l, false);
	SEL("app!=db", l, true);
	SEL("missing!=x", l, true);		/* absent: != holds */
	SEL("app", l, true);
	SEL("!app", l, false);
	SEL("!missing", l, true);
	SEL("tier in (front,back)", l, true);
	SEL("tier in (back)", l, false);
	SEL("tier notin (back)", l, true);
	SEL("missing notin (x)", l, true);
	SEL("missing in (x)", l, false);
	SEL("app.kubernetes.io/part-of=shop", l, true);
	SEL("app=web,tier notin (front)", l, false);
	SEL("app=", "{\"app\":\"\"}", true);
	CHECK(!kube_selector_parse("app=web,", err, sizeof(err)));
	CHECK(!kube_selector_parse("=web", err, sizeof(err)));
	CHECK(!kube_selector_parse("app in front", err, sizeof(err)));
	CHECK(!kube_selector_parse("app in (a,b", err, sizeof(err)));
	CHECK(!kube_selector_parse("app > 3", err, sizeof(err)));
	CHECK(!kube_selector_parse("a b", err, sizeof(err)));
	return true;
}

static bool test_bundles(void)
{
	char *text = slurp(DATA "k8s/bundle-containerd.json");
	const char *cid = "bbbb000000000000000000000000000000000000000000000000000000000002";
	struct kube_pod *p;

	CHECK(text);
	p = kube_bundle_parse(text, cid);
	free(text);
	CHECK(p);
	CHECK(p->partial);
	CHECK_STR(p->ns, "demo");
	CHECK_STR(p->name, "service-b-5c9d8e7f6a-q9w8e");
	CHECK_STR(p->uid, "2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d");
	CHECK_STR(kube_pod_container_name(p, cid), "service-b");
	/* no labels and no owner: the pod's name, never a guess */
	CHECK_STR(kube_pod_service_name(p), "service-b-5c9d8e7f6a-q9w8e");
	kube_pod_unref(p);

	text = slurp(DATA "k8s/bundle-crio.json");
	CHECK(text);
	p = kube_bundle_parse(text, cid);
	free(text);
	CHECK(p);
	CHECK_STR(p->ns, "demo");
	CHECK_STR(p->name, "service-c-7b6a5c4d3e-z1x2c");
	CHECK_STR(kube_pod_container_name(p, cid), "service-c");
	kube_pod_unref(p);

	/* a container that is not Kubernetes' (plain podman) */
	CHECK(!kube_bundle_parse("{\"annotations\":{\"org.opencontainers.image.stopSignal\":\"15\"}}", cid));
	CHECK(!kube_bundle_parse("not json", cid));
	CHECK(!kube_bundle_pod("/nonexistent", cid));
	return true;
}

static bool test_cache(void)
{
	struct kube_pod *p = pod_file("pod-deployment.json"), *q, *got;
	const char *cid = "bbbb000000000000000000000000000000000000000000000000000000000002";
	struct kube_cache_stats st;
	uint64_t g0 = kube_cache_generation();

	CHECK(p);
	kube_cache_begin();
	kube_cache_put(p);
	kube_cache_commit();
	CHECK(kube_cache_generation() != g0);
	got = kube_cache_by_container(cid);
	CHECK(got == p);
	kube_pod_unref(got);
	got = kube_cache_by_uid("7f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f");
	CHECK(got == p);
	kube_pod_unref(got);

	/* an update with a new container id replaces the index entries */
	q = pod_file("pod-deployment.json");
	strcpy(q->containers[1].id, "eeee000000000000000000000000000000000000000000000000000000000005");
	kube_cache_put(q);
	CHECK(!kube_cache_by_container(cid));
	got = kube_cache_by_container("eeee000000000000000000000000000000000000000000000000000000000005");
	CHECK(got == q);
	kube_pod_unref(got);
	kube_cache_get_stats(&st);
	CHECK_INT(st.pods, 1);

	/* a relist that no longer has it drops it */
	kube_cache_begin();
	kube_cache_commit();
	CHECK(!kube_cache_by_uid("7f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f"));
	kube_cache_get_stats(&st);
	CHECK_INT(st.pods, 0);
	CHECK_INT(st.bytes, 0);

	p = pod_file("pod-deployment.json");
	kube_cache_put(p);
	kube_cache_delete("7f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f");
	kube_cache_delete("no-such-uid");
	CHECK(!kube_cache_by_container("aaaa000000000000000000000000000000000000000000000000000000000001"));
	kube_cache_clear();
	return true;
}

/* Which pods the filters keep (no API: the node's files, which the test
 * never finds; kube_meta_wanted is given pods directly). */
static bool wanted_with(struct kube_opts *o, struct kube_pod *p, bool in_container, bool *out)
{
	if (kube_meta_start(o))
		return false;
	*out = kube_meta_wanted(p, in_container);
	kube_meta_stop();
	return true;
}

#define WANTED(o, p, inc, want)                                              \
	do {                                                                 \
		bool got_;                                                   \
		CHECK(wanted_with(o, p, inc, &got_));                        \
		CHECK_INT(got_, want);                                       \
	} while (0)

static bool test_filters(void)
{
	struct kube_pod *p = pod_file("pod-deployment.json");
	struct kube_pod *sys = pod_from("{\"metadata\":{\"name\":\"coredns-1\",\"namespace\":\"kube-system\",\"uid\":\"s\"}}");
	struct kube_opts o = { .mode = KUBE_AUTO };

	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("POD_NAME");
	unsetenv("POD_NAMESPACE");
	CHECK(p && sys);
	WANTED(&o, p, true, true);
	WANTED(&o, sys, true, false);		/* kube-system by default */
	WANTED(&o, NULL, false, true);		/* the node's own processes */
	WANTED(&o, NULL, true, true);		/* a container of no known pod */

	o.exclude_set = true;			/* --exclude-namespace '' */
	WANTED(&o, sys, true, true);
	o.exclude[0] = "demo";
	o.n_exclude = 1;
	WANTED(&o, p, true, false);
	o.n_exclude = 0;

	o.namespaces[0] = "demo";
	o.n_namespaces = 1;
	WANTED(&o, p, true, true);
	WANTED(&o, sys, true, false);
	WANTED(&o, NULL, true, false);		/* unknown pod: not picked */
	WANTED(&o, NULL, false, true);		/* but the node's processes are */
	o.pods_only = true;
	WANTED(&o, NULL, false, false);
	o.pods_only = false;
	o.n_namespaces = 0;

	o.selector = "app=service-a,version in (v1,v2)";
	WANTED(&o, p, true, true);
	o.selector = "app=service-b";
	WANTED(&o, p, true, false);
	p->partial = true;			/* no labels to judge: left out */
	o.selector = "app=service-a";
	WANTED(&o, p, true, false);
	p->partial = false;
	o.selector = "app in (";
	CHECK(kube_meta_start(&o) == -1);	/* a syntax error stops weft */
	kube_meta_stop();
	o.selector = NULL;

	o.opt_in = true;
	WANTED(&o, p, true, false);
	p->trace = strdup("true");
	WANTED(&o, p, true, true);
	o.opt_in = false;
	free(p->trace);
	p->trace = strdup("false");		/* opt-out always holds */
	WANTED(&o, p, true, false);
	free(p->trace);
	p->trace = NULL;

	setenv("POD_NAMESPACE", "demo", 1);	/* weft's own pod */
	setenv("POD_NAME", "service-a-6d8f7b9c4d-x2k8p", 1);
	WANTED(&o, p, true, false);
	unsetenv("POD_NAME");
	unsetenv("POD_NAMESPACE");

	o.mode = KUBE_OFF;			/* nothing is left out */
	WANTED(&o, sys, true, true);
	o.mode = KUBE_ON;			/* no API address: an error */
	CHECK(kube_meta_start(&o) == -1);
	kube_meta_stop();
	kube_pod_unref(p);
	kube_pod_unref(sys);
	return true;
}

int main(void)
{
	RUN(test_cgroup_files);
	RUN(test_cgroup_hostile);
	RUN(test_pod_json);
	RUN(test_service_name_order);
	RUN(test_pod_json_hostile);
	RUN(test_selector);
	RUN(test_bundles);
	RUN(test_cache);
	RUN(test_filters);
	return TEST_SUMMARY();
}
