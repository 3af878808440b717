/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the node itself knows about a container, for when the API server
 * cannot be asked (weft run by hand on one node, or the API down): the
 * container runtime writes the pod's namespace, name and UID and the
 * container's name as annotations into the OCI bundle's config.json.
 *   containerd: /run/containerd/io.containerd.runtime.v2.task/k8s.io/<id>/config.json
 *               io.kubernetes.cri.{sandbox-namespace,sandbox-name,sandbox-uid,container-name}
 *   CRI-O:      /run/containers/storage/overlay-containers/<id>/userdata/config.json
 *               io.kubernetes.{pod.namespace,pod.name,pod.uid,container.name}
 * Read through /proc/1/root when weft runs in a container with the host's
 * pid namespace, so the host's /run is seen without mounting it.
 */
#ifndef WEFT_KUBE_BUNDLE_H
#define WEFT_KUBE_BUNDLE_H

#include "kube_pod.h"

/* A partial pod (namespace, name, uid, the one container), or NULL when no
 * runtime's bundle for cid names a pod. root: "" or a prefix such as
 * "/proc/1/root". */
struct kube_pod *kube_bundle_pod(const char *root, const char *cid);
/* The same from a config.json's text (for tests). */
struct kube_pod *kube_bundle_parse(const char *json_text, const char *cid);

#endif /* WEFT_KUBE_BUNDLE_H */
