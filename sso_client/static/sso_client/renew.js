// Keeps a relying page's sign-in alive, so a form being filled in is not lost when the access cookie expires.
//
// The access cookie is HttpOnly and lives as long as its token (5 minutes). Shortly before it expires, this
// asks for a new one at the page's tokenUrl: in cookie mode a credentialed POST to the issuer's /session/token/,
// which renews the session from the issuer's own refresh cookie and sets a fresh access cookie (the token in the
// answer is not kept); in any-domain mode a same-origin POST to this site's /sso/refresh/, which renews from
// this site's refresh cookie server to server. Both answer {"expires_in": seconds}. If the
// moment passed unnoticed (a sleeping laptop, a throttled background tab), a form is held back until the
// renewal is done. On the page a refused form lands on (sso_client/kept_form.html), it renews and sends the
// form again.
"use strict";

(function () {
  function config(id) {
    const element = document.getElementById(id);
    return element ? JSON.parse(element.textContent) : null;
  }

  // Resolves true when the issuer renewed the cookie, false when there is no session there any more.
  function renew(tokenUrl) {
    return fetch(tokenUrl, { method: "POST", credentials: "include", mode: "cors" })
      .then((response) => (response.ok ? response.json() : null))
      .catch(() => null);
  }

  function keepAlive(session) {
    let renewAt = 0;
    let timer = null;
    let pending = null;

    function schedule(expiresIn, lifetime) {
      const delay = Math.max(0, expiresIn - lifetime * session.renewWhenLeft) * 1000;
      renewAt = Date.now() + delay;
      clearTimeout(timer);
      timer = setTimeout(renewNow, delay);
    }

    function renewNow() {
      if (pending === null) {
        pending = renew(session.tokenUrl).then((answer) => {
          pending = null;
          if (answer === null) {
            renewAt = Infinity; // signed out at the issuer: a form goes as it is and the app answers it
            return false;
          }
          schedule(answer.expires_in, answer.expires_in);
          return true;
        });
      }
      return pending;
    }

    schedule(session.expiresIn, session.lifetime);
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && Date.now() >= renewAt) {
        renewNow();
      }
    });
    // Capturing, so this runs before the browsable API's own (ajax-form.js) handlers.
    document.addEventListener(
      "submit",
      (event) => {
        if (Date.now() < renewAt) {
          return;
        }
        event.preventDefault();
        event.stopImmediatePropagation();
        const form = event.target;
        const submitter = event.submitter;
        renewNow().then(() => form.requestSubmit(submitter && submitter.form === form ? submitter : undefined));
      },
      true,
    );
  }

  function sendAgain(kept) {
    const form = document.getElementById("kept-form");
    const status = document.getElementById("kept-status");
    renew(kept.tokenUrl).then((answer) => {
      if (answer !== null) {
        status.textContent = "Signed in again; sending your form…";
        form.submit();
        return;
      }
      status.textContent = "Your sign-in could not be renewed. Your form is below.";
      document.getElementById("kept-sign-in").hidden = false;
    });
  }

  const session = config("sso-session");
  if (session !== null) {
    keepAlive(session);
  }
  const kept = config("sso-kept-form");
  if (kept !== null && kept.resubmit) {
    sendAgain(kept);
  }
})();
