{{/* Chart name, truncated to 63 characters (a DNS label). */}}
{{- define "rro.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the release's objects: fullnameOverride, else the release name when it already
contains the chart name, else "<release>-<chart>".
*/}}
{{- define "rro.fullname" -}}
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

{{- define "rro.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Standard labels of every object. */}}
{{- define "rro.labels" -}}
helm.sh/chart: {{ include "rro.chart" . }}
{{ include "rro.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: redis-replication-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Selector labels (stable across upgrades). */}}
{{- define "rro.selectorLabels" -}}
app.kubernetes.io/name: {{ include "rro.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "rro.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "rro.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "rro.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion | toString) }}
{{- end }}

{{/* "true" when the operator runs leader election: several replicas, or asked for. */}}
{{- define "rro.leaderElect" -}}
{{- if or (gt (int .Values.replicaCount) 1) .Values.leaderElection.enabled }}true{{ else }}false{{ end }}
{{- end }}

{{- define "rro.leaseName" -}}
{{- default (include "rro.fullname" .) .Values.leaderElection.leaseName }}
{{- end }}

{{/* A name with a suffix that still fits a DNS label (63): the full name is shortened first. */}}
{{- define "rro.suffixed" -}}
{{- $root := index . 0 }}{{- $suffix := index . 1 }}
{{- printf "%s-%s" (include "rro.fullname" $root | trunc (int (sub 62 (len $suffix))) | trimSuffix "-") $suffix }}
{{- end }}

{{/* Cluster-scoped names carry the release namespace: two releases of one name never clash. */}}
{{- define "rro.clusterName" -}}
{{- include "rro.suffixed" (list . .Release.Namespace) }}
{{- end }}

{{/*
The namespaces the operator watches, comma-separated (WATCH_NAMESPACES): watchNamespaces unset (null,
the default) is the release namespace alone; an empty list is every namespace, and gives "".
*/}}
{{- define "rro.watchNamespaces" -}}
{{- if kindIs "invalid" .Values.watchNamespaces }}{{ .Release.Namespace }}{{ else }}{{ join "," .Values.watchNamespaces }}{{ end }}
{{- end }}

{{/* The operator's permissions on the objects it manages (rbac.yaml: a Role per watched namespace, or a ClusterRole for all). */}}
{{- define "rro.rules" }}
  - apiGroups: ["redis.replication.dev"]
    resources: ["redisreplications"]
    verbs: ["list", "watch", "patch"]
  - apiGroups: ["redis.replication.dev"]
    resources: ["redisreplications/status"]
    verbs: ["patch"]
  - apiGroups: ["redis.replication.dev"]
    resources: ["redisreplications/finalizers"]
    verbs: ["update"]
  - apiGroups: ["redis.replication.dev"]
    resources: ["redisbackups"]
    # create: spec.backup.schedule; delete: spec.backup.retention.
    verbs: ["list", "watch", "create", "delete"]
  - apiGroups: ["redis.replication.dev"]
    resources: ["redisbackups/status"]
    verbs: ["patch"]
  - apiGroups: [""]
    resources: ["pods"]
    verbs: ["list", "watch", "create", "delete", "patch"]
  - apiGroups: [""]
    resources: ["services"]
    verbs: ["list", "watch", "create", "patch"]
  - apiGroups: [""]
    resources: ["persistentvolumeclaims"]
    verbs: ["list", "watch", "create", "delete", "patch"]
  - apiGroups: [""]
    resources: ["secrets"]
    # get: the auth Secret; create, patch: the resource's copy of the applied password.
    verbs: ["get", "create", "patch"]
  - apiGroups: [""]
    resources: ["events"]
    verbs: ["create", "patch"]
  - apiGroups: ["policy"]
    resources: ["poddisruptionbudgets"]
    verbs: ["create"]
  - apiGroups: ["networking.k8s.io"]
    resources: ["networkpolicies"]
    # get, update: bring an owned one back to the spec; delete: networkPolicy.enabled false.
    verbs: ["create", "get", "update", "delete"]
{{- end }}

{{/* Nodes are cluster-scoped: whether a pod's node is being drained (a ClusterRole in every case). */}}
{{- define "rro.nodeRules" }}
  - apiGroups: [""]
    resources: ["nodes"]
    verbs: ["list", "watch"]
{{- end }}
