// The browser's half of the passkey ceremonies (accounts/passkeys): the page's form carries the
// options the provider chose (`data-options`, binary fields in base64url) and whether to
// create a credential or sign with one (`data-mode`). On the button, the browser asks the
// authenticator; its answer goes back, in base64url, in the form's `credential` field.
'use strict';

(() => {
  const form = document.getElementById('passkey-form');
  const button = document.getElementById('passkey-start');
  const failed = document.getElementById('passkey-failed');
  if (!form || !button) return;

  const toBytes = (text) => {
    const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
    const padded = b64 + '='.repeat((4 - (b64.length % 4)) % 4);
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  };
  const toText = (buffer) => {
    if (!buffer) return null;
    let binary = '';
    for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte);
    return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  };
  const withIds = (list) => (list || []).map((c) => ({ ...c, id: toBytes(c.id) }));

  async function create(options) {
    const publicKey = {
      ...options.publicKey,
      challenge: toBytes(options.publicKey.challenge),
      user: { ...options.publicKey.user, id: toBytes(options.publicKey.user.id) },
      excludeCredentials: withIds(options.publicKey.excludeCredentials),
    };
    const credential = await navigator.credentials.create({ publicKey });
    const response = credential.response;
    return {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      response: {
        attestationObject: toText(response.attestationObject),
        clientDataJSON: toText(response.clientDataJSON),
        transports: response.getTransports ? response.getTransports() : undefined,
      },
      extensions: credential.getClientExtensionResults(),
    };
  }

  async function get(options) {
    const publicKey = {
      ...options.publicKey,
      challenge: toBytes(options.publicKey.challenge),
      allowCredentials: withIds(options.publicKey.allowCredentials),
    };
    const credential = await navigator.credentials.get({ publicKey });
    const response = credential.response;
    return {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      response: {
        authenticatorData: toText(response.authenticatorData),
        clientDataJSON: toText(response.clientDataJSON),
        signature: toText(response.signature),
        userHandle: toText(response.userHandle),
      },
      extensions: credential.getClientExtensionResults(),
    };
  }

  button.addEventListener('click', async () => {
    failed.hidden = true;
    button.disabled = true;
    try {
      const options = JSON.parse(form.dataset.options);
      const answer = form.dataset.mode === 'create' ? await create(options) : await get(options);
      form.elements.credential.value = JSON.stringify(answer);
      form.submit();
    } catch (error) {
      console.log(`passkey: ${error.name}: ${error.message}`);
      failed.hidden = false;
      button.disabled = false;
    }
  });
})();
