"use strict";
// The login page's only script: say why the last attempt did not log in (?error=...).
(function () {
  const messages = {
    login: "Wrong name or password.",
    code: "That pairing code is wrong, used or expired.",
    wait: "Too many attempts from this device: wait a minute and try again.",
    idle: "You were logged off after 15 minutes without activity.",
    out: "You are logged out.",
  };
  const error = new URLSearchParams(window.location.search).get("error");
  const text = error && messages[error];
  if (text) {
    const box = document.getElementById("message");
    box.textContent = text;
    box.hidden = false;
  }
})();
