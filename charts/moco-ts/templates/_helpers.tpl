{{/* Labels on every object of the chart (MOCO's set; name "moco" keeps MOCO's selectors and scrape rules). */}}
{{- define "moco-ts.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: moco
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Selector labels of the controller Pods. */}}
{{- define "moco-ts.selectorLabels" -}}
app.kubernetes.io/component: moco-controller
app.kubernetes.io/name: moco
{{- end }}

{{/*
An image reference from {repository, tag}: an empty repository falls back to
image.repository, an empty tag to image.tag and then to the chart's appVersion.
Call with (dict "image" .Values.x.image "root" $).
*/}}
{{- define "moco-ts.image" -}}
{{- $root := .root -}}
{{- $repo := default $root.Values.image.repository .image.repository -}}
{{- $tag := default (default $root.Chart.AppVersion $root.Values.image.tag) .image.tag -}}
{{- printf "%s:%s" $repo (toString $tag) -}}
{{- end }}
