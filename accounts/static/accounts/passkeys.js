// Passkeys in the browser (DESIGN §17): sign in with one after the password (/login/mfa/), and register
// one on /account/. The server's options come as JSON (fido2) and answers go back as toJSON().
(function () {
  "use strict";

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function postJSON(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body || {}),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          throw new Error(data.message || "The request failed (" + response.status + ").");
        }
        return data;
      });
    });
  }

  function say(element, text) {
    if (element) { element.textContent = text; }
  }

  var signIn = document.getElementById("passkey-signin");
  if (signIn) {
    var signInError = document.getElementById("passkey-error");
    signIn.addEventListener("click", function () {
      say(signInError, "");
      signIn.disabled = true;
      postJSON(signIn.dataset.optionsUrl).then(function (data) {
        var options = PublicKeyCredential.parseRequestOptionsFromJSON(data.options.publicKey);
        return navigator.credentials.get({ publicKey: options }).then(function (credential) {
          return postJSON(signIn.dataset.verifyUrl, { credential: credential.toJSON(), state: data.state });
        });
      }).then(function (done) {
        window.location.assign(done.redirect);
      }).catch(function (error) {
        say(signInError, error.message || String(error));
        signIn.disabled = false;
      });
    });
  }

  var register = document.getElementById("passkey-register");
  if (register) {
    var registerStatus = document.getElementById("passkey-register-status");
    register.addEventListener("submit", function (event) {
      event.preventDefault();
      say(registerStatus, "");
      var name = register.querySelector("input[name=name]").value;
      postJSON(register.dataset.optionsUrl).then(function (data) {
        var options = PublicKeyCredential.parseCreationOptionsFromJSON(data.options.publicKey);
        return navigator.credentials.create({ publicKey: options }).then(function (credential) {
          return postJSON(register.dataset.registerUrl, {
            name: name, credential: credential.toJSON(), state: data.state,
          });
        });
      }).then(function (done) {
        var codes = done.recovery_codes || [];
        if (!codes.length) {
          window.location.assign(window.location.pathname + "#passkeys");
          window.location.reload();
          return;
        }
        // MFA was just turned on: the recovery codes are shown this once, in the page.
        var list = document.getElementById("passkey-recovery-codes");
        codes.forEach(function (code) {
          var item = document.createElement("li");
          var text = document.createElement("code");
          text.textContent = code;
          item.appendChild(text);
          list.appendChild(item);
        });
        document.getElementById("passkey-recovery").hidden = false;
        say(registerStatus, "Passkey added.");
      }).catch(function (error) {
        say(registerStatus, error.message || String(error));
      });
    });
  }
})();
