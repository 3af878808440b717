{{/* Names, labels and the pieces of the pod spec more than one template uses. */}}

{{- define "weft.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release name, or <release>-weft when the release name lacks "weft"
(63 characters at most: a label value). */}}
{{- define "weft.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "weft.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "weft.selectorLabels" -}}
app.kubernetes.io/name: {{ include "weft.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "weft.labels" -}}
helm.sh/chart: {{ include "weft.chart" . }}
{{ include "weft.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: node-agent
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "weft.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "weft.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "weft.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The Secret the chart creates from exporter.headers, and the one the
pod reads OTEL_EXPORTER_OTLP_HEADERS from. */}}
{{- define "weft.createdHeadersSecret" -}}
{{- printf "%s-otlp-headers" (include "weft.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "weft.headersSecretName" -}}
{{- default (include "weft.createdHeadersSecret" .) .Values.exporter.headersSecret.name }}
{{- end }}

{{/* exporter.headers as OTEL_EXPORTER_OTLP_HEADERS: k=v pairs joined by
commas, keys sorted, values percent-encoded where the list syntax needs it
(weft percent-decodes them). */}}
{{- define "weft.headersValue" -}}
{{- $pairs := list }}
{{- range $k, $v := .Values.exporter.headers }}
{{- $enc := toString $v | replace "%" "%25" | replace "," "%2C" | replace " " "%20" | replace "=" "%3D" }}
{{- $pairs = append $pairs (printf "%s=%s" $k $enc) }}
{{- end }}
{{- join "," $pairs }}
{{- end }}

{{/* exporter.resourceAttributes as OTEL_RESOURCE_ATTRIBUTES. */}}
{{- define "weft.resourceAttributes" -}}
{{- $pairs := list }}
{{- range $k, $v := .Values.exporter.resourceAttributes }}
{{- $enc := toString $v | replace "%" "%25" | replace "," "%2C" | replace " " "%20" | replace "=" "%3D" }}
{{- $pairs = append $pairs (printf "%s=%s" $k $enc) }}
{{- end }}
{{- join "," $pairs }}
{{- end }}

{{/* A seccomp or AppArmor profile object: {type, localhostProfile}. */}}
{{- define "weft.profile" -}}
type: {{ .type }}
{{- if eq .type "Localhost" }}
localhostProfile: {{ required (printf "%s is Localhost: set its localhost profile" .what) .localhost }}
{{- end }}
{{- end }}

{{/* The AppArmor profile goes in the securityContext field from
Kubernetes 1.30; older API servers take it as a pod annotation only. */}}
{{- define "weft.appArmorField" -}}
{{- semverCompare ">=1.30.0-0" .Capabilities.KubeVersion.Version }}
{{- end }}
