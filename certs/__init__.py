"""Certificates for the webhooks: a CA and an ECDSA P-256 serving certificate (`authority`),
the files of a kubernetes.io/tls Secret (`files`), caBundle injection (`inject`)."""
