"use strict";
// The review pages' only script: the log-out button (a POST with the login's CSRF token).
(function () {
  const button = document.getElementById("logout");
  if (!button) {
    return;
  }
  button.addEventListener("click", function () {
    fetch("/logout", {
      method: "POST",
      headers: { "X-CSRF-Token": button.dataset.csrf },
      credentials: "same-origin",
    }).then(function () {
      window.location.assign("/login?error=out");
    });
  });
})();
