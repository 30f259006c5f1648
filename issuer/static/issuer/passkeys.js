/* Passkey ceremonies for the issuer's pages (no framework, no CDN: the pages allow script from this site only).
 *
 * A button with data-passkey="register" (the account page) or data-passkey="sign-in" (the sign-in and
 * second-step pages) runs one ceremony: POST for options, the browser's WebAuthn call, POST the answer. Every
 * POST carries the page's CSRF token. The options' and answers' binary fields travel as base64url. */
(function () {
  "use strict";

  function toBytes(base64url) {
    const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  }

  function toBase64url(buffer) {
    const bytes = new Uint8Array(buffer);
    let binary = "";
    for (const byte of bytes) binary += String.fromCharCode(byte);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function csrfToken(button) {
    const field = button.form ? button.form.querySelector("input[name=csrfmiddlewaretoken]") : null;
    return (field || document.querySelector("input[name=csrfmiddlewaretoken]")).value;
  }

  async function post(button, url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(button) },
      body: JSON.stringify(body),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(answer.detail || "Something went wrong. Try again.");
    return answer;
  }

  function descriptors(list) {
    return (list || []).map((item) => ({ ...item, id: toBytes(item.id) }));
  }

  function creationOptions(options) {
    return {
      ...options,
      challenge: toBytes(options.challenge),
      user: { ...options.user, id: toBytes(options.user.id) },
      excludeCredentials: descriptors(options.excludeCredentials),
    };
  }

  function requestOptions(options) {
    return { ...options, challenge: toBytes(options.challenge), allowCredentials: descriptors(options.allowCredentials) };
  }

  // The credential as JSON, with the named binary fields of its response in base64url.
  function credentialJSON(credential, fields) {
    const response = {};
    for (const name of fields) {
      const value = credential.response[name];
      response[name] = value ? toBase64url(value) : null;
    }
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: response,
    };
  }

  function registrationJSON(credential) {
    const json = credentialJSON(credential, ["clientDataJSON", "attestationObject"]);
    json.response.transports = credential.response.getTransports ? credential.response.getTransports() : [];
    return json;
  }

  function assertionJSON(credential) {
    return credentialJSON(credential, ["clientDataJSON", "authenticatorData", "signature", "userHandle"]);
  }

  async function register(button) {
    const nameField = document.getElementById(button.dataset.nameField || "passkey-name");
    const options = await post(button, button.dataset.optionsUrl, {});
    const credential = await navigator.credentials.create({ publicKey: creationOptions(options) });
    await post(button, button.dataset.verifyUrl, {
      credential: registrationJSON(credential),
      name: nameField ? nameField.value : "",
    });
    window.location.reload();
  }

  async function signIn(button) {
    const mode = button.dataset.mode;
    const options = await post(button, button.dataset.optionsUrl, { mode: mode });
    const credential = await navigator.credentials.get({ publicKey: requestOptions(options) });
    const answer = await post(button, button.dataset.verifyUrl, {
      mode: mode,
      next: button.dataset.next || "",
      credential: assertionJSON(credential),
    });
    window.location.assign(answer.redirect);
  }

  function showError(button, message) {
    const box = document.getElementById(button.dataset.errorBox || "passkey-error");
    if (box) {
      box.textContent = message;
      box.hidden = false;
    }
  }

  function start(button, ceremony) {
    // A page may load this script twice (the account page and an include): one listener per button.
    if (button.dataset.ready) return;
    button.dataset.ready = "1";
    if (!window.PublicKeyCredential) {
      button.disabled = true;
      showError(button, "This browser cannot use passkeys.");
      return;
    }
    button.addEventListener("click", (event) => {
      event.preventDefault();
      button.disabled = true;
      ceremony(button)
        .catch((error) => {
          // NotAllowedError: the person cancelled, or the authenticator timed out.
          const cancelled = error && error.name === "NotAllowedError";
          showError(button, cancelled ? "No passkey was used." : error.message);
        })
        .finally(() => {
          button.disabled = false;
        });
    });
  }

  document.querySelectorAll("[data-passkey=register]").forEach((button) => start(button, register));
  document.querySelectorAll("[data-passkey=sign-in]").forEach((button) => start(button, signIn));
})();
