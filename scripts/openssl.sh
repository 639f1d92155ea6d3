#!/usr/bin/env bash
# The passkeys' WebAuthn library (webauthn-rs, docs/architecture.md « Passkeys ») links the
# system's OpenSSL: its headers and pkg-config must be there before cargo builds the provider.
# Sourced or run by every script that builds it; installs them once with apt-get.
if ! pkg-config --exists openssl 2>/dev/null; then
  echo "build: apt-get install libssl-dev pkg-config (OpenSSL for webauthn-rs)"
  # Package lists that are too old to know them are refreshed once.
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libssl-dev pkg-config ||
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libssl-dev pkg-config; }
fi
