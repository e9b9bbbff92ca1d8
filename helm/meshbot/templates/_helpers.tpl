{{/* Names, labels, and the values every template agrees on. */}}

{{- define "meshbot.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "meshbot.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "meshbot.labels" -}}
{{ include "meshbot.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "meshbot.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "meshbot.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "meshbot.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* "true" when REDIS_URL reaches the pods: from the Secret (redis.external), or in the
     Secret the chart creates. */}}
{{- define "meshbot.sharedRedis" -}}
{{- if or .Values.redis.external (and .Values.secret.create (hasKey .Values.secret.data "REDIS_URL")) -}}
true
{{- end -}}
{{- end -}}

{{- define "meshbot.embeddedStore" -}}
{{- if and (not (include "meshbot.sharedRedis" .)) .Values.redis.persistence.enabled -}}
true
{{- end -}}
{{- end -}}

{{/* Refusals with a message, before anything is rendered. */}}
{{- define "meshbot.validate" -}}
{{- if and (gt (int .Values.replicas) 1) (not (include "meshbot.sharedRedis" .)) -}}
{{- fail (printf "meshbot: replicas: %d needs a shared Redis, or each replica would keep its own state (changes, approvals, leases) and act on its own. Set redis.external: true with REDIS_URL in the Secret %q (key %q), or replicas: 1 to use the embedded store on a PersistentVolumeClaim." (int .Values.replicas) .Values.secret.name (index .Values.secret.keys "REDIS_URL" | default "REDIS_URL")) -}}
{{- end -}}
{{- if and .Values.secret.create (not (hasKey .Values.secret.data "SLACK_BOT_TOKEN")) -}}
{{- fail "meshbot: secret.create: true needs secret.data.SLACK_BOT_TOKEN (or create the Secret yourself and set secret.create: false, see README 'Install in a cluster')" -}}
{{- end -}}
{{- if and .Values.ingress.enabled (ne .Values.mode "http") -}}
{{- fail "meshbot: ingress.enabled needs mode: http (Socket Mode takes no inbound requests)" -}}
{{- end -}}
{{- end -}}

{{/* meshbot's config file: the user's `config`, the in-cluster entry, and what the
     chart owns (listen addresses the probes and Service use, the data directory). */}}
{{- define "meshbot.config" -}}
{{- $config := deepCopy (.Values.config | default dict) -}}
{{- $clusters := deepCopy (get $config "clusters" | default dict) -}}
{{- if .Values.inCluster.enabled -}}
{{- $_ := set $clusters .Values.inCluster.name (merge (dict "in_cluster" true) (deepCopy (.Values.inCluster.settings | default dict))) -}}
{{- end -}}
{{- $_ := set $config "clusters" $clusters -}}
{{- $_ := set $config "health" (dict "host" "0.0.0.0" "port" (int .Values.ports.health)) -}}
{{- $http := deepCopy (get $config "http" | default dict) -}}
{{- $_ := set $http "host" "0.0.0.0" -}}
{{- $_ := set $http "port" (int .Values.ports.http) -}}
{{- $_ := set $config "http" $http -}}
{{- $redis := deepCopy (get $config "redis" | default dict) -}}
{{- $_ := set $redis "data_dir" "/var/lib/meshbot" -}}
{{- $_ := set $config "redis" $redis -}}
{{- toYaml $config -}}
{{- end -}}
