{{- define "vpa.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "vpa.webhookName" -}}
{{- printf "%s-webhook" (include "vpa.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "vpa.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "vpa.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "vpa.webhookSelector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: webhook
{{- end -}}

{{/* Pods of this chart carry this label; the webhook's objectSelector skips them (no self-injection). */}}
{{- define "vpa.componentLabel" -}}
vault-pki-agent.io/component
{{- end -}}

{{- define "vpa.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "vpa.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end -}}

{{- define "vpa.tokenReviewerName" -}}
{{- printf "%s-token-reviewer" (include "vpa.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The bootstrap config as the Job reads it: the user's, plus the reviewer token's path when the chart makes it. */}}
{{- define "vpa.bootstrapConfig" -}}
{{- $config := deepCopy .Values.bootstrap.config -}}
{{- if .Values.bootstrap.tokenReviewer.create -}}
{{- $auth := get $config "kubernetesAuth" | default dict -}}
{{- $_ := set $auth "reviewerJwtFile" "/var/run/secrets/vault-pki-agent-reviewer/token" -}}
{{- $_ := set $config "kubernetesAuth" $auth -}}
{{- end -}}
{{- toYaml $config -}}
{{- end -}}

{{/* The bootstrap Job's identity and rights exist only while the hook runs: made just before it (weight -1) and deleted once it succeeded, so no pod can borrow them afterwards. */}}
{{- define "vpa.bootstrapHook" -}}
helm.sh/hook: post-install,post-upgrade
helm.sh/hook-weight: "-1"
helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
{{- end }}
