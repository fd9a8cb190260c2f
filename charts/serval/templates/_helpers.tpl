{{/* Names and labels shared by every object of the chart. */}}

{{- define "serval.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "serval.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "serval.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "serval.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Selects the gateway's Service and Pods; the gateway's objects must carry these labels. */}}
{{- define "serval.gatewaySelectorLabels" -}}
app.kubernetes.io/name: {{ include "serval.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: gateway
{{- end }}

{{/* Selects the controller's Pods (and keeps the gateway's NetworkPolicy away from them). */}}
{{- define "serval.controllerSelectorLabels" -}}
app.kubernetes.io/name: {{ include "serval.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end }}

{{- define "serval.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{- define "serval.runtimeImage" -}}
{{ .Values.runtimeImage.repository }}:{{ .Values.runtimeImage.tag | default .Chart.AppVersion }}
{{- end }}

{{- define "serval.controllerServiceAccount" -}}
{{ .Values.controller.serviceAccount.name | default (printf "%s-controller" (include "serval.fullname" .)) }}
{{- end }}

{{- define "serval.gatewayServiceAccount" -}}
{{ .Values.gateway.serviceAccount.name | default (printf "%s-gateway" (include "serval.fullname" .)) }}
{{- end }}

{{- define "serval.linkKeySecret" -}}
{{ .Values.linkKey.existingSecret | default (printf "%s-link-key" (include "serval.fullname" .)) }}
{{- end }}

{{/* The gateway's link Service: environments and the controller connect here. */}}
{{- define "serval.linkHost" -}}
{{ include "serval.fullname" . }}-gateway-link.{{ .Release.Namespace }}.svc
{{- end }}

{{/* Pod and container hardening shared by the controller and the gateway. */}}
{{- define "serval.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "serval.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "serval.linkKeyEnv" -}}
- name: SERVAL_LINK_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "serval.linkKeySecret" . }}
      key: {{ .Values.linkKey.secretKey }}
{{- end }}
