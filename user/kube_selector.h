/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Kubernetes label selectors, as `kubectl get -l` takes them:
 *   key=value  key==value  key!=value  key  !key
 *   key in (a,b)  key notin (a,b)
 * requirements joined by commas, all of which must hold.
 */
#ifndef WEFT_KUBE_SELECTOR_H
#define WEFT_KUBE_SELECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include "kube_pod.h"

struct kube_selector;

/* NULL on a syntax error, with the reason in err. "" selects everything. */
struct kube_selector *kube_selector_parse(const char *text, char *err, size_t errlen);
bool kube_selector_match(const struct kube_selector *s, const struct kube_pod *p);
void kube_selector_free(struct kube_selector *s);

#endif /* WEFT_KUBE_SELECTOR_H */
